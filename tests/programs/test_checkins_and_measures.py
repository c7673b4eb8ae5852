import datetime as dt
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from patients import instruments, red_flags
from patients.models import CheckIn, MeasureResponse
from programs import alerts, services
from programs.models import Alert
from tests import factories

pytestmark = pytest.mark.django_db


def hoos_jr(raw: int) -> dict[str, int]:
    """Six HOOS JR answers summing to `raw` (0–24)."""
    answers, left = {}, raw
    for n in range(1, 7):
        answers[f"q{n}"] = min(4, left)
        left -= answers[f"q{n}"]
    return answers


def lefs(total: int) -> dict[str, int]:
    answers, left = {}, total
    for n in range(1, 21):
        answers[f"q{n}"] = min(4, left)
        left -= answers[f"q{n}"]
    return answers


def submit(patient, instrument: str, answers: dict, days_ago: int = 0, **fields):
    measure, _ = services.measure_submit(
        patient=patient,
        instrument=instrument,
        answers=answers,
        taken_at=timezone.now() - dt.timedelta(days=days_ago),
        **fields,
    )
    return measure


# --- the red-flag catalogue ----------------------------------------------------------------------


def test_the_catalogue_covers_the_clinical_red_flags():
    keys = set(red_flags.QUESTIONS_BY_KEY)

    assert {
        "chest_pain_or_breathless",
        "calf_swelling",
        "fever_wound",
        "dislocation_signs",
        "saddle_numbness",
        "bladder_bowel_change",
        "progressive_weakness",
        "night_pain_weight_loss",
        "side_back_pain",
    } <= keys
    assert red_flags.QUESTIONS_BY_KEY["chest_pain_or_breathless"].urgency == "emergency"
    assert red_flags.QUESTIONS_BY_KEY["calf_swelling"].urgency == "urgent"
    assert red_flags.QUESTIONS_BY_KEY["side_back_pain"].urgency == "review"


def test_the_advice_says_plainly_whom_to_call():
    assert "emergency services" in red_flags.advice_for("emergency")
    assert "clinic" in red_flags.advice_for("urgent")
    assert "today" in red_flags.advice_for("urgent")
    assert "emergency" not in red_flags.advice_for(None)


def test_validate_answers_reports_each_bad_key():
    with pytest.raises(ValidationError) as caught:
        red_flags.validate_answers({"calf_swelling": "yes", "made_up": True, "fever_wound": False})

    assert set(caught.value.message_dict) == {"answers.calf_swelling", "answers.made_up"}


def test_red_flags_in_orders_the_most_pressing_first():
    flags = red_flags.red_flags_in(
        {
            "side_back_pain": True,
            "calf_swelling": True,
            "saddle_numbness": True,
            "fever_wound": False,
        }
    )

    assert [f.key for f in flags] == ["saddle_numbness", "calf_swelling", "side_back_pain"]
    assert red_flags.highest_urgency(flags) == "emergency"


# --- checkin_record ------------------------------------------------------------------------------


def test_a_check_in_without_red_flags_opens_no_alert(patient):
    result = services.checkin_record(
        patient=patient, pain_now=3, answers={"calf_swelling": False, "fever_wound": False}
    )

    assert result.created
    assert result.urgency is None
    assert result.red_flags == []
    assert result.advice == red_flags.NO_RED_FLAG_ADVICE
    assert result.checkin.red_flags == []
    assert not Alert.objects.exists()


def test_a_red_flag_is_stored_and_opens_an_urgent_alert(patient):
    result = services.checkin_record(
        patient=patient,
        pain_now=6,
        answers={"calf_swelling": True, "side_back_pain": True, "fever_wound": False},
        notes="Calf swollen since this morning.",
    )

    checkin = CheckIn.objects.get()
    alert = Alert.objects.get(patient=patient)
    assert checkin.red_flags == ["calf_swelling", "side_back_pain"]
    assert checkin.urgency == "urgent"
    assert result.urgency == "urgent"
    assert result.advice == red_flags.URGENT_ADVICE
    assert (alert.kind, alert.severity) == (Alert.Kind.RED_FLAG, Alert.Severity.URGENT)
    assert alert.clinic_id == patient.clinic_id
    assert alert.details["checkin_id"] == checkin.pk
    assert alert.details["red_flags"] == ["calf_swelling", "side_back_pain"]
    assert result.alert_id == alert.pk


def test_an_emergency_answer_gets_emergency_advice(patient):
    result = services.checkin_record(
        patient=patient, pain_now=8, answers={"chest_pain_or_breathless": True}
    )

    assert result.urgency == "emergency"
    assert "emergency services" in result.advice


def test_a_retried_check_in_is_stored_once_and_alerts_once(patient):
    client_id = uuid.uuid4()
    first = services.checkin_record(
        patient=patient, pain_now=5, answers={"fever_wound": True}, client_id=client_id
    )

    retried = services.checkin_record(
        patient=patient, pain_now=5, answers={"fever_wound": True}, client_id=client_id
    )

    assert first.created
    assert not retried.created
    assert retried.checkin.pk == first.checkin.pk
    assert retried.urgency == "urgent"
    assert retried.advice == first.advice
    assert CheckIn.objects.count() == 1
    assert Alert.objects.count() == 1


def test_a_new_red_flag_updates_the_open_alert_instead_of_being_lost(patient, therapist):
    services.checkin_record(patient=patient, pain_now=4, answers={"side_back_pain": True})

    second = services.checkin_record(
        patient=patient, pain_now=8, answers={"chest_pain_or_breathless": True}
    )

    alert = Alert.objects.get(patient=patient, kind=Alert.Kind.RED_FLAG)
    assert alert.details["checkin_id"] == second.checkin.pk
    assert alert.details["urgency"] == "emergency"
    assert "chest pain" in alert.message
    alerts.alert_acknowledge(alert=alert, by=therapist.user)
    services.checkin_record(patient=patient, pain_now=8, answers={"calf_swelling": True})
    assert Alert.objects.filter(patient=patient, kind=Alert.Kind.RED_FLAG).count() == 2


@pytest.mark.parametrize(
    ("pain_now", "answers", "field"),
    [
        (11, {}, "pain_now"),
        (-1, {}, "pain_now"),
        (True, {}, "pain_now"),
        (3, {"unknown_question": True}, "answers.unknown_question"),
        (3, {"calf_swelling": "yes"}, "answers.calf_swelling"),
        (3, ["calf_swelling"], "answers"),
    ],
)
def test_invalid_check_ins_are_refused_and_nothing_is_stored(patient, pain_now, answers, field):
    with pytest.raises(ValidationError) as caught:
        services.checkin_record(patient=patient, pain_now=pain_now, answers=answers)

    assert field in caught.value.message_dict
    assert not CheckIn.objects.exists()
    assert not Alert.objects.exists()


# --- measure_submit ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [0, 1, 7, 12, 24])
def test_hoos_jr_is_scored_by_the_conversion_table(patient, raw):
    measure = submit(patient, "hoos_jr", hoos_jr(raw))

    assert float(measure.raw_score) == raw
    assert float(measure.score) == pytest.approx(instruments.HOOS_JR_INTERVAL_SCORES[raw])
    assert measure.instrument_version == instruments.INSTRUMENT_VERSION["hoos_jr"]


def test_psfs_is_the_mean_of_the_ratings(patient):
    measure = submit(
        patient,
        "psfs",
        {
            "activities": [
                {"name": "Stairs", "rating": 4},
                {"name": "Socks", "rating": 5},
                {"name": "Walking", "rating": 5},
            ]
        },
    )

    assert float(measure.score) == pytest.approx(4.67)


def test_invalid_answers_raise_field_keyed_errors(patient):
    answers = hoos_jr(6)
    answers["q3"] = 7
    del answers["q5"]

    with pytest.raises(ValidationError) as caught:
        services.measure_submit(patient=patient, instrument="hoos_jr", answers=answers)

    assert set(caught.value.message_dict) == {"answers.q3", "answers.q5"}
    assert not MeasureResponse.objects.exists()


@pytest.mark.parametrize(
    ("instrument", "answers", "field"),
    [
        ("oxford_hip", {"q1": 1}, "instrument"),
        ("nprs", ["pain", 3], "answers"),
        ("psfs", {"activities": [{"name": "", "rating": 11}]}, "answers.activities"),
    ],
)
def test_other_invalid_submissions(patient, instrument, answers, field):
    with pytest.raises(ValidationError) as caught:
        services.measure_submit(patient=patient, instrument=instrument, answers=answers)

    assert field in caught.value.message_dict


def test_taken_at_must_be_aware_and_not_in_the_future(patient):
    with pytest.raises(ValidationError, match="offset"):
        services.measure_submit(
            patient=patient,
            instrument="nprs",
            answers={"pain": 3},
            taken_at=dt.datetime(2025, 1, 1),
        )
    with pytest.raises(ValidationError, match="future"):
        services.measure_submit(
            patient=patient,
            instrument="nprs",
            answers={"pain": 3},
            taken_at=timezone.now() + dt.timedelta(hours=1),
        )


def test_a_retried_submission_returns_the_stored_response(patient):
    client_id = uuid.uuid4()
    first, created = services.measure_submit(
        patient=patient, instrument="nprs", answers={"pain": 3}, client_id=client_id
    )

    again, created_again = services.measure_submit(
        patient=patient, instrument="nprs", answers={"pain": 9}, client_id=client_id
    )

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert float(again.score) == 3
    assert MeasureResponse.objects.count() == 1


def test_submitting_enqueues_the_score_decline_check_after_commit(
    patient, django_capture_on_commit_callbacks
):
    submit(patient, "hoos_jr", hoos_jr(2), days_ago=20)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        submit(patient, "hoos_jr", hoos_jr(10))

    assert len(factories.task_callbacks(callbacks)) == 1
    alert = Alert.objects.get(patient=patient)
    assert (alert.kind, alert.severity) == (Alert.Kind.SCORE_DECLINE, Alert.Severity.WARNING)


# --- alerts_evaluate_measure ---------------------------------------------------------------------


def test_a_decline_by_the_mcid_from_the_first_score_opens_an_alert(patient):
    submit(patient, "lefs", lefs(50), days_ago=30)
    latest = submit(patient, "lefs", lefs(41))

    assert alerts.alerts_evaluate_measure(measure_id=latest.pk) == [Alert.Kind.SCORE_DECLINE]
    alert = Alert.objects.get()
    assert alert.details["first_score"] == 50
    assert alert.details["score"] == 41


def test_a_decline_smaller_than_the_mcid_opens_nothing(patient):
    submit(patient, "lefs", lefs(50), days_ago=30)
    latest = submit(patient, "lefs", lefs(42))

    assert alerts.alerts_evaluate_measure(measure_id=latest.pk) == []
    assert not Alert.objects.exists()


def test_a_decline_from_the_previous_score_opens_an_alert_even_above_the_first(patient):
    submit(patient, "lefs", lefs(30), days_ago=30)
    submit(patient, "lefs", lefs(60), days_ago=15)
    latest = submit(patient, "lefs", lefs(50))

    assert alerts.alerts_evaluate_measure(measure_id=latest.pk) == [Alert.Kind.SCORE_DECLINE]
    assert Alert.objects.get().details["previous_score"] == 60


def test_for_pain_a_rise_is_the_decline(patient):
    submit(patient, "nprs", {"pain": 3}, days_ago=10)
    better = submit(patient, "nprs", {"pain": 1}, days_ago=5)
    worse = submit(patient, "nprs", {"pain": 5})

    assert alerts.alerts_evaluate_measure(measure_id=better.pk) == []
    assert alerts.alerts_evaluate_measure(measure_id=worse.pk) == [Alert.Kind.SCORE_DECLINE]


def test_instruments_are_compared_only_with_themselves(patient):
    submit(patient, "lefs", lefs(70), days_ago=10)
    first_hoos = submit(patient, "hoos_jr", hoos_jr(0))

    assert alerts.alerts_evaluate_measure(measure_id=first_hoos.pk) == []


def test_an_open_score_decline_alert_is_not_duplicated(patient):
    submit(patient, "lefs", lefs(60), days_ago=20)
    one = submit(patient, "lefs", lefs(40), days_ago=10)
    two = submit(patient, "lefs", lefs(20))

    assert alerts.alerts_evaluate_measure(measure_id=one.pk) == [Alert.Kind.SCORE_DECLINE]
    assert alerts.alerts_evaluate_measure(measure_id=two.pk) == []
    assert Alert.objects.count() == 1


def test_a_missing_measure_is_ignored():
    assert alerts.alerts_evaluate_measure(measure_id=987654) == []
