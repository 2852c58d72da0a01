"""The embedded defaults need no configuration; production refuses to start without its secrets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_PRINT = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], 'broker': s.CELERY_BROKER_URL, "
    "'provider': s.TRIAGE_PROVIDER, 'debug': s.DEBUG}))"
)


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "triage.settings", "HOME": "/tmp"}
    return subprocess.run(
        [sys.executable, "-c", _PRINT],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_embedded_defaults_are_sqlite_filesystem_broker_and_the_offline_model(tmp_path):
    result = _run({"TRIAGE_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "db": "django.db.backends.sqlite3",
        "broker": "filesystem://",
        "provider": "local",
        "debug": True,
    }


def test_production_without_a_secret_key_fails_fast(tmp_path):
    result = _run({"TRIAGE_VAR_DIR": str(tmp_path), "DJANGO_DEBUG": "0"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_with_kimi_needs_its_key(tmp_path):
    result = _run(
        {
            "TRIAGE_VAR_DIR": str(tmp_path),
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "x" * 50,
            "TRIAGE_PROVIDER": "kimi",
        }
    )
    assert result.returncode != 0
    assert "KIMI_API_KEY" in result.stderr


def test_production_needs_the_inbound_email_secrets(tmp_path):
    base = {"TRIAGE_VAR_DIR": str(tmp_path), "DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "x" * 50}
    result = _run(base)
    assert result.returncode != 0
    assert "INBOUND_EMAIL_SECRET" in result.stderr
    result = _run({**base, "INBOUND_EMAIL_SECRET": "s" * 32})
    assert result.returncode != 0
    assert "ANYMAIL_WEBHOOK_SECRET" in result.stderr
    result = _run({**base, "INBOUND_EMAIL_SECRET": "s" * 32, "ANYMAIL_WEBHOOK_SECRET": "u:p"})
    assert result.returncode == 0, result.stderr  # Mailgun is simply not mounted without its key
    result = _run(
        {
            **base,
            "INBOUND_EMAIL_SECRET": "s",
            "ANYMAIL_WEBHOOK_SECRET": "u:p",
            "INBOUND_EMAIL_PROVIDERS": "mailgun",
        }
    )
    assert result.returncode != 0
    assert "MAILGUN_WEBHOOK_SIGNING_KEY" in result.stderr


def test_the_embedded_defaults_pass_the_system_checks_without_a_warning(tmp_path):
    """`make run` starts with migrate, which checks against the database: on SQLite it printed models.W040 for the
    report indexes' included columns, which only PostgreSQL uses (SQLite keeps the key columns)."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--database", "default"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "TRIAGE_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr
    assert "W040" not in result.stdout + result.stderr
