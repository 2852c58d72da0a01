"""Security headers on every page, HSTS behind TLS in production, and templates a strict CSP can run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def _directives(csp: str) -> dict[str, str]:
    return {part.split()[0]: part.strip() for part in csp.split(";") if part.strip()}


@pytest.mark.parametrize("name", ["triage:review-queue", "triage:ticket-create", "login"])
def test_pages_carry_a_strict_csp_and_the_other_headers(agent, name):
    response = agent.get(reverse(name))
    assert response.status_code == 200
    csp = _directives(response["Content-Security-Policy"])
    assert csp["script-src"] == "script-src 'self'"  # no 'unsafe-inline', no 'unsafe-eval', no CDN
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert csp["object-src"] == "object-src 'none'" and "form-action" in csp and "base-uri" in csp
    assert "'unsafe-inline'" not in csp["style-src"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    assert "Strict-Transport-Security" not in response  # plain HTTP in tests: HSTS only over TLS


def test_media_keeps_its_stricter_sandbox_policy(agent):
    from tests.factories import AttachmentFactory

    attachment = AttachmentFactory()
    response = agent.get(reverse("triage:attachment-file", kwargs={"attachment_id": attachment.id}))
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


@override_settings(
    SECURE_HSTS_SECONDS=31_536_000, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")
)
def test_hsts_is_sent_when_the_proxy_says_the_request_came_over_tls(db):
    client = Client()  # built after the override: SecurityMiddleware reads settings once
    over_tls = client.get(reverse("login"), headers={"X-Forwarded-Proto": "https"})
    assert over_tls["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in client.get(reverse("login"))


def test_production_settings_turn_on_hsts_and_trust_the_proxy_header():
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "x" * 50,
        "INBOUND_EMAIL_SECRET": "s",
        "ANYMAIL_WEBHOOK_SECRET": "u:p",
        "MAILGUN_WEBHOOK_SIGNING_KEY": "k",
    }
    code = (
        "import json, triage.settings as s; print(json.dumps([s.SECURE_HSTS_SECONDS, "
        "s.SECURE_PROXY_SSL_HEADER, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.X_FRAME_OPTIONS, "
        "'triage.middleware.SecurityHeadersMiddleware' in s.MIDDLEWARE]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    hsts, proxy_header, session_secure, csrf_secure, frames, csp_on = json.loads(out.stdout)
    assert hsts >= 31_536_000 and proxy_header == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert session_secure and csrf_secure and frames == "DENY" and csp_on


def test_no_template_has_inline_script_or_event_handlers():
    """`script-src 'self'` would silently break them; app.js binds every behaviour instead."""
    offending = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for pattern in (r"<script(?![^>]*\bsrc=)[^>]*>", r"\son[a-z]+\s*=", r"\bhx-on", r"javascript:"):
            offending += [f"{path.relative_to(TEMPLATES)}: {m}" for m in re.findall(pattern, text)]
    assert not offending, offending


def test_htmx_is_told_not_to_inject_its_style_element(agent):
    html = agent.get(reverse("triage:review-queue")).content.decode()
    assert '<meta name="htmx-config" content=\'{"includeIndicatorStyles": false}\'>' in html
