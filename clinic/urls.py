from django.contrib import admin
from django.urls import include, path

from clinic.dashboard.urls import login_urlpatterns
from clinic.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.v1.urls")),
    *login_urlpatterns,
    path("", include("clinic.dashboard.urls")),
]
