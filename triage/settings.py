"""Settings: everything from the environment (django-environ), with embedded laptop defaults.

`make run` needs no configuration at all: SQLite, Celery's filesystem broker and the offline model.
With DJANGO_DEBUG off, secrets have no defaults and a missing one stops the start-up.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env.read_env(BASE_DIR / ".env")  # optional; a missing file is fine

DEBUG = env.bool("DJANGO_DEBUG", default=True)
VAR_DIR = Path(env.str("TRIAGE_VAR_DIR", default=str(BASE_DIR / "var")))

if DEBUG:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="dev-only-insecure-key-change-me")
else:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY")  # required in production: no default on purpose

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "triage.apps.TriageConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "triage.urls"
WSGI_APPLICATION = "triage.wsgi.application"

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
                "triage.views.system_health.spend_cap_banner",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'triage.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the web process read while a worker writes; the timeout rides out short write locks.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "triage:review-queue"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Uploads: Django spools anything over this to a temp file, so big recordings never sit in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("TRIAGE_MAX_FILES_PER_TICKET", default=20)

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "PIL": {"level": "WARNING"},
        # the filesystem transport has no host; kombu warns about that on every connection
        "kombu.connection": {"level": "ERROR"},
    },
}

# --- Celery -------------------------------------------------------------------------------
# The embedded default is kombu's filesystem transport: no broker server, works between the
# web process and a separate worker process on one machine. Production sets redis://.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
BROKER_DIR = Path(env.str("TRIAGE_BROKER_DIR", default=str(VAR_DIR / "broker")))
if CELERY_BROKER_URL.startswith("filesystem"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # default is 1 s between polls; 0.1 s keeps upload-to-triaged snappy at negligible CPU
        "polling_interval": 0.1,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # must exceed the longest task so a slow ffmpeg or model call is not redelivered mid-run
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_S", default=3600),
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "media"
CELERY_TASK_ROUTES = {
    "triage.tasks.attachment_process_task": {"queue": "media"},
    "triage.tasks.ticket_triage_task": {"queue": "llm"},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# A prefork child that grew past this (KiB) is replaced after its task: a leak or a freak file
# cannot keep a worker big. The largest image we accept peaks well under it (bench/media.py).
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env.int("TRIAGE_WORKER_MAX_MEMORY_MB", default=1024) * 1024
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Media ----------------------------------------------------------------------------------
TRIAGE_MAX_IMAGE_BYTES = env.int("TRIAGE_MAX_IMAGE_BYTES", default=25 * 1024 * 1024)
TRIAGE_MAX_VIDEO_BYTES = env.int("TRIAGE_MAX_VIDEO_BYTES", default=200 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024  # non-file form fields only
# Kimi's vision encoder downsizes anything over 16,384 patches of 14x14 px (kimi-api.md §2):
# more pixels only cost upload time, so this is the normalized size we send.
TRIAGE_IMAGE_MAX_PIXELS = env.int("TRIAGE_IMAGE_MAX_PIXELS", default=16384 * 14 * 14)
TRIAGE_IMAGE_MAX_SIDE = env.int("TRIAGE_IMAGE_MAX_SIDE", default=4096)
# Decompression-bomb guard on what we accept (source pixels).
TRIAGE_SOURCE_MAX_PIXELS = env.int("TRIAGE_SOURCE_MAX_PIXELS", default=60_000_000)
TRIAGE_VIDEO_FRAMES = env.int("TRIAGE_VIDEO_FRAMES", default=8)
TRIAGE_VIDEO_MAX_DURATION_S = env.int("TRIAGE_VIDEO_MAX_DURATION_S", default=1800)
TRIAGE_FRAME_MAX_SIDE = env.int("TRIAGE_FRAME_MAX_SIDE", default=1280)
TRIAGE_FFMPEG_TIMEOUT_S = env.int("TRIAGE_FFMPEG_TIMEOUT_S", default=120)
# How frames are picked from a recording: even | scene | dedup (falls back to even when the
# installed sampler does not know the strategy).
TRIAGE_VIDEO_STRATEGY = env.str("TRIAGE_VIDEO_STRATEGY", default="even")
# Estimated model tokens the media of one ticket may cost (tokens.py). Images cannot be cut (~4.2K
# each at most); the recordings share what the images leave and get, within their share: the video
# itself (Kimi, short clips), separate frames, or a storyboard. The default holds three full-size
# screenshots plus eight 1280x720 frames (~1.2K each).
TRIAGE_MEDIA_TOKEN_BUDGET = env.int("TRIAGE_MEDIA_TOKEN_BUDGET", default=30000)
# What the model gets for a recording: auto | frames | storyboard | native (see pipeline.py).
TRIAGE_VIDEO_REPRESENTATION = env.str("TRIAGE_VIDEO_REPRESENTATION", default="auto")
# The video sent as itself: at most this tall and this many frames per second (Kimi samples 2/s).
TRIAGE_NATIVE_VIDEO_MAX_HEIGHT = env.int("TRIAGE_NATIVE_VIDEO_MAX_HEIGHT", default=1080)
TRIAGE_NATIVE_VIDEO_FPS = env.float("TRIAGE_NATIVE_VIDEO_FPS", default=2.0)

# --- Triage provider ----------------------------------------------------------------------------
TRIAGE_PROVIDER = env.str("TRIAGE_PROVIDER", default="local")  # local | kimi
KIMI_API_KEY = env.str("KIMI_API_KEY", default="")
KIMI_BASE_URL = env.str("KIMI_BASE_URL", default="https://api.moonshot.ai/v1")
KIMI_MODEL = env.str("KIMI_MODEL", default="kimi-k2.6")
KIMI_TIMEOUT_S = env.float("KIMI_TIMEOUT_S", default=300.0)
KIMI_MAX_RETRIES = env.int("KIMI_MAX_RETRIES", default=3)
KIMI_MAX_COMPLETION_TOKENS = env.int("KIMI_MAX_COMPLETION_TOKENS", default=4096)
# A video up to this size goes inline as base64; a larger one is uploaded (files API, ms://<id>)
# and deleted after the call. The whole request must stay under 100 MB (kimi-api.md §2).
KIMI_INLINE_VIDEO_MAX_BYTES = env.int("KIMI_INLINE_VIDEO_MAX_BYTES", default=8 * 1024 * 1024)
# Requests with a video or at least this many images are measured with the token-estimate
# endpoint before they are sent (kimi-api.md §4).
KIMI_ESTIMATE_MIN_IMAGES = env.int("KIMI_ESTIMATE_MIN_IMAGES", default=3)
# --- Kimi cost, spend cap and shared rate limits (README "Kimi cost, limits and health") ----------
# USD per 1M tokens: [input cache hit, input cache miss, output] (kimi-api.md §8). Cache hits are part
# of prompt_tokens. The offline model costs nothing. Override with a JSON object in the environment.
KIMI_PRICES_USD_PER_MTOK = env.json(
    "KIMI_PRICES_USD_PER_MTOK",
    default={"kimi-k2.6": ["0.16", "0.95", "4.00"], "kimi-k2.5": ["0.10", "0.60", "3.00"]},
)
# Today's (UTC) summed cost of Kimi runs at or over this switches new tickets to the offline model
# and shows managers a banner. 0 = no cap.
KIMI_DAILY_SPEND_CAP_USD = Decimal(env.str("KIMI_DAILY_SPEND_CAP_USD", default="0"))
# Across every worker process (Redis when the broker is Redis; else per process): Tier 1 of
# kimi-api.md §7. A held slot is a lease renewed while the call runs, so a killed worker frees
# its slots after KIMI_SLOT_LEASE_S.
KIMI_MAX_CONCURRENCY = env.int("KIMI_MAX_CONCURRENCY", default=50)
KIMI_MAX_RPM = env.int("KIMI_MAX_RPM", default=200)
KIMI_SLOT_LEASE_S = env.float("KIMI_SLOT_LEASE_S", default=30.0)
KIMI_SLOT_WAIT_S = env.float("KIMI_SLOT_WAIT_S", default=600.0)
KIMI_LIMITS_KEY_PREFIX = env.str("KIMI_LIMITS_KEY_PREFIX", default="triage:kimi")
TRIAGE_LIMITS_REDIS_URL = env.str(
    "TRIAGE_LIMITS_REDIS_URL",
    default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "",
)
if TRIAGE_PROVIDER == "kimi" and not DEBUG and not KIMI_API_KEY:
    raise environ.ImproperlyConfigured("TRIAGE_PROVIDER=kimi needs KIMI_API_KEY")

TRIAGE_QUEUE_PAGE_SIZE = env.int("TRIAGE_QUEUE_PAGE_SIZE", default=25)
TRIAGE_POLL_INTERVAL_S = env.int("TRIAGE_POLL_INTERVAL_S", default=2)
