"""Input validation for the dashboard. Forms check shape; services check the rules."""

import html
import zoneinfo
from collections.abc import Callable, Hashable
from functools import cache, lru_cache
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.forms.renderers import DjangoTemplates
from django.forms.utils import ErrorDict
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeData, SafeString, mark_safe

from clinic.models import Clinic, Practitioner
from patients.models import ALL_WEEKDAYS, Condition, Patient
from patients.precautions import PRECAUTION_LABELS
from programs.models import Exercise, Protocol, ProtocolPhase

WEEKDAY_CHOICES = [
    (str(bit), name) for bit, name in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
]
PRECAUTION_CHOICES = sorted(PRECAUTION_LABELS.items(), key=lambda item: item[1])


@cache
def timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones()) if "/" in name]


@cache
def _timezone_options() -> tuple[tuple[str, str], ...]:
    return tuple((name, escape(name)) for name, _ in timezone_choices())


@lru_cache(maxsize=64)
def _timezone_options_html(selected: str | None) -> str:
    """Every zone's <option>, `selected` marked; joined once per zone a form shows."""
    return "".join(
        f'<option value="{html}"{" selected" if option == selected else ""}>{html}</option>'
        for option, html in _timezone_options()
    )


def _escaped(value: Any) -> str:
    """`conditional_escape(str(value))` as the templates apply it, without its lazy checks."""
    text = str(value)
    return text if isinstance(text, SafeData) else html.escape(text)


def plain_attrs(attrs: dict[str, Any]) -> str:
    """Django's `attrs.html` as a string: `True` is a bare name, `False` is left out."""
    return "".join(
        f" {_escaped(name)}" if setting is True else f' {_escaped(name)}="{_escaped(setting)}"'
        for name, setting in attrs.items()
        if setting is not False
    )


def plain_input(widget: dict[str, Any]) -> str:
    """Django's `input.html` as a string."""
    value = widget["value"]
    shown = "" if value is None else f' value="{_escaped(value)}"'
    kind, name = _escaped(widget["type"]), _escaped(widget["name"])
    return f'<input type="{kind}" name="{name}"{shown}{plain_attrs(widget["attrs"])}>'


class PlainSelect(forms.Select):
    """A <select> whose options are joined as strings, not rendered one template each.

    For flat choices (no groups); Django's per-option templates cost ~0.3 ms an option.
    """

    def options_html(self, value: Any) -> str:
        selected = set(self.format_value(value))
        return "".join(
            f'<option value="{_escaped(option)}"'
            f"{' selected' if str(option) in selected else ''}>{_escaped(label)}</option>"
            for option, label in self.choices
        )

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer: Any = None) -> str:
        tag = f'<select name="{escape(name)}"{plain_attrs(self.build_attrs(self.attrs, attrs))}>'
        return mark_safe(f"{tag}{self.options_html(value)}</select>")  # noqa: S308 (escaped)


class TimezoneSelect(PlainSelect):
    """The ~550 time zones, their option strings escaped once per process.

    Django's per-option template rendering cost ~20 ms on every patient page.
    """

    def options_html(self, value: Any) -> str:
        return _timezone_options_html(value if isinstance(value, str) else None)

    def use_required_attribute(self, initial: Any) -> bool:
        # Django's Select checks for an empty placeholder first option, which normalises all
        # ~550 choices on every render; a zone is never one, so no "required", as Django does.
        return False


PLAIN_INPUT_TEMPLATES = frozenset(
    f"django/forms/widgets/{name}.html"
    for name in ("input", "text", "number", "email", "date", "time", "hidden", "checkbox")
)
# A checkbox or radio option rendered alone (`BoundWidget.tag()`) is its bare <input>.
PLAIN_OPTION_TEMPLATES = frozenset(
    {"django/forms/widgets/checkbox_option.html", "django/forms/widgets/radio_option.html"}
)
ERROR_LIST_TEMPLATES = frozenset(
    {"django/forms/errors/list/default.html", "django/forms/errors/list/ul.html"}
)


class PlainInputRenderer(DjangoTemplates):
    """Django's form renderer, except that <input> widgets are joined as strings and an empty
    error list is nothing.

    The same markup, without a template render per widget and per field's (empty) errors, ~0.2
    ms each: the patient page has about 40 inputs. Everything else goes through the templates.
    """

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        if template_name in ERROR_LIST_TEMPLATES and not context["errors"]:
            return ""  # what the template renders for no errors
        widget = context.get("widget", {})
        if template_name in PLAIN_INPUT_TEMPLATES or (
            template_name in PLAIN_OPTION_TEMPLATES and not widget.get("wrap_label")
        ):
            return plain_input(widget)
        return super().render(template_name, context, request)


class DashboardForm(forms.Form):
    default_renderer = PlainInputRenderer()


def fields_html(template_name: str, form: forms.Form) -> SafeString:
    """A form's fields (and their errors) as `template_name` writes them, `form` in context."""
    return render_to_string(template_name, {"form": form})


# Distinct blank forms kept per process (a few KB each: the add-exercise select is the largest).
BLANK_FORMS_KEPT = 512
_blank_fields_html: dict[tuple[str, Hashable], SafeString] = {}


def blank_fields_html(
    template_name: str, key: Hashable, build: Callable[[], forms.Form]
) -> SafeString:
    """`fields_html` of the blank form `build()` makes, rendered once per `key` in a process.

    A blank form's markup depends only on its class and on what `build` gives it — prefix,
    initial values, choices — so `key` must hold all of those; the form is built only when the
    key is new. The patient page shows eight blank forms: rendering them field by field was a
    third of its template time. Bound forms (with the user's input and errors) are never kept.
    """
    if settings.DEBUG:  # runserver reloads templates without restarting: render every time
        return fields_html(template_name, build())
    memo_key = (template_name, key)
    markup = _blank_fields_html.get(memo_key)
    if markup is None:
        if len(_blank_fields_html) >= BLANK_FORMS_KEPT:
            _blank_fields_html.clear()
        markup = _blank_fields_html[memo_key] = fields_html(template_name, build())
    return markup


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", **kwargs)


def apply_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: on its field when the form has one."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


class PractitionerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Practitioner) -> str:
        return obj.display_name


# --- overview and library filters -----------------------------------------------------------


class OverviewFilterForm(DashboardForm):
    STATUS_CHOICES = [
        ("active", "Active patients"),
        ("paused", "Program paused"),
        ("discharged", "Discharged"),
        ("all", "All patients"),
    ]
    ALERT_CHOICES = [("", "Any"), ("open", "Open alerts"), ("none", "No open alerts")]

    q = forms.CharField(
        required=False,
        max_length=100,
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or e-mail"}),
    )
    therapist = PractitionerChoiceField(
        queryset=Practitioner.objects.none(), required=False, empty_label="All therapists"
    )
    protocol = forms.ModelChoiceField(
        queryset=Protocol.objects.none(), required=False, empty_label="All protocols"
    )
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    alerts = forms.ChoiceField(choices=ALERT_CHOICES, required=False, label="Alerts")

    def __init__(self, *args: Any, clinic: Clinic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["therapist"].queryset = Practitioner.objects.filter(
            clinic=clinic
        ).select_related("user")
        self.fields["protocol"].queryset = Protocol.objects.filter(is_active=True)

    def value(self, name: str) -> Any:
        """The cleaned value of a field, or None when it was missing or invalid."""
        return (self.cleaned_data if hasattr(self, "cleaned_data") else {}).get(name) or None


class ExerciseFilterForm(DashboardForm):
    q = forms.CharField(
        required=False,
        max_length=100,
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name, instructions"}),
    )
    category = forms.ChoiceField(
        choices=[("", "All categories"), *Exercise.Category.choices], required=False
    )
    precaution = forms.ChoiceField(
        choices=[("", "Any precaution"), *PRECAUTION_CHOICES],
        required=False,
        label="Precaution",
    )
    safe = forms.BooleanField(
        required=False,
        label="Only exercises safe with this precaution",
        help_text="Unticked: show the exercises that conflict with it.",
    )

    def value(self, name: str) -> Any:
        return (self.cleaned_data if hasattr(self, "cleaned_data") else {}).get(name) or None


# --- patient record ----------------------------------------------------------------------------


class PatientForm(DashboardForm):
    first_name = forms.CharField(max_length=100)
    last_name = forms.CharField(max_length=100)
    date_of_birth = forms.DateField(required=False, widget=DateInput())
    email = forms.EmailField(required=False)
    phone = forms.CharField(max_length=32, required=False)
    therapist = PractitionerChoiceField(queryset=Practitioner.objects.none(), empty_label=None)
    condition = forms.ChoiceField(choices=Condition.choices)
    side = forms.ChoiceField(choices=Patient.Side.choices)
    surgery_date = forms.DateField(required=False, widget=DateInput())
    surgical_approach = forms.ChoiceField(choices=Patient.SurgicalApproach.choices, required=False)
    precaution_tags = forms.MultipleChoiceField(
        choices=PRECAUTION_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Precautions in force",
    )
    timezone = forms.ChoiceField(choices=timezone_choices, label="Time zone", widget=TimezoneSelect)

    def __init__(self, *args: Any, clinic: Clinic, creating: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["therapist"].queryset = Practitioner.objects.filter(
            clinic=clinic
        ).select_related("user")
        if creating:
            self.fields["precaution_tags"].help_text = (
                "Leave all unticked to apply the defaults for the condition and surgical "
                "approach (e.g. the posterior hip precautions after a posterior replacement)."
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        born, operated = data.get("date_of_birth"), data.get("surgery_date")
        if born and born > timezone.localdate():
            self.add_error("date_of_birth", "The date of birth is in the future.")
        if born and operated and operated < born:
            self.add_error("surgery_date", "The surgery date is before the date of birth.")
        return data


class ReminderForm(DashboardForm):
    reminders_enabled = forms.BooleanField(required=False, label="Send session reminders")
    reminder_time = forms.TimeField(widget=TimeInput(), label="At (patient's local time)")
    weekdays = forms.MultipleChoiceField(
        choices=WEEKDAY_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "weekday"}),
        label="On",
    )
    reminder_channel = forms.ChoiceField(choices=Patient.Channel.choices, label="Channel")
    quiet_hours_start = forms.TimeField(required=False, widget=TimeInput(), label="Quiet from")
    quiet_hours_end = forms.TimeField(required=False, widget=TimeInput(), label="Quiet until")
    timezone = forms.ChoiceField(choices=timezone_choices, label="Time zone", widget=TimezoneSelect)

    @classmethod
    def initial_for(cls, patient: Patient) -> dict[str, Any]:
        return {
            "reminders_enabled": patient.reminders_enabled,
            "reminder_time": patient.reminder_time,
            "weekdays": [str(bit) for bit in range(7) if patient.reminder_on_weekday(bit)],
            "reminder_channel": patient.reminder_channel,
            "quiet_hours_start": patient.quiet_hours_start,
            "quiet_hours_end": patient.quiet_hours_end,
            "timezone": patient.timezone,
        }

    def preferences(self) -> dict[str, Any]:
        """The cleaned data as `patient_update_reminders` keywords (weekdays as a bit mask)."""
        data = dict(self.cleaned_data)
        mask = sum(1 << int(bit) for bit in data.pop("weekdays"))
        return {**data, "reminder_weekdays": mask & ALL_WEEKDAYS}


# --- alerts and program actions ----------------------------------------------------------------


class AcknowledgeForm(DashboardForm):
    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "e.g. Called the patient"}),
        label="Note",
    )


class OnDateForm(DashboardForm):
    on_date = forms.DateField(required=False, widget=DateInput(), label="From")


class OverrideMixin(DashboardForm):
    """An explicit precaution override: a ticked box and the clinical reason."""

    allow_precaution_override = forms.BooleanField(
        required=False, label="Override the precautions for this patient"
    )
    override_reason = forms.CharField(
        required=False,
        max_length=500,
        label="Reason for the override",
        widget=forms.TextInput(attrs={"placeholder": "e.g. Cleared by the surgeon on 3 March"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("allow_precaution_override") and not data.get("override_reason", "").strip():
            self.add_error("override_reason", "Give the reason for overriding the precautions.")
        return data


class AdvancePhaseForm(OverrideMixin, OnDateForm):
    to_phase = forms.ModelChoiceField(
        queryset=ProtocolPhase.objects.none(),
        required=False,
        empty_label="The next phase",
        widget=PlainSelect,
    )

    def __init__(self, *args: Any, phases: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if phases is not None:
            self.fields["to_phase"].queryset = phases
        self.fields["to_phase"].label_from_instance = phase_label


def phase_label(phase: ProtocolPhase) -> str:
    return f"{phase.order}. {phase.name}"


class DosageForm(DashboardForm):
    sets = forms.IntegerField(min_value=1, max_value=20)
    reps = forms.IntegerField(min_value=1, max_value=100)
    hold_seconds = forms.IntegerField(min_value=0, max_value=3600, label="Hold (s)")
    notes = forms.CharField(required=False, max_length=500)


class ExerciseChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Exercise) -> str:
        return f"{obj.name} ({obj.get_category_display().lower()})"


class AddExerciseForm(OverrideMixin):
    exercise = ExerciseChoiceField(
        queryset=Exercise.objects.none(), empty_label="Choose…", widget=PlainSelect
    )
    sets = forms.IntegerField(min_value=1, max_value=20, required=False)
    reps = forms.IntegerField(min_value=1, max_value=100, required=False)
    hold_seconds = forms.IntegerField(min_value=0, max_value=3600, required=False, label="Hold (s)")

    def __init__(self, *args: Any, exercises: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["exercise"].queryset = (
            exercises if exercises is not None else Exercise.objects.filter(is_active=True)
        )
        for name in ("sets", "reps", "hold_seconds"):
            self.fields[name].widget.attrs["placeholder"] = "default"


# --- program builder -----------------------------------------------------------------------------


class PhaseChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ProtocolPhase) -> str:
        return f"{obj.order}. {obj.name}"


class PhaseSelect(forms.Select):
    """Options carry their protocol id, so a small script can show only the chosen protocol's."""

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        instance = getattr(value, "instance", None)
        if instance is not None:
            option["attrs"]["data-protocol"] = str(instance.protocol_id)
        return option


class AssignProtocolForm(OverrideMixin):
    protocol = forms.ModelChoiceField(
        queryset=Protocol.objects.filter(is_active=True), empty_label="Choose a protocol…"
    )
    phase = PhaseChoiceField(
        queryset=ProtocolPhase.objects.filter(protocol__is_active=True).order_by(
            "protocol__name", "order"
        ),
        required=False,
        empty_label="First phase",
        widget=PhaseSelect(attrs={"data-phase-for": "id_protocol"}),
        label="Start at phase",
    )
    start_date = forms.DateField(widget=DateInput())
    sessions_per_week = forms.IntegerField(
        min_value=1,
        max_value=14,
        required=False,
        help_text="Empty: the phase's plan.",
        label="Sessions a week",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        protocol, phase = data.get("protocol"), data.get("phase")
        if protocol and phase and phase.protocol_id != protocol.pk:
            self.add_error("phase", "Choose a phase of the chosen protocol.")
        return data


class CustomProgramForm(OverrideMixin):
    name = forms.CharField(max_length=160, initial="Custom program")
    start_date = forms.DateField(widget=DateInput())
    sessions_per_week = forms.IntegerField(
        min_value=1, max_value=14, initial=5, label="Sessions a week"
    )


class CustomExerciseRowForm(DashboardForm):
    """One library exercise in the custom builder: ticked to include, with its dosage."""

    include = forms.BooleanField(required=False)
    sets = forms.IntegerField(min_value=1, max_value=20)
    reps = forms.IntegerField(min_value=1, max_value=100)
    hold_seconds = forms.IntegerField(min_value=0, max_value=3600)

    def __init__(self, *args: Any, exercise: Exercise, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "sets": exercise.default_sets,
                "reps": exercise.default_reps,
                "hold_seconds": exercise.default_hold_seconds,
            },
        )
        super().__init__(*args, prefix=f"ex-{exercise.pk}", **kwargs)
        self.exercise = exercise
        for name in ("sets", "reps", "hold_seconds"):
            self.fields[name].widget.attrs.update({"class": "num", "aria-label": name})
        self.fields["include"].widget.attrs["aria-label"] = f"Include {exercise.name}"

    def full_clean(self) -> None:
        super().full_clean()
        # Dosage only matters for the ticked rows.
        if self.is_bound and not self.cleaned_data.get("include"):
            self._errors = ErrorDict()
