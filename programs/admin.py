from django.contrib import admin

from clinic.audit import AuditedAdminMixin

from .models import (
    Alert,
    Exercise,
    ExerciseLog,
    PrescribedExercise,
    Prescription,
    PrescriptionPeriod,
    Protocol,
    ProtocolExercise,
    ProtocolPhase,
    Reminder,
    SessionLog,
)


@admin.register(Exercise)
class ExerciseAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "category",
        "default_sets",
        "default_reps",
        "default_hold_seconds",
        "per_side",
        "equipment",
        "is_active",
    ]
    list_filter = ["category", "per_side", "is_active"]
    search_fields = ["name", "slug", "instructions", "equipment"]
    prepopulated_fields = {"slug": ["name"]}


class ProtocolPhaseInline(admin.StackedInline):
    model = ProtocolPhase
    extra = 0
    show_change_link = True
    fields = [
        ("order", "name"),
        ("start_week", "end_week", "sessions_per_week"),
        "goals",
        "precautions",
        "precaution_tags",
        ("min_weeks", "max_pain", "pain_lookback_sessions", "min_adherence"),
        ("outcome_instrument", "outcome_min_score"),
    ]


@admin.register(Protocol)
class ProtocolAdmin(admin.ModelAdmin):
    list_display = ["name", "condition", "is_active"]
    list_filter = ["condition", "is_active"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ProtocolPhaseInline]


class ProtocolExerciseInline(admin.TabularInline):
    model = ProtocolExercise
    extra = 0
    autocomplete_fields = ["exercise"]


@admin.register(ProtocolPhase)
class ProtocolPhaseAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "start_week",
        "end_week",
        "sessions_per_week",
        "min_weeks",
        "max_pain",
        "min_adherence",
    ]
    list_filter = ["protocol"]
    search_fields = ["name", "protocol__name"]
    list_select_related = ["protocol"]
    inlines = [ProtocolExerciseInline]


class PrescribedExerciseInline(admin.TabularInline):
    model = PrescribedExercise
    extra = 0
    autocomplete_fields = ["exercise"]
    fields = [
        "exercise",
        "order",
        "sets",
        "reps",
        "hold_seconds",
        "active",
        "precaution_override",
        "override_reason",
        "notes",
    ]


class PrescriptionPeriodInline(admin.TabularInline):
    model = PrescriptionPeriod
    extra = 0
    readonly_fields = ["kind", "phase", "sessions_per_week", "started_on", "ended_on"]
    can_delete = False


@admin.register(Prescription)
class PrescriptionAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_object_type = "prescription"
    list_display = [
        "name",
        "patient",
        "prescriber",
        "current_phase",
        "status",
        "start_date",
        "sessions_per_week",
    ]
    list_filter = ["status", "protocol", "patient__clinic"]
    search_fields = ["name", "patient__first_name", "patient__last_name"]
    list_select_related = ["patient", "prescriber__user", "current_phase__protocol"]
    autocomplete_fields = ["patient", "prescriber", "protocol"]
    readonly_fields = ["current_phase", "phase_started_on", "paused_on", "completed_on"]
    inlines = [PrescribedExerciseInline, PrescriptionPeriodInline]


class ExerciseLogInline(admin.TabularInline):
    model = ExerciseLog
    extra = 0
    raw_id_fields = ["prescribed_exercise"]


@admin.register(SessionLog)
class SessionLogAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_object_type = "session"
    list_display = [
        "patient",
        "local_date",
        "performed_at",
        "pain_before",
        "pain_after",
        "difficulty",
        "duration_minutes",
        "source",
    ]
    list_filter = ["source", "patient__clinic"]
    search_fields = ["patient__first_name", "patient__last_name", "client_id"]
    list_select_related = ["patient"]
    raw_id_fields = ["patient", "prescription", "phase"]
    readonly_fields = ["client_id", "local_date", "created_at"]
    date_hierarchy = "performed_at"
    inlines = [ExerciseLogInline]


@admin.register(Alert)
class AlertAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_object_type = "alert"
    list_display = ["patient", "kind", "severity", "message", "opened_at", "acknowledged_at"]
    list_filter = ["kind", "severity", "clinic", ("acknowledged_at", admin.EmptyFieldListFilter)]
    search_fields = ["patient__first_name", "patient__last_name", "message"]
    list_select_related = ["patient"]
    raw_id_fields = ["patient", "clinic", "acknowledged_by"]
    date_hierarchy = "opened_at"


@admin.register(Reminder)
class ReminderAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_object_type = "reminder"
    list_display = ["patient", "kind", "local_date", "channel", "status", "attempts", "sent_at"]
    list_filter = ["status", "kind", "channel"]
    search_fields = ["patient__first_name", "patient__last_name"]
    list_select_related = ["patient"]
    raw_id_fields = ["patient"]
    readonly_fields = ["attempts", "last_error", "sent_at", "created_at"]
    date_hierarchy = "local_date"
