"""Red-flag questions of the symptom check-in, in plain words for the patient.

Any "yes" opens an urgent alert for the clinic; the most pressing answer decides what the
patient is told to do right now. Pure Python: no database.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from django.core.exceptions import ValidationError

Urgency = Literal["emergency", "urgent", "review"]

EMERGENCY: Urgency = "emergency"
URGENT: Urgency = "urgent"
REVIEW: Urgency = "review"

# Most pressing first: the response reports the highest urgency among the "yes" answers.
URGENCY_ORDER: tuple[Urgency, ...] = (EMERGENCY, URGENT, REVIEW)

EMERGENCY_ADVICE = (
    "Call emergency services now (911 in the US and Canada, 999 in the UK, 112 in Europe) "
    "or have someone take you to the nearest emergency department. Do not wait for your "
    "therapist to reply, and stop your exercises."
)
URGENT_ADVICE = (
    "Contact your clinic or your surgeon's office today. If you cannot reach them today, "
    "see an urgent-care doctor. Pause your exercises until someone has checked you. If it "
    "gets quickly worse, call emergency services."
)
REVIEW_ADVICE = (
    "Mention this to your therapist at your next contact, or message the clinic if it "
    "worries you. You can keep doing your exercises if they do not make it worse."
)
NO_RED_FLAG_ADVICE = (
    "Thank you. Nothing you told us needs urgent attention. Keep going with your plan and "
    "tell your therapist if anything changes."
)

ADVICE: dict[Urgency, str] = {
    EMERGENCY: EMERGENCY_ADVICE,
    URGENT: URGENT_ADVICE,
    REVIEW: REVIEW_ADVICE,
}


@dataclass(frozen=True)
class RedFlagQuestion:
    key: str
    text: str
    urgency: Urgency
    advice: str


def _question(key: str, text: str, urgency: Urgency) -> RedFlagQuestion:
    return RedFlagQuestion(key=key, text=text, urgency=urgency, advice=ADVICE[urgency])


QUESTIONS: tuple[RedFlagQuestion, ...] = (
    _question(
        "chest_pain_or_breathless",
        "Do you have new chest pain, or are you suddenly short of breath?",
        EMERGENCY,
    ),
    _question(
        "dislocation_signs",
        "Did you have sudden severe hip pain, and does your leg now look shorter or turned, "
        "or can you not move it?",
        EMERGENCY,
    ),
    _question(
        "saddle_numbness",
        "Is there numbness or a 'pins and needles' feeling between your legs or around your "
        "bottom (the area that touches a saddle)?",
        EMERGENCY,
    ),
    _question(
        "bladder_bowel_change",
        "Have you started having trouble controlling, or noticing, your bladder or bowels?",
        EMERGENCY,
    ),
    _question(
        "progressive_weakness",
        "Is one or both of your legs getting weaker day by day, or giving way?",
        EMERGENCY,
    ),
    _question(
        "calf_swelling",
        "Is your calf or thigh painful, swollen, warm or red, and it does not settle with rest?",
        URGENT,
    ),
    _question(
        "fever_wound",
        "Do you have a temperature over 38 °C (100.4 °F), or is your wound getting redder, "
        "spreading, leaking or smelling?",
        URGENT,
    ),
    _question(
        "night_pain_weight_loss",
        "Are you losing weight without trying, or does severe pain wake you at night and not "
        "ease when you change position?",
        URGENT,
    ),
    _question(
        "fall_or_injury",
        "Have you had a fall or an injury that made your pain much worse?",
        URGENT,
    ),
    _question(
        "cannot_bear_weight",
        "Can you no longer put weight on your leg when you could before?",
        URGENT,
    ),
    _question(
        "side_back_pain",
        "Is your pain mostly at the side of your lower back, just under the ribs, rather than "
        "in your hip or groin?",
        REVIEW,
    ),
)

QUESTIONS_BY_KEY: dict[str, RedFlagQuestion] = {question.key: question for question in QUESTIONS}


def validate_answers(answers: object) -> None:
    """Answers are {question key: true/false}; unknown keys and non-booleans are refused.

    Questions left out count as "no": an app may show only the questions that apply.
    Raises django's ValidationError keyed by question.
    """
    if not isinstance(answers, Mapping):
        raise ValidationError({"answers": ["Answers must be an object of question: true/false."]})
    errors: dict[str, list[str]] = {}
    for key, value in answers.items():
        if key not in QUESTIONS_BY_KEY:
            errors[f"answers.{key}"] = ["This is not one of the check-in questions."]
        elif not isinstance(value, bool):
            errors[f"answers.{key}"] = ["Answer true (yes) or false (no)."]
    if errors:
        raise ValidationError(errors)


def red_flags_in(answers: Mapping[str, Any]) -> list[RedFlagQuestion]:
    """The questions answered yes, most pressing first (catalogue order within an urgency)."""
    flagged = [question for question in QUESTIONS if answers.get(question.key) is True]
    return sorted(flagged, key=lambda question: URGENCY_ORDER.index(question.urgency))


def highest_urgency(flags: Iterable[RedFlagQuestion]) -> Urgency | None:
    urgencies = {flag.urgency for flag in flags}
    return next((urgency for urgency in URGENCY_ORDER if urgency in urgencies), None)


def advice_for(urgency: Urgency | None) -> str:
    return ADVICE[urgency] if urgency else NO_RED_FLAG_ADVICE


def questions_as_list() -> list[dict[str, str]]:
    """The catalogue for the API (what the app shows)."""
    return [
        {"key": q.key, "text": q.text, "urgency": q.urgency, "advice": q.advice} for q in QUESTIONS
    ]
