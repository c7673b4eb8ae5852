"""The exercise library and the protocol templates, read-only."""

from django.db.models import Prefetch, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from patients.precautions import PRECAUTION_LABELS
from programs.models import Exercise, Protocol, ProtocolExercise, ProtocolPhase

from ..access import StaffRequest, practitioner_required
from ..forms import ExerciseFilterForm


@require_GET
@practitioner_required
def exercise_library(request: StaffRequest) -> HttpResponse:
    form = ExerciseFilterForm(request.GET)
    form.is_valid()
    exercises = Exercise.objects.filter(is_active=True).order_by("category", "name")
    if category := form.value("category"):
        exercises = exercises.filter(category=category)
    for term in (form.value("q") or "").split()[:5]:
        exercises = exercises.filter(
            Q(name__icontains=term) | Q(instructions__icontains=term) | Q(equipment__icontains=term)
        )
    listed = list(exercises)
    if precaution := form.value("precaution"):
        # Tags are a JSON list, and SQLite has no JSON containment: the library is small
        # (about fifty exercises), so filter in Python.
        safe = bool(form.value("safe"))
        listed = [e for e in listed if (precaution in e.precaution_tags) != safe]
    return render(
        request,
        "dashboard/exercises.html",
        {
            "form": form,
            "exercises": listed,
            "precaution_labels": PRECAUTION_LABELS,
            "categories": Exercise.Category.choices,
        },
    )


@require_GET
@practitioner_required
def protocol_list(request: StaffRequest) -> HttpResponse:
    protocols = Protocol.objects.filter(is_active=True).prefetch_related(
        Prefetch("phases", queryset=ProtocolPhase.objects.order_by("order"))
    )
    return render(request, "dashboard/protocols.html", {"protocols": protocols})


@require_GET
@practitioner_required
def protocol_detail(request: StaffRequest, slug: str) -> HttpResponse:
    protocol = get_object_or_404(
        Protocol.objects.prefetch_related(
            Prefetch(
                "phases",
                queryset=ProtocolPhase.objects.order_by("order").prefetch_related(
                    Prefetch(
                        "exercises",
                        queryset=ProtocolExercise.objects.select_related("exercise").order_by(
                            "order", "id"
                        ),
                    )
                ),
            )
        ),
        slug=slug,
        is_active=True,
    )
    return render(
        request,
        "dashboard/protocol_detail.html",
        {"protocol": protocol, "precaution_labels": PRECAUTION_LABELS},
    )
