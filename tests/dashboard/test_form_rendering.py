"""The dashboard's string-joined widgets write the markup Django's templates write."""

import datetime as dt
import re

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates

from clinic.dashboard.forms import (
    AddExerciseForm,
    AdvancePhaseForm,
    DosageForm,
    OnDateForm,
    PlainInputRenderer,
    PlainSelect,
    ReminderForm,
    blank_fields_html,
    fields_html,
)
from clinic.dashboard.views.patient import DOSAGE_FIELDS
from programs.models import Exercise

DJANGO = DjangoTemplates()
FORMS = {
    "dosage, initial": lambda: DosageForm(
        initial={"sets": 3, "reps": 10, "hold_seconds": 0, "notes": 'Slow "&" <steady>'},
        prefix="dosage-5",
    ),
    "dosage, invalid": lambda: DosageForm(
        data={"dosage-5-sets": "<x>", "dosage-5-reps": "", "dosage-5-hold_seconds": "3"},
        prefix="dosage-5",
    ),
    "reminders, initial": lambda: ReminderForm(
        initial={
            "reminders_enabled": True,
            "reminder_time": dt.time(8, 30),
            "weekdays": ["0", "2"],
            "reminder_channel": "email",
            "timezone": "Europe/Paris",
        }
    ),
    "reminders, invalid": lambda: ReminderForm(data={"reminder_time": "soon", "weekdays": ["9"]}),
    "on date": OnDateForm,
    "advance, invalid": lambda: AdvancePhaseForm(
        data={"on_date": "yesterday", "allow_precaution_override": "on"}
    ),
}


@pytest.mark.parametrize("name", FORMS)
def test_inputs_and_errors_render_as_with_djangos_templates(name):
    ours, django = FORMS[name](), FORMS[name]()
    django.renderer = DJANGO
    assert isinstance(ours.renderer, PlainInputRenderer)
    for field in ours.fields:
        if isinstance(ours.fields[field].widget, forms.Select):
            continue  # selects: below
        assert str(ours[field]) == str(django[field])
        assert str(ours[field].errors) == str(django[field].errors)
        for our_box, django_box in zip(ours[field], django[field], strict=True):
            assert our_box.tag() == django_box.tag()


def options(html: str) -> list[tuple[str, bool, str]]:
    return [
        (value, bool(selected), label.strip())
        for value, selected, label in re.findall(
            r'<option value="([^"]*)"( selected)?[^>]*>([^<]*)</option>', html
        )
    ]


@pytest.mark.django_db
def test_plain_select_offers_what_djangos_select_offers():
    class Plain(forms.Form):
        exercise = forms.ModelChoiceField(Exercise.objects.order_by("name"), widget=PlainSelect)

    class Standard(forms.Form):
        exercise = forms.ModelChoiceField(Exercise.objects.order_by("name"))

    chosen = Exercise.objects.order_by("name")[3]
    for data in (None, {"exercise": str(chosen.pk)}):
        ours, django = str(Plain(data)["exercise"]), str(Standard(data)["exercise"])
        assert len(options(ours)) == Exercise.objects.count() + 1
        assert options(ours) == options(django)
        assert ours.split(">")[0] == django.split(">")[0]  # <select name=… id=… required>


@pytest.mark.django_db
def test_add_exercise_select_escapes_names():
    Exercise.objects.create(slug="x", name='Bridge <b>"hold"</b>', category="strength")
    html = str(AddExerciseForm()["exercise"])
    assert "Bridge &lt;b&gt;&quot;hold&quot;&lt;/b&gt;" in html
    assert "<b>" not in html


def test_time_zone_select_offers_what_djangos_select_offers():
    ours = ReminderForm(initial={"timezone": "Europe/Paris"})
    django = ReminderForm(initial={"timezone": "Europe/Paris"})
    django.fields["timezone"].widget = forms.Select(choices=django.fields["timezone"].choices)
    django.renderer = DJANGO
    ours_html, django_html = str(ours["timezone"]), str(django["timezone"])
    assert options(ours_html) == options(django_html)
    assert [label for _, selected, label in options(ours_html) if selected] == ["Europe/Paris"]
    assert ours_html.split(">")[0] == django_html.split(">")[0]


def test_a_blank_forms_markup_is_rendered_once_per_content():
    built: list[dict] = []

    def dosage(initial: dict) -> DosageForm:
        built.append(initial)
        return DosageForm(initial=initial, prefix="dosage-7")

    first = {"sets": 3, "reps": 10, "hold_seconds": 0, "notes": "Slow <b>"}
    second = {**first, "reps": 12}
    markup = blank_fields_html(DOSAGE_FIELDS, tuple(first.values()), lambda: dosage(first))
    again = blank_fields_html(DOSAGE_FIELDS, tuple(first.values()), lambda: dosage(first))
    changed = blank_fields_html(DOSAGE_FIELDS, tuple(second.values()), lambda: dosage(second))
    assert built == [first, second]  # the same content is not rendered twice
    assert (
        again == markup == fields_html(DOSAGE_FIELDS, DosageForm(initial=first, prefix="dosage-7"))
    )
    assert 'name="dosage-7-reps" value="10"' in markup
    assert 'name="dosage-7-reps" value="12"' in changed
    assert "Slow &lt;b&gt;" in markup
