"""plotly.js comes from our own origin: found in the plotly package, served and collected."""

from pathlib import Path

from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.templatetags.static import static

from clinic.dashboard.staticfiles import PLOTLY_JS_STATIC_PATH, PlotlyJsFinder


def test_the_finder_finds_plotly_js_in_the_plotly_package():
    path = finders.find(PLOTLY_JS_STATIC_PATH)
    assert path is not None
    assert Path(path).name == "plotly.min.js"
    assert Path(path).stat().st_size > 1_000_000
    assert finders.find(PLOTLY_JS_STATIC_PATH, find_all=True) == [path]
    assert PlotlyJsFinder().find("vendor/plotly/other.js") is None
    assert PlotlyJsFinder().check() == []


def test_plotly_js_is_served_from_our_static_url(client):
    response = client.get(static(PLOTLY_JS_STATIC_PATH))
    assert response.status_code == 200
    assert "javascript" in response["Content-Type"]


def test_collectstatic_copies_plotly_js(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", interactive=False, verbosity=0)
    assert (tmp_path / PLOTLY_JS_STATIC_PATH).stat().st_size > 1_000_000
    assert (tmp_path / "js" / "charts.js").exists()
