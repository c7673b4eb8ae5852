import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from . import instruments
from .models import MeasureResponse, Patient


@dataclass(frozen=True)
class MeasurePoint:
    taken_at: dt.datetime
    score: float
    measure_id: int


@dataclass(frozen=True)
class MeasureSeries:
    instrument: str
    name: str
    higher_is_better: bool
    mcid: float
    score_min: float
    score_max: float
    pass_threshold: float | None
    points: list[MeasurePoint] = field(default_factory=list)

    @property
    def baseline(self) -> float | None:
        return self.points[0].score if self.points else None

    @property
    def latest(self) -> float | None:
        return self.points[-1].score if self.points else None

    @property
    def change(self) -> instruments.ScoreChange | None:
        if len(self.points) < 2:
            return None
        return instruments.score_change(
            self.instrument, self.points[0].score, self.points[-1].score
        )


def measure_series(patient: Patient) -> list[MeasureSeries]:
    """The patient's outcome scores over time, one series per instrument, in one query."""
    points: dict[str, list[MeasurePoint]] = defaultdict(list)
    for measure_id, code, score, taken_at in (
        MeasureResponse.objects.filter(patient=patient)
        .order_by("taken_at", "id")
        .values_list("id", "instrument", "score", "taken_at")
    ):
        points[code].append(
            MeasurePoint(taken_at=taken_at, score=float(score), measure_id=measure_id)
        )
    series = []
    for code, code_points in points.items():
        definition = instruments.get_instrument(code)
        series.append(
            MeasureSeries(
                instrument=code,
                name=definition.name,
                higher_is_better=definition.higher_is_better,
                mcid=definition.mcid,
                score_min=definition.score_min,
                score_max=definition.score_max,
                pass_threshold=definition.pass_threshold,
                points=code_points,
            )
        )
    return sorted(series, key=lambda item: item.instrument)


def latest_measure(patient: Patient, instrument: str) -> MeasureResponse | None:
    return patient.measures.filter(instrument=instrument).order_by("-taken_at", "-id").first()
