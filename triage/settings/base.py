"""The Django core: environment, apps, middleware, templates, sign-in, static files, logging.

`make run` needs no configuration at all: SQLite, Celery's filesystem broker and the offline model.
With DJANGO_DEBUG off, secrets have no defaults and a missing one stops the start-up.
"""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

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
    "anymail",  # the providers' inbound email webhooks (settings/email.py)
]

MIDDLEWARE = [
    # first, so that its `app` time covers every other middleware: off unless TRIAGE_SERVER_TIMING
    "triage.middleware.ServerTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy and Permissions-Policy on every response, error pages included
    "triage.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # after the CSRF check has read the form: a NUL in a parameter is a 400, not a database error
    "triage.middleware.RequestParametersMiddleware",
    # last, nearest the view: a view's OperationalError becomes a 503 "Database unavailable" page
    "triage.middleware.DatabaseUnavailableMiddleware",
]

# a Server-Timing header (app, db, cpu time) on every response; bench/load.py turns it on
TRIAGE_SERVER_TIMING = env.bool("TRIAGE_SERVER_TIMING", default=False)

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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Secrets never reach the log output, whoever logs them (triage/redact.py).
    "filters": {"redact": {"()": "triage.redact.SecretsFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "PIL": {"level": "WARNING"},
        # the filesystem transport has no host; kombu warns about that on every connection
        "kombu.connection": {"level": "ERROR"},
    },
}

# --- The agents' pages ------------------------------------------------------------------------
TRIAGE_QUEUE_PAGE_SIZE = env.int("TRIAGE_QUEUE_PAGE_SIZE", default=25)
TRIAGE_POLL_INTERVAL_S = env.int("TRIAGE_POLL_INTERVAL_S", default=2)
# How often the review queue asks whether new tickets arrived.
TRIAGE_QUEUE_LIVE_INTERVAL_S = env.int("TRIAGE_QUEUE_LIVE_INTERVAL_S", default=10)
# Longest screen recording made from the new-ticket page (the page counts down and stops itself).
TRIAGE_SCREEN_RECORDING_MAX_S = env.int("TRIAGE_SCREEN_RECORDING_MAX_S", default=120)
# Links in exports and emails point here (exports are read outside the site).
TRIAGE_PUBLIC_URL = env.str("TRIAGE_PUBLIC_URL", default="http://127.0.0.1:8000")
