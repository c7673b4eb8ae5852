"""The baseline: the least Django + DRF can do for each Stride request it stands against."""

import datetime as dt
import os
import time

import plotly.graph_objects as go
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import generics, permissions, serializers

from .models import BareRow

LIST_SIZE = 50


class BareRowSerializer(serializers.ModelSerializer):
    class Meta:
        model = BareRow
        fields = ["id", "owner_id", "value", "label", "created_at"]
        read_only_fields = ["id", "created_at"]


class BareCreate(generics.CreateAPIView):
    """POST one row (the baseline for a session upload)."""

    serializer_class = BareRowSerializer
    authentication_classes = []
    permission_classes = [permissions.AllowAny]


class BareList(generics.ListAPIView):
    """50 rows of one owner, newest first, over the (owner_id, -id) index."""

    serializer_class = BareRowSerializer
    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    pagination_class = None

    def get_queryset(self):
        owner_id = int(self.request.query_params.get("owner", "1"))
        return BareRow.objects.filter(owner_id=owner_id).order_by("-id")[:LIST_SIZE]


START = dt.date(2025, 1, 1)
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Bare chart</title>
<script src="/static/bench/plotly.min.js"></script></head><body>{chart}</body></html>"""


def bare_chart(request: HttpRequest) -> HttpResponse:
    """One Plotly line chart of 365 daily points, as HTML (the dashboard page's baseline)."""
    days = [START + dt.timedelta(days=n) for n in range(365)]
    values = [round(5 + 3 * ((n * 37) % 11) / 11, 2) for n in range(365)]
    figure = go.Figure(go.Scatter(x=days, y=values, mode="lines+markers", name="pain"))
    figure.update_layout(title="Pain", height=320, margin={"l": 40, "r": 10, "t": 40, "b": 30})
    chart = figure.to_html(full_html=False, include_plotlyjs=False)
    return HttpResponse(PAGE.format(chart=chart))


def worker_pid(request: HttpRequest) -> JsonResponse:
    """Which gunicorn worker answered: the runner waits until every worker has.

    It holds the worker for a moment so that concurrent calls spread over the workers.
    """
    time.sleep(0.2)
    return JsonResponse({"pid": os.getpid()})
