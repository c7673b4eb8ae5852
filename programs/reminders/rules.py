"""The pure rules of reminders: local clocks, due times, quiet hours, fatigue (no database)."""

import datetime as dt
import zoneinfo
from dataclasses import dataclass


class SkipReason:
    QUIET_HOURS = "quiet_hours"
    FATIGUE = "fatigue"
    PAUSED = "paused"
    LOGGED = "logged"  # a session was logged between dispatch and send
    EXPIRED = "expired"  # the patient's local day ended before the send
    DISABLED = "disabled"
    DISCHARGED = "discharged"


@dataclass(frozen=True)
class LocalClock:
    day: dt.date
    time: dt.time  # wall clock, no tzinfo

    @property
    def weekday(self) -> int:
        return self.day.weekday()


def local_clock(zone_name: str, now: dt.datetime) -> LocalClock:
    local = now.astimezone(zoneinfo.ZoneInfo(zone_name))
    return LocalClock(day=local.date(), time=local.time())


def due_cutoff(clock: LocalClock, every: dt.timedelta) -> dt.time:
    """Reminder times up to this are due: now, or the rest of the day at the day's last run."""
    if (dt.datetime.combine(clock.day, clock.time) + every).date() != clock.day:
        return dt.time.max
    return clock.time


def in_quiet_hours(moment: dt.time, start: dt.time | None, end: dt.time | None) -> bool:
    """Whether a wall-clock time falls in [start, end); a range may cross midnight."""
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


@dataclass(frozen=True)
class FatigueDecision:
    skip: bool
    open_alert: bool


def fatigue_decision(*, ignored: int, limit: int, last_was_fatigue_skip: bool) -> FatigueDecision:
    """After `limit` reminders in a row with no session, remind every other planned day.

    `ignored` counts sent session reminders since the patient's last logged session. Once it
    reaches the limit, days alternate: skip after a sent reminder, send after a skipped one. The
    first skip of a streak asks for the therapist's `inactive` alert.
    """
    if limit <= 0 or ignored < limit or last_was_fatigue_skip:
        return FatigueDecision(skip=False, open_alert=False)
    return FatigueDecision(skip=True, open_alert=ignored == limit)
