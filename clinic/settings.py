"""Stride settings: one module, read from the environment through django-environ.

With no environment at all this is the embedded default: SQLite in the project folder,
Celery tasks run in-process, local-memory cache, console e-mail. DATABASE_URL and REDIS_URL
switch to PostgreSQL and Redis.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if env.bool("STRIDE_READ_DOT_ENV", default=True) and (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment "
            "(or DEBUG=true for a local, insecure development key)."
        )
    SECRET_KEY = "insecure-embedded-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
TIME_ZONE = "UTC"
USE_TZ = True
LANGUAGE_CODE = "en-us"
USE_I18N = True
ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# APPS
# ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "axes",
    "django_celery_beat",
    "csp",
    "auditlog",
    "clinic",
    "patients",
    "programs",
    "api",
]

MIDDLEWARE = [
    "clinic.request_context.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    "clinic.audit.AuditMiddleware",
    "clinic.audit.RouteAuditMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# DATABASES
# ------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'stride.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Persistent connections: opening a PostgreSQL connection per request costs more than a
# whole indexed insert.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
USING_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")
# A few hot hand-written statements run prepared (clinic/prepared.py). psycopg prepares a
# statement once it ran this many times or when asked to: a count no statement reaches leaves
# Django's own queries unprepared (they are client-bound anyway) and lets those few ask.
# Turn off behind a transaction-mode pooler that cannot keep prepared statements.
STRIDE_PREPARED_STATEMENTS = env.bool("STRIDE_PREPARED_STATEMENTS", default=True)
if USING_POSTGRES and STRIDE_PREPARED_STATEMENTS:
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 2**31 - 1

# CACHES
# ------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "clinic.cache.SharedClientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "stride",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# AUTHENTICATION
# ------------------------------------------------------------------------------
# StaffModelBackend is ModelBackend loading the session user's practitioner with it (sessions
# stored under ModelBackend's path before it log in again once).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "clinic.accounts.StaffModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:overview"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 60 * 60)

AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True

# STATIC
# ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    # plotly.js straight from the installed plotly package (no CDN, no vendored copy).
    "clinic.dashboard.staticfiles.PlotlyJsFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_STORAGE",
            default="django.contrib.staticfiles.storage.StaticFilesStorage",
        )
    },
}
WHITENOISE_USE_FINDERS = True

# EMAIL
# ------------------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Stride <no-reply@stride.local>")

# CELERY
# ------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
# With acks_late, a message a dead worker took comes back after the visibility timeout (the
# dispatcher also re-enqueues stuck reminders, see STRIDE_REMINDER_REQUEUE_AFTER_MINUTES).
# Kombu sweeps for such messages every interval × throttle seconds. Tests shorten all three.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# On a lost broker connection, let running sends finish: their acks fail and the messages come
# back after the visibility timeout, where the row's claim makes them no-ops. Cancelling them
# (Celery 6's default) would leave rows "sending" until their lease runs out.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Queues: `reminders` (one message per batch of reminders to send), `alerts`, `default`
# (dispatch, digests).
STRIDE_REMINDER_QUEUE = env.str("STRIDE_REMINDER_QUEUE", default="reminders")
CELERY_TASK_ROUTES = {
    "programs.tasks.send_reminders_task": {"queue": STRIDE_REMINDER_QUEUE},
    "programs.tasks.send_reminder_task": {"queue": STRIDE_REMINDER_QUEUE},
    "programs.tasks.evaluate_session_alerts_task": {"queue": "alerts"},
    "programs.tasks.evaluate_measure_alerts_task": {"queue": "alerts"},
    "programs.tasks.sweep_alerts_task": {"queue": "alerts"},
    "programs.tasks.dispatch_due_reminders_task": {"queue": "default"},
    "programs.tasks.send_therapist_digests_task": {"queue": "default"},
    "programs.tasks.send_therapist_digest_task": {"queue": "default"},
}
# Beat writes these into django-celery-beat's tables on start; edit them in the admin after.
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-reminders": {
        "task": "programs.tasks.dispatch_due_reminders_task",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 4 * 60},
    },
    "weekly-therapist-digest": {
        "task": "programs.tasks.send_therapist_digests_task",
        "schedule": crontab(minute=0, hour=7, day_of_week="mon"),
    },
    # Time-based alert rules (inactive, low adherence); idempotent, so a rerun is harmless.
    "nightly-alert-sweep": {
        "task": "programs.tasks.sweep_alerts_task",
        "schedule": crontab(minute=30, hour=2),
    },
}

# REMINDERS
# ------------------------------------------------------------------------------
# Which delivery backend serves each patient channel: console, email, webhook, recording, or a
# dotted path to a class with `send(reminder, message)`. E.g. "email=email,sms=webhook,push=webhook"
STRIDE_REMINDER_CHANNELS = env.dict(
    "STRIDE_REMINDER_CHANNELS", default={"email": "email", "sms": "console", "push": "console"}
)
# The SMS/push provider bridge: Stride POSTs JSON signed with HMAC-SHA256 of the body.
STRIDE_REMINDER_WEBHOOK_URL = env.str("STRIDE_REMINDER_WEBHOOK_URL", default="")
STRIDE_REMINDER_WEBHOOK_SECRET = env.str("STRIDE_REMINDER_WEBHOOK_SECRET", default="")
STRIDE_REMINDER_WEBHOOK_TIMEOUT = env.float("STRIDE_REMINDER_WEBHOOK_TIMEOUT", default=10.0)
if "webhook" in STRIDE_REMINDER_CHANNELS.values() and not (
    STRIDE_REMINDER_WEBHOOK_URL and STRIDE_REMINDER_WEBHOOK_SECRET
):
    raise ImproperlyConfigured(
        "STRIDE_REMINDER_CHANNELS uses the webhook channel: set STRIDE_REMINDER_WEBHOOK_URL "
        "and STRIDE_REMINDER_WEBHOOK_SECRET."
    )
# The recording channel (tests, benchmarks): one file per delivery in this folder; an optional
# delay per send makes a worker kill land mid-send.
STRIDE_REMINDER_RECORD_DIR = env.str("STRIDE_REMINDER_RECORD_DIR", default="")
STRIDE_REMINDER_RECORD_DELAY = env.float("STRIDE_REMINDER_RECORD_DELAY", default=0.0)
STRIDE_REMINDER_DISPATCH_EVERY_MINUTES = 5  # matches the beat schedule above
# Patients per dispatch transaction: 5,000 (~150 ms a batch) rather than 2,000 halves the
# per-batch planning, commit and publishing overhead (100,000 due: ~8.7 s -> ~7.5 s here).
STRIDE_REMINDER_BATCH_SIZE = env.int("STRIDE_REMINDER_BATCH_SIZE", default=5000)
# Reminders per send message: one claim, a few queries and one Celery message per batch.
STRIDE_REMINDER_SEND_BATCH_SIZE = env.int("STRIDE_REMINDER_SEND_BATCH_SIZE", default=200)
# Hard time limit of one send batch; a claim ("sending") older than this plus a margin is
# abandoned.
STRIDE_REMINDER_SEND_TIME_LIMIT = env.int("STRIDE_REMINDER_SEND_TIME_LIMIT", default=60)
STRIDE_REMINDER_MAX_ATTEMPTS = env.int("STRIDE_REMINDER_MAX_ATTEMPTS", default=6)
# Pending/sending rows older than this are enqueued again by the next dispatch (lost messages).
STRIDE_REMINDER_REQUEUE_AFTER_MINUTES = env.int("STRIDE_REMINDER_REQUEUE_AFTER_MINUTES", default=15)
# The missed-session nudge (clinics that enable it) goes out in this local morning window.
STRIDE_MISSED_NUDGE_FROM = env.str("STRIDE_MISSED_NUDGE_FROM", default="09:00")
STRIDE_MISSED_NUDGE_UNTIL = env.str("STRIDE_MISSED_NUDGE_UNTIL", default="12:00")

# REST FRAMEWORK
# ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.CallerJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.CursorPagination",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "PAGE_SIZE": 50,
    # Named scopes (api/throttles.py): credentials per client IP, writes per caller.
    "DEFAULT_THROTTLE_RATES": {
        "login": env.str("THROTTLE_LOGIN", default="10/min"),
        "claim": env.str("THROTTLE_CLAIM", default="10/hour"),
        "session_write": env.str("THROTTLE_SESSION_WRITE", default="60/min"),
        "sync": env.str("THROTTLE_SYNC", default="12/min"),
        "write": env.str("THROTTLE_WRITE", default="120/min"),
    },
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=30)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Stride API",
    "DESCRIPTION": "Home-exercise progress tracking for physical therapists.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name per choice set that several components share (else generated, unstable names).
    "ENUM_NAME_OVERRIDES": {
        "PatientStatusEnum": "patients.models.Patient.Status",
        "PrescriptionStatusEnum": "programs.models.Prescription.Status",
        "PainDirectionEnum": ["improving", "worsening", "stable"],
    },
}

# CORS
# ------------------------------------------------------------------------------
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])

# STRIDE
# ------------------------------------------------------------------------------
STRIDE_INVITE_TTL_DAYS = env.int("STRIDE_INVITE_TTL_DAYS", default=14)
# How long the answer to an upload is kept for retries with the same client_id (clinic/answers.py);
# 0 turns the shortcut off (the database still answers retries).
STRIDE_RETRY_ANSWER_SECONDS = env.int("STRIDE_RETRY_ANSWER_SECONDS", default=3600)
# Keep the patient list's rows in the cache until the patient's data changes
# (programs/row_cache.py); off, every page computes its rows. On by default only with Redis:
# the in-process cache is not shared, so another process's writes could not reach its rows.
STRIDE_LIST_ROW_CACHE = env.bool("STRIDE_LIST_ROW_CACHE", default=bool(REDIS_URL))

# SECURITY
# ------------------------------------------------------------------------------
# Behind a TLS-terminating proxy set STRIDE_HTTPS=true (docker-compose does): SSL redirect,
# secure cookies and HSTS. `manage.py check --deploy` runs clean with it in CI.
STRIDE_HTTPS = env.bool("STRIDE_HTTPS", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = STRIDE_HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = STRIDE_HTTPS
CSRF_COOKIE_SECURE = STRIDE_HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if STRIDE_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = STRIDE_HTTPS
SECURE_HSTS_PRELOAD = STRIDE_HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Request bodies above this are refused (the API answers 413 in the error shape).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)
# Our own static files only (plotly.js is served from our static files, never a CDN).
# Plotly injects its own <style> rules, hence 'unsafe-inline' for styles only.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/admin/"],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# AUDIT
# ------------------------------------------------------------------------------
# Reads and writes of patient data through the API and the dashboard go to our append-only
# `clinic.AuditEvent` (clinic/audit.py). django-auditlog adds field-level change history for
# every ORM write (admin included). Personal and free-text fields are left out of that history
# so an erasure leaves nothing behind in it.
AUDITLOG_INCLUDE_TRACKING_MODELS = (
    "clinic.Clinic",
    "clinic.Practitioner",
    {
        "model": "patients.Patient",
        "exclude_fields": [
            "first_name", "last_name", "date_of_birth", "email", "phone", "invite_code",
            "updated_at",
        ],
    },
    {"model": "programs.Prescription", "exclude_fields": ["updated_at"]},
    {"model": "programs.PrescribedExercise", "exclude_fields": ["notes", "override_reason"]},
    {"model": "programs.Alert", "exclude_fields": ["acknowledgement_note"]},
    "programs.Exercise",
    "programs.Protocol",
    "programs.ProtocolPhase",
    "programs.ProtocolExercise",
)  # fmt: skip

# LOGGING
# ------------------------------------------------------------------------------
# One JSON object per line with the request id (set LOG_FORMAT=plain for a terminal).
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if not DEBUG else "plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "clinic.request_context.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
