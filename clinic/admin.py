from django.contrib import admin

from .models import Clinic, Practitioner


class PractitionerInline(admin.TabularInline):
    model = Practitioner
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "timezone", "adherence_on_track", "adherence_alert_below"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [PractitionerInline]


@admin.register(Practitioner)
class PractitionerAdmin(admin.ModelAdmin):
    list_display = ["__str__", "clinic", "role", "title"]
    list_filter = ["clinic", "role"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "user__email"]
    list_select_related = ["user", "clinic"]
    autocomplete_fields = ["user", "clinic"]
