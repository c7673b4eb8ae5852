from django.contrib import admin
from django.urls import include, path

from clinic.dashboard.urls import login_urlpatterns

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.v1.urls")),
    *login_urlpatterns,
    path("", include("clinic.dashboard.urls")),
]
