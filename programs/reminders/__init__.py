"""Reminders: who is due now on their own clock, the rules that hold one back, and the send.

Dispatch (`dispatch_due_reminders`, from beat every few minutes) reads each distinct patient time
zone once, computes its local date, time and weekday in Python, and lets SQL find, in keyset
batches, the patients whose reminder time has passed today on a reminder weekday, who have an
open program, have not logged a session today and have no reminder row for today. A batch costs
a fixed number of queries whatever its size: one select, one bulk insert, one re-select.

Planned days. A program with 7 or more sessions a week plans every day; with fewer there is no
day-level plan, so the patient's reminder weekdays are taken as the planned days. Either way a
reminder goes out only on a reminder weekday, so the weekday mask decides; "every other planned
day" (fatigue) counts reminder rows, which exist only on those days.

Rows, not messages, are the source of truth. Each (patient, kind, local date) has one row
(unique key); concurrent dispatchers insert with `ignore_conflicts` and each enqueues only the
rows carrying its own `dispatch_id`. Quiet hours, a paused program and fatigue are recorded as
skipped rows with a reason, so the patient is not reconsidered that day.

Sending (`reminders_send`, one Celery message per batch of ids) claims the batch with one
conditional UPDATE … RETURNING (pending → sending, or a "sending" row whose lease ran out), so one
sender at a time holds each row and a sent row is never sent again. Each claim increments the
row's `attempts`, the sender's fencing token for every later write. The lease is the task's hard
time limit plus a margin, measured on the database clock: after it, the holder is certainly dead,
and the message redelivered by `acks_late` + `reject_on_worker_lost` (or re-enqueued by the next
dispatch) may claim the row again. The batch is loaded with its send-time checks and content in
a fixed number of queries; each reminder's outcome is recorded right after its send, alone, so
one failure neither fails nor re-sends the others. `reminder_send` is a batch of one.
"""

from .claims import send_lease
from .dispatch import DispatchResult, dispatch_due_reminders
from .rules import (
    FatigueDecision,
    LocalClock,
    SkipReason,
    due_cutoff,
    fatigue_decision,
    in_quiet_hours,
    local_clock,
)
from .sending import (
    BatchSendResult,
    ReminderBusy,
    reminder_content,
    reminder_send,
    reminders_send,
)

__all__ = [
    "BatchSendResult",
    "DispatchResult",
    "FatigueDecision",
    "LocalClock",
    "ReminderBusy",
    "SkipReason",
    "dispatch_due_reminders",
    "due_cutoff",
    "fatigue_decision",
    "in_quiet_hours",
    "local_clock",
    "reminder_content",
    "reminder_send",
    "reminders_send",
    "send_lease",
]
