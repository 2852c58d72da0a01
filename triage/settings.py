"""Settings: everything from the environment (django-environ), with embedded laptop defaults.

`make run` needs no configuration at all: SQLite, Celery's filesystem broker and the offline model.
With DJANGO_DEBUG off, secrets have no defaults and a missing one stops the start-up.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import environ
from celery.schedules import crontab

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
    # issue 9: a view's OperationalError becomes a 503 "Database unavailable" page
    "triage.middleware.DatabaseUnavailableMiddleware",
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
        # issue 9: how often a worker looks for messages whose worker died (kombu's defaults, 10 s
        # x every 10th look: ~100 s after the visibility timeout); the resilience tests shorten it
        "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL_S", default=10),
        "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
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
    "triage.tasks.triage_sweep_task": {"queue": "llm"},
    "triage.tasks.attachment_ocr_task": {"queue": "media"},
    "triage.tasks.classifier_train_task": {"queue": "media"},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery beat: the sweep that requeues work stuck in an intermediate state.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "triage-sweep": {
        "task": "triage.tasks.triage_sweep_task",
        "schedule": env.int("TRIAGE_SWEEP_EVERY_S", default=300),
    },
}
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
# Thinking: on | off | auto (auto: on for long or ambiguous tickets, see KimiClient.thinking_for).
KIMI_THINKING = env.str("KIMI_THINKING", default="auto")
KIMI_THINKING_MAX_COMPLETION_TOKENS = env.int("KIMI_THINKING_MAX_COMPLETION_TOKENS", default=16384)
KIMI_THINKING_AUTO_CHARS = env.int("KIMI_THINKING_AUTO_CHARS", default=1500)
KIMI_THINKING_AUTO_IMAGES = env.int("KIMI_THINKING_AUTO_IMAGES", default=6)
# Above 0, "auto" also asks the offline model first (~20-50 ms of CPU per ticket, under the GIL of
# the llm threads pool) and thinks when its lowest confidence is under this. Off by default: at 50
# concurrent requests that pre-pass, not Kimi, would bound the llm worker (bench/llm.py).
KIMI_THINKING_AUTO_CONFIDENCE = env.float("KIMI_THINKING_AUTO_CONFIDENCE", default=0.0)
# Tool rounds (similar tickets, the requester's tickets) before the model must answer.
KIMI_MAX_TOOL_STEPS = env.int("KIMI_MAX_TOOL_STEPS", default=3)
# Input tokens one request may take (Kimi's estimate); over it, the request is made smaller.
KIMI_TICKET_TOKEN_BUDGET = env.int("KIMI_TICKET_TOKEN_BUDGET", default=100_000)
# Task-level tries when Kimi stays down (each after the SDK's own retries), then the offline
# model's provisional result and manual triage.
KIMI_TASK_RETRIES = env.int("KIMI_TASK_RETRIES", default=3)
KIMI_TASK_RETRY_BACKOFF_S = env.int("KIMI_TASK_RETRY_BACKOFF_S", default=30)
# The sweep requeues tickets stuck in an intermediate state longer than this.
TRIAGE_STALE_AFTER_S = env.int("TRIAGE_STALE_AFTER_S", default=1800)
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

# Auto-accept, off by default: "category:0.97,priority:0.9,queue:0.95,sentiment:0.8,language:0.95"
# accepts a proposal with no person when EVERY triaged field has a threshold and meets it; the
# decision is recorded as automatic.
TRIAGE_AUTO_ACCEPT = {
    name.strip(): float(value)
    for name, _, value in (item.partition(":") for item in env.list("TRIAGE_AUTO_ACCEPT", default=[]))
    if name.strip() and value.strip()
}
TRIAGE_QUEUE_PAGE_SIZE = env.int("TRIAGE_QUEUE_PAGE_SIZE", default=25)
TRIAGE_POLL_INTERVAL_S = env.int("TRIAGE_POLL_INTERVAL_S", default=2)
TRIAGE_QUEUE_LIVE_INTERVAL_S = env.int("TRIAGE_QUEUE_LIVE_INTERVAL_S", default=10)  # issue 7: new-ticket poll

# --- Offline model (issue 5) ----------------------------------------------------------------------
# Language detector accuracy: high (~200 MB, ~3 s on first use per worker) | low (~15 MB, weaker on
# one-line tickets). Trained classifier files live under TRIAGE_MODEL_DIR, never in git.
TRIAGE_LANGUAGE_ACCURACY = env.str("TRIAGE_LANGUAGE_ACCURACY", default="high")
TRIAGE_MODEL_DIR = Path(env.str("TRIAGE_MODEL_DIR", default=str(VAR_DIR / "models")))
# Retrain when at least this many reviews are new since the last version (and on demand).
TRIAGE_RETRAIN_MIN_NEW_REVIEWS = env.int("TRIAGE_RETRAIN_MIN_NEW_REVIEWS", default=1)
TRIAGE_RETRAIN_EVERY_S = env.int("TRIAGE_RETRAIN_EVERY_S", default=3600)
TRIAGE_OCR_ENABLED = env.bool("TRIAGE_OCR_ENABLED", default=True)
# The worker of `make run` embeds beat (-B): retraining is a no-op when no review is new.
CELERY_BEAT_SCHEDULE["offline-model-retrain"] = {
    "task": "triage.tasks.classifier_train_task",
    "schedule": TRIAGE_RETRAIN_EVERY_S,
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# --- Reports (issue 8) ------------------------------------------------------------------------
# The dashboard's cost, computed in SQL, from the same price table as each run's cost_usd
# (KIMI_PRICES_USD_PER_MTOK: cache hit, cache miss, output per 1M tokens); local runs cost 0.
TRIAGE_PRICES = {
    model: {"cached_input": float(hit), "input": float(miss), "output": float(out)}
    for model, (hit, miss, out) in KIMI_PRICES_USD_PER_MTOK.items()
}
# Links in exports and emails point here (exports are read outside the site).
TRIAGE_PUBLIC_URL = env.str("TRIAGE_PUBLIC_URL", default="http://127.0.0.1:8000")
# Exports with more rows than this run on the `reports` queue; smaller ones download at once.
TRIAGE_REPORT_SYNC_MAX_ROWS = env.int("TRIAGE_REPORT_SYNC_MAX_ROWS", default=5000)
TRIAGE_REPORT_EXPIRE_HOURS = env.int("TRIAGE_REPORT_EXPIRE_HOURS", default=24)
# CSV exports on PostgreSQL: parallel COPY streams (connections) per export; 1 = one stream.
TRIAGE_REPORT_COPY_STREAMS = env.int("TRIAGE_REPORT_COPY_STREAMS", default=2)
# Weekly email to the managers: crontab fields, server time zone.
TRIAGE_REPORT_WEEKLY_DAY = env.str("TRIAGE_REPORT_WEEKLY_DAY", default="mon")
TRIAGE_REPORT_WEEKLY_HOUR = env.int("TRIAGE_REPORT_WEEKLY_HOUR", default=7)
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="triage@localhost")
CELERY_TASK_ROUTES.update(
    {
        "triage.tasks.report_export_run_task": {"queue": "reports"},
        "triage.tasks.report_weekly_send_task": {"queue": "reports"},
        "triage.tasks.report_export_purge_task": {"queue": "reports"},
    }
)
CELERY_BEAT_SCHEDULE.update(
    {
        "report-weekly": {
            "task": "triage.tasks.report_weekly_send_task",
            "schedule": crontab(
                minute=0, hour=TRIAGE_REPORT_WEEKLY_HOUR, day_of_week=TRIAGE_REPORT_WEEKLY_DAY
            ),
        },
        "report-export-purge": {"task": "triage.tasks.report_export_purge_task", "schedule": 3600.0},
    }
)

# --- Inbound email (issue 6) ---------------------------------------------------------------------
# The raw MIME endpoint's HMAC secret; anymail's basic-auth secret ("user:password", a list rotates).
if DEBUG:
    INBOUND_EMAIL_SECRET = env.str("INBOUND_EMAIL_SECRET", default="dev-only-inbound-email-secret")
    _ANYMAIL_SECRET = env.list("ANYMAIL_WEBHOOK_SECRET", default=["triage:dev-only-webhook-secret"])
else:
    INBOUND_EMAIL_SECRET = env.str("INBOUND_EMAIL_SECRET")  # required in production
    _ANYMAIL_SECRET = env.list("ANYMAIL_WEBHOOK_SECRET")  # required in production
INBOUND_EMAIL_MAX_SKEW_S = env.int("INBOUND_EMAIL_MAX_SKEW_S", default=300)
# Over this the message is still stored and recorded (status QUARANTINED, "too_large"), not parsed.
INBOUND_EMAIL_MAX_BYTES = env.int("INBOUND_EMAIL_MAX_BYTES", default=40 * 1024 * 1024)
INBOUND_EMAIL_MAX_ATTACHMENT_BYTES = env.int("INBOUND_EMAIL_MAX_ATTACHMENT_BYTES", default=25 * 1024 * 1024)
# Our addresses and the queue each feeds: "support@x.com=tier1,billing@x.com=billing_team".
INBOUND_EMAIL_ADDRESSES = env.dict("INBOUND_EMAIL_ADDRESSES", default={"support@triage.local": ""})
# A copy sent to two of our addresses: "one" ticket, or one ticket "per_queue".
INBOUND_EMAIL_COPIES = env.str("INBOUND_EMAIL_COPIES", default="one")
# Thread text the model sees on a follow-up (characters, newest kept); Kimi's 256K window holds it.
INBOUND_EMAIL_THREAD_CHARS = env.int("INBOUND_EMAIL_THREAD_CHARS", default=200_000)
# Mailgun signs each post with this key (its dashboard: "HTTP webhook signing key").
_MAILGUN_KEY = env.str("MAILGUN_WEBHOOK_SIGNING_KEY", default="dev-only-mailgun-key" if DEBUG else "")
# Providers whose anymail inbound webhook is mounted under /intake/email/<provider>/; Mailgun only
# when its signing key is set.
INBOUND_EMAIL_PROVIDERS = env.list(
    "INBOUND_EMAIL_PROVIDERS",
    default=[
        *(["mailgun"] if _MAILGUN_KEY else []),
        "sendgrid",
        "postmark",
        "amazon_ses",
        "sparkpost",
        "mailjet",
        "brevo",
    ],
)
ANYMAIL = {
    "WEBHOOK_SECRET": _ANYMAIL_SECRET,
    "MAILGUN_WEBHOOK_SIGNING_KEY": _MAILGUN_KEY,
    # Brevo posts attachment tokens; anymail downloads the files with this key.
    "BREVO_API_KEY": env.str("BREVO_API_KEY", default=""),
}
if "mailgun" in INBOUND_EMAIL_PROVIDERS and not _MAILGUN_KEY:
    raise environ.ImproperlyConfigured("the mailgun inbound webhook needs MAILGUN_WEBHOOK_SIGNING_KEY")
if INBOUND_EMAIL_COPIES not in ("one", "per_queue"):
    raise environ.ImproperlyConfigured("INBOUND_EMAIL_COPIES must be 'one' or 'per_queue'")
CELERY_TASK_ROUTES["triage.tasks.inbound_email_process_task"] = {"queue": "intake"}
INSTALLED_APPS.append("anymail")

# --- Roles and security (issues 7 and 9) ---------------------------------------------------------
# Content-Security-Policy and Permissions-Policy (triage/middleware.py); Django sets nosniff,
# X-Frame-Options, Referrer-Policy and Cross-Origin-Opener-Policy itself (above and below).
MIDDLEWARE.insert(1, "triage.middleware.SecurityHeadersMiddleware")
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    # Sent only on HTTPS requests (as seen through SECURE_PROXY_SSL_HEADER behind the proxy).
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=False)
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SSL_REDIRECT", default=False)  # usually the proxy's job
# Login throttling: after this many failed sign-ins for one username from one address within the
# window, that pair is refused until the oldest failure leaves the window. Counted in Redis when
# there is one (every web process sees the same count), else in the process.
TRIAGE_LOGIN_MAX_FAILURES = env.int("TRIAGE_LOGIN_MAX_FAILURES", default=5)
TRIAGE_LOGIN_WINDOW_S = env.int("TRIAGE_LOGIN_WINDOW_S", default=900)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "login-throttle": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": TRIAGE_LIMITS_REDIS_URL,
            "KEY_PREFIX": env.str("TRIAGE_LOGIN_THROTTLE_PREFIX", default="triage:login"),
        }
        if TRIAGE_LIMITS_REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "login-throttle"}
    ),
}
# Secrets never reach the log output, whoever logs them (triage/redact.py).
LOGGING["filters"] = {"redact": {"()": "triage.redact.SecretsFilter"}}
LOGGING["handlers"]["console"]["filters"] = ["redact"]
# --- Browser intake (issue 7) ---
# Longest screen recording made from the new-ticket page (the page counts down and stops itself).
TRIAGE_SCREEN_RECORDING_MAX_S = env.int("TRIAGE_SCREEN_RECORDING_MAX_S", default=120)
# --- Shared media storage (issue 9) ----------------------------------------------------------------
# TRIAGE_STORAGE=s3 puts every stored object (uploads, renditions, raw emails, exports) in an
# S3-compatible bucket, so web and workers on different machines share them without a shared
# volume. Workers copy an object to a temporary file when ffmpeg or Pillow need a path
# (triage.services.storage.local_path); the web process streams objects through Django with the
# same safe headers as from disk. The default, "filesystem", is MEDIA_ROOT as before.
TRIAGE_STORAGE = env.str("TRIAGE_STORAGE", default="filesystem")
if TRIAGE_STORAGE == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str(
                "TRIAGE_S3_BUCKET", default="triage-media" if DEBUG else environ.Env.NOTSET
            ),
            # empty: AWS itself; set it for MinIO, Ceph, R2, a local test server...
            "endpoint_url": env.str("TRIAGE_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("TRIAGE_S3_REGION", default="") or None,
            # empty: boto3's own chain (instance role, ~/.aws, AWS_* variables)
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "location": env.str("TRIAGE_S3_PREFIX", default=""),
            "addressing_style": env.str("TRIAGE_S3_ADDRESSING_STYLE", default="") or None,
            # keys are content hashes: the same key always holds the same bytes
            "file_overwrite": True,
            "default_acl": None,  # the bucket stays private; objects are served through Django
            "querystring_auth": True,
        },
    }
elif TRIAGE_STORAGE != "filesystem":
    raise environ.ImproperlyConfigured("TRIAGE_STORAGE must be 'filesystem' or 's3'")
# --- end shared media storage ------------------------------------------------------------------------
