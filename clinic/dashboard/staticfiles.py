"""Serve plotly.js from the installed `plotly` package as a static file of our own origin.

The package ships `plotly.min.js` (~4.8 MB); copying it into the repository would pin a
second copy that drifts from the Python package. This finder exposes it as
`vendor/plotly/plotly.min.js`: `runserver`, the test live server and WhiteNoise (with
`WHITENOISE_USE_FINDERS`) serve it through the finder, and `collectstatic` copies it into
STATIC_ROOT like any other static file.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import CheckMessage, Error
from django.core.files.storage import FileSystemStorage

PLOTLY_JS_DIR = Path(plotly.__file__).resolve().parent / "package_data"
PLOTLY_JS_NAME = "plotly.min.js"
PLOTLY_JS_PREFIX = "vendor/plotly"
PLOTLY_JS_STATIC_PATH = f"{PLOTLY_JS_PREFIX}/{PLOTLY_JS_NAME}"


class PlotlyJsFinder(BaseFinder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=PLOTLY_JS_DIR)
        # collectstatic and WhiteNoise place a storage's files under its `prefix`.
        self.storage.prefix = PLOTLY_JS_PREFIX  # type: ignore[attr-defined]

    def check(self, **kwargs: Any) -> list[CheckMessage]:
        if not (PLOTLY_JS_DIR / PLOTLY_JS_NAME).is_file():
            return [
                Error(
                    f"{PLOTLY_JS_DIR / PLOTLY_JS_NAME} is missing: the dashboard charts need it.",
                    hint="Reinstall the plotly package.",
                    id="stride.E001",
                )
            ]
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> str | list[str] | None:
        find_all = find_all or kwargs.get("all", False)
        if path != PLOTLY_JS_STATIC_PATH:
            return [] if find_all else None
        match = str(PLOTLY_JS_DIR / PLOTLY_JS_NAME)
        return [match] if find_all else match

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, FileSystemStorage]]:
        yield PLOTLY_JS_NAME, self.storage
