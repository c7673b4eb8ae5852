from django.contrib import admin

from clinic.audit import AuditedAdminMixin

from .models import CheckIn, MeasureResponse, Patient


class MeasureResponseInline(admin.TabularInline):
    model = MeasureResponse
    extra = 0
    fields = ["instrument", "score", "raw_score", "taken_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Patient)
class PatientAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_object_type = "patient"
    audit_patient_field = "pk"
    list_display = [
        "full_name",
        "clinic",
        "therapist",
        "condition",
        "side",
        "status",
        "reminders_enabled",
    ]
    list_filter = ["clinic", "status", "condition", "side", "reminder_channel", "therapist"]
    search_fields = ["first_name", "last_name", "email", "invite_code"]
    list_select_related = ["clinic", "therapist__user"]
    autocomplete_fields = ["clinic", "therapist", "user"]
    readonly_fields = ["invite_code", "invite_expires_at", "invite_claimed_at", "created_at"]
    inlines = [MeasureResponseInline]
    fieldsets = [
        (None, {"fields": ["clinic", "therapist", "user", "status", "discharged_at"]}),
        ("Person", {"fields": ["first_name", "last_name", "date_of_birth", "email", "phone"]}),
        (
            "Clinical",
            {
                "fields": [
                    "condition",
                    "side",
                    "surgery_date",
                    "surgical_approach",
                    "precaution_tags",
                ]
            },
        ),
        (
            "Reminders",
            {
                "fields": [
                    "timezone",
                    "reminders_enabled",
                    "reminder_time",
                    "reminder_weekdays",
                    "reminder_channel",
                    "quiet_hours_start",
                    "quiet_hours_end",
                ]
            },
        ),
        (
            "Alert thresholds (empty = clinic setting)",
            {"fields": ["adherence_alert_below", "inactive_after_days", "pain_spike_absolute"]},
        ),
        ("Invite", {"fields": ["invite_code", "invite_expires_at", "invite_claimed_at"]}),
    ]


@admin.register(MeasureResponse)
class MeasureResponseAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_object_type = "measure"
    list_display = ["patient", "instrument", "score", "raw_score", "taken_at"]
    list_filter = ["instrument", "patient__clinic"]
    search_fields = ["patient__first_name", "patient__last_name"]
    list_select_related = ["patient"]
    autocomplete_fields = ["patient", "recorded_by"]
    date_hierarchy = "taken_at"


@admin.register(CheckIn)
class CheckInAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_object_type = "checkin"
    list_display = ["patient", "pain_now", "urgency", "created_at"]
    list_filter = ["urgency", "patient__clinic"]
    search_fields = ["patient__first_name", "patient__last_name"]
    list_select_related = ["patient"]
    autocomplete_fields = ["patient"]
    date_hierarchy = "created_at"
