from django.urls import path

from . import views

urlpatterns = [
    path("rows/", views.BareCreate.as_view(), name="bare-create"),
    path("rows/list/", views.BareList.as_view(), name="bare-list"),
    path("chart/", views.bare_chart, name="bare-chart"),
    path("pid/", views.worker_pid, name="bare-pid"),
]
