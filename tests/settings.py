"""Test settings: the real production shape when PostgreSQL and Redis are reachable, else the
embedded defaults (SQLite file + filesystem broker) with the service tests skipped.

TRIAGE_TEST_SERVICES=require (set by .ci/run) turns a missing service into a hard failure.
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

_MODE = os.environ.get("TRIAGE_TEST_SERVICES", "auto")  # auto | require | off
_PG = os.environ.get("TRIAGE_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
_REDIS = os.environ.get("TRIAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
# pytest-xdist (`make test` runs with -n): each worker process (gw0, gw1, ...) gets a Redis database
# of its own, since the e2e tests purge the queues and their Celery workers take any task from them:
# the given one for gw0, then upwards to 15, then downwards from below the given one (13 -> 13, 14,
# 15, 12). Written back, so the tests that read TRIAGE_TEST_REDIS_URL (limits, rate limits, bench
# scripts) use the same one.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _XDIST_WORKER:
    _base, _, _db = _REDIS.rpartition("/")
    _order = [*range(int(_db or 0), 16), *range(int(_db or 0) - 1, -1, -1)]
    _REDIS = f"{_base}/{_order[int(_XDIST_WORKER.removeprefix('gw')) % 16]}"
    os.environ["TRIAGE_TEST_REDIS_URL"] = _REDIS


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


if _MODE == "off":
    SERVICES_AVAILABLE = False
    SERVICES_MISSING = "disabled by TRIAGE_TEST_SERVICES=off"
else:
    _missing = [
        name
        for name, host, port in (("PostgreSQL", "127.0.0.1", 5432), ("Redis", "127.0.0.1", 6379))
        if not _reachable(host, port)
    ]
    if _missing and _MODE == "require":
        raise RuntimeError(f"TRIAGE_TEST_SERVICES=require but not reachable: {', '.join(_missing)}")
    SERVICES_AVAILABLE = not _missing
    SERVICES_MISSING = f"{', '.join(_missing)} not reachable on 127.0.0.1" if _missing else ""

# One scratch folder per test session: SQLite file, media, broker folders.
_SCRATCH = Path(os.environ.get("TRIAGE_TEST_SCRATCH") or tempfile.mkdtemp(prefix="triage-tests-"))
if _XDIST_WORKER:  # the workers inherit the controller's folder: one sub-folder each
    _SCRATCH = _SCRATCH / _XDIST_WORKER
    _SCRATCH.mkdir(exist_ok=True)
os.environ["TRIAGE_TEST_SCRATCH"] = str(_SCRATCH)
os.environ["TRIAGE_VAR_DIR"] = str(_SCRATCH)
os.environ.setdefault("TRIAGE_PROVIDER", "local")
# OCR loads a ~300 MB engine per worker process: only the tests that are about it turn it on.
os.environ.setdefault("TRIAGE_OCR_ENABLED", "false")
# Kimi request limits: one key space per session (two runs can share a Redis) and no per-minute cap,
# which a fast suite would hit; tests of the limits set their own (tests/services/test_llm_limits.py).
os.environ["KIMI_LIMITS_KEY_PREFIX"] = f"triage-test-{os.getpid()}:kimi"
os.environ.setdefault("KIMI_MAX_RPM", "0")
# Every signed provider is mounted (tests/views/test_intake_signed_providers.py sets the real keys).
os.environ.setdefault("MAILERSEND_INBOUND_SECRET", "test-mailersend-secret")
os.environ.setdefault("MANDRILL_WEBHOOK_KEY", "test-mandrill-key")
os.environ.setdefault("POSTAL_WEBHOOK_KEY", "placeholder-set-per-test")
os.environ.setdefault(
    "RESEND_INBOUND_SECRET", "whsec_dHJpYWdlLXRlc3QtcmVzZW5kLXN2aXgtc2VjcmV0ISE="
)  # Svix's format: whsec_ + base64
# Rate-limit counters (services/throttle.py): one key space per session too.
os.environ["TRIAGE_THROTTLE_KEY_PREFIX"] = f"triage-test-{os.getpid()}:throttle"
if SERVICES_AVAILABLE:
    os.environ["DATABASE_URL"] = _PG
    os.environ["CELERY_BROKER_URL"] = _REDIS
else:
    os.environ["DATABASE_URL"] = f"sqlite:///{_SCRATCH / 'triage.sqlite3'}"
    os.environ["CELERY_BROKER_URL"] = "filesystem://"

from triage.settings import *  # noqa: E402,F403
from triage.settings import DATABASES  # noqa: E402

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # a file, not :memory:, so a real worker process can share the test database
    DATABASES["default"]["TEST"] = {"NAME": str(_SCRATCH / "test-triage.sqlite3")}
else:
    # one database per test session, so two runs on one machine never drop each other's
    DATABASES["default"]["TEST"] = {"NAME": f"test_triage_{os.getpid()}"}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
# Creating a ticket queues the day-one refit when its id is a multiple of this (default 50). Ids
# are not reset between tests (a PostgreSQL sequence runs on across rolled-back tests), so a test
# that counts the jobs a post queues saw one more whenever its ticket drew a multiple of 50
# (tests/views/test_upload.py failed that way in CI). Off here; the refit's own tests set it.
TRIAGE_DAYONE_REFIT_EVERY = 0
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - WhiteNoise warns about a missing folder
