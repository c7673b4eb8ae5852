from django.urls import include, path

from clinic.urls import urlpatterns as stride_urlpatterns

urlpatterns = [path("bench/bare/", include("bench.bare.urls")), *stride_urlpatterns]
