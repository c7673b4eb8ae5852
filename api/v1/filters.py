"""django-filter filter sets of the v1 API (query parameters only; no business rules)."""

import datetime as dt

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Exists, OuterRef, Q, QuerySet
from django_filters import rest_framework as django_filters

from patients.models import Condition, Patient
from patients.precautions import PRECAUTION_LABELS
from programs.models import Alert, Exercise, Prescription, Protocol
from programs.selectors import OPEN_STATUSES

PRECAUTION_CHOICES = sorted(PRECAUTION_LABELS.items())
# Dates a client may filter on: wide enough for any real history, narrow enough that no date
# arithmetic near the calendar's ends can overflow.
EARLIEST_FILTER_DATE = dt.date(1900, 1, 1)
LATEST_FILTER_DATE = dt.date(2999, 12, 31)


class BoundedDateFilter(django_filters.DateFilter):
    """A date filter that answers 400 for dates outside 1900–2999 instead of overflowing."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra["validators"] = [
            MinValueValidator(EARLIEST_FILTER_DATE),
            MaxValueValidator(LATEST_FILTER_DATE),
        ]


class LocalDateRangeFilterSet(django_filters.FilterSet):
    """`date_from` / `date_to`: inclusive bounds on a local date field named by `date_field`."""

    date_field = "local_date"

    date_from = BoundedDateFilter(
        method="filter_date_from", label="On or after this date (the patient's local date)."
    )
    date_to = BoundedDateFilter(
        method="filter_date_to", label="On or before this date (the patient's local date)."
    )

    def filter_date_from(self, queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        return queryset.filter(**{f"{self.date_field}__gte": value})

    def filter_date_to(self, queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        return queryset.filter(**{f"{self.date_field}__lte": value})


class SessionFilter(LocalDateRangeFilterSet):
    """Sessions by the patient's local date."""

    date_field = "local_date"


class MeasureFilter(LocalDateRangeFilterSet):
    date_field = "taken_at__date"

    instrument = django_filters.CharFilter(label="Instrument code, e.g. hoos_jr.")


class CheckInFilter(LocalDateRangeFilterSet):
    date_field = "created_at__date"


class PatientFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", label="Part of the name.")
    therapist = django_filters.NumberFilter(
        field_name="therapist_id", label="Primary therapist (practitioner id)."
    )
    status = django_filters.ChoiceFilter(choices=Patient.Status.choices)
    condition = django_filters.ChoiceFilter(choices=Condition.choices)
    protocol = django_filters.CharFilter(
        method="filter_protocol", label="Has an open program on this protocol (slug or id)."
    )
    has_open_alerts = django_filters.BooleanFilter(
        method="filter_has_open_alerts", label="Has (true) or has no (false) open alert."
    )

    class Meta:
        model = Patient
        fields = ["search", "therapist", "status", "condition", "protocol", "has_open_alerts"]

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        for word in value.split()[:5]:
            queryset = queryset.filter(Q(first_name__icontains=word) | Q(last_name__icontains=word))
        return queryset

    def filter_protocol(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        lookup = Q(protocol__slug=value)
        if value.isdigit() and len(value) < 19:
            lookup |= Q(protocol_id=int(value))
        return queryset.filter(
            Exists(
                Prescription.objects.filter(
                    lookup, patient_id=OuterRef("pk"), status__in=OPEN_STATUSES
                )
            )
        )

    def filter_has_open_alerts(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        open_alerts = Exists(
            Alert.objects.filter(patient_id=OuterRef("pk"), acknowledged_at__isnull=True)
        )
        return queryset.filter(open_alerts if value else ~open_alerts)


class AlertFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Alert.Kind.choices)
    severity = django_filters.ChoiceFilter(choices=Alert.Severity.choices)
    open = django_filters.BooleanFilter(
        field_name="acknowledged_at",
        lookup_expr="isnull",
        label="Open (true: not yet acknowledged) or acknowledged (false).",
    )
    patient = django_filters.NumberFilter(field_name="patient_id", label="Patient id.")

    class Meta:
        model = Alert
        fields = ["kind", "severity", "open", "patient"]


class ExerciseFilter(django_filters.FilterSet):
    category = django_filters.ChoiceFilter(choices=Exercise.Category.choices)
    precaution = django_filters.ChoiceFilter(
        choices=PRECAUTION_CHOICES,
        method="filter_precaution",
        label="Exercises that conflict with this precaution.",
    )
    without_precaution = django_filters.MultipleChoiceFilter(
        choices=PRECAUTION_CHOICES,
        method="filter_without_precaution",
        label="Exercises that conflict with none of these precautions.",
    )
    search = django_filters.CharFilter(method="filter_search", label="Part of the name or slug.")

    class Meta:
        model = Exercise
        fields = ["category", "precaution", "without_precaution", "search"]

    @staticmethod
    def _conflicts_with(tag: str) -> Q:
        # Tags come from a closed vocabulary, so the quoted tag in the JSON text is an exact
        # element match on SQLite and PostgreSQL alike (JSON `contains` is PostgreSQL-only).
        return Q(precaution_tags__icontains=f'"{tag}"')

    def filter_precaution(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(self._conflicts_with(value))

    def filter_without_precaution(
        self, queryset: QuerySet, name: str, value: list[str]
    ) -> QuerySet:
        for tag in value:
            queryset = queryset.exclude(self._conflicts_with(tag))
        return queryset

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(name__icontains=value) | Q(slug__icontains=value))


class ProtocolFilter(django_filters.FilterSet):
    condition = django_filters.ChoiceFilter(choices=Condition.choices)
    slug = django_filters.CharFilter()
    search = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Protocol
        fields = ["condition", "slug", "search"]
