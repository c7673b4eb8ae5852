"""Bench-only settings: production plus the bare baseline app. Production never loads this.

The bare app runs in the same gunicorn workers, behind the same middleware, as Stride: an A/B
pair differs only in what the view does.
"""

from datetime import timedelta

from clinic.settings import *  # noqa: F403
from clinic.settings import INSTALLED_APPS, SIMPLE_JWT

INSTALLED_APPS = [*INSTALLED_APPS, "bench.bare"]
ROOT_URLCONF = "bench.urls"

# Tokens are minted once per run; a run takes longer than the production 15 minutes.
SIMPLE_JWT = {**SIMPLE_JWT, "ACCESS_TOKEN_LIFETIME": timedelta(hours=2)}
