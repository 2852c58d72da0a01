"""Secrets never reach the logs: the Kimi key, the inbound-email secret, the webhook credentials and
any Authorization header, on the paths that log (a refused webhook, a crashed webhook, Kimi
errors that echo the key), at DEBUG, as written by the real console handler."""

from __future__ import annotations

import base64
import io
import logging
import time

import pytest
from django.test import Client
from django.urls import reverse

from tests.security.conftest import MESSAGE
from triage.models import Ticket, TriageRun
from triage.services import triage

pytestmark = pytest.mark.django_db

KIMI_KEY = "sk-live-Zq81Xw0Ty7Uc3Vb6"
INBOUND_SECRET = "inbound-Hx72Lp09Qa3Sd5"
WEBHOOK_USER, WEBHOOK_PASSWORD = "relay", "webhookPw-Kk41Mn88"
BASIC = base64.b64encode(f"{WEBHOOK_USER}:{WEBHOOK_PASSWORD}".encode()).decode()


@pytest.fixture
def log_output(settings):
    """What the configured console handler writes, with the root logger at DEBUG."""
    settings.KIMI_API_KEY = KIMI_KEY
    settings.INBOUND_EMAIL_SECRET = INBOUND_SECRET
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": [f"{WEBHOOK_USER}:{WEBHOOK_PASSWORD}"]}
    root = logging.getLogger()
    console = next(h for h in root.handlers if h.get_name() == "console")
    buffer = io.StringIO()
    old_stream, old_level = console.setStream(buffer), root.level
    root.setLevel(logging.DEBUG)
    yield buffer
    root.setLevel(old_level)
    console.setStream(old_stream)


def _assert_clean(text: str) -> None:
    for secret in (KIMI_KEY, INBOUND_SECRET, WEBHOOK_PASSWORD, BASIC):
        assert secret not in text, f"{secret!r} in the log:\n{text}"


def test_a_refused_webhook_logs_its_403_without_the_secret_or_the_authorization(log_output):
    client = Client(raise_request_exception=False)
    stale = str(int(time.time()) - 3600)
    headers = {
        "X-Triage-Timestamp": stale,
        "X-Triage-Signature": f"sha256={INBOUND_SECRET}",  # a relay misconfigured to send the secret
        "Authorization": f"Bearer {KIMI_KEY}",
    }
    for ts in (stale, str(int(time.time()))):
        response = client.post(
            reverse("triage:email-inbound-raw"),
            MESSAGE,
            content_type="message/rfc822",
            headers={**headers, "X-Triage-Timestamp": ts},
        )
        assert response.status_code == 403
    text = log_output.getvalue()
    assert "raw inbound email refused (stale timestamp)" in text  # the logging path did run
    assert "raw inbound email refused (bad signature)" in text
    _assert_clean(text)


def test_provider_webhooks_with_wrong_or_right_credentials_log_no_credentials(log_output):
    client = Client(raise_request_exception=False)
    url = reverse("triage:email-inbound-postmark")
    wrong = base64.b64encode(f"{WEBHOOK_USER}:guess-{WEBHOOK_PASSWORD}".encode()).decode()
    assert client.post(url, {}, headers={"Authorization": f"Basic {wrong}"}).status_code == 400
    # the right credentials and a body that makes anymail fail: the error path logs a traceback
    response = client.post(
        url, "not json", content_type="application/json", headers={"Authorization": f"Basic {BASIC}"}
    )
    assert response.status_code >= 400
    text = log_output.getvalue()
    assert "intake/email/postmark" in text
    _assert_clean(text)
    _assert_clean(wrong)  # sanity: the wrong credentials differ from the right ones


def test_kimi_errors_that_echo_the_key_are_logged_without_it(log_output, kimi_fake, settings):
    from tests.factories import taxonomy_rows

    taxonomy_rows()
    settings.TRIAGE_PROVIDER = "kimi"
    settings.KIMI_BASE_URL = kimi_fake.base_url
    settings.KIMI_MAX_RETRIES = 0
    # OpenAI-compatible APIs answer a bad key by quoting it; an upstream proxy may echo headers
    kimi_fake.reply_error(401, "invalid_authentication_error", f"Incorrect API key provided: {KIMI_KEY}")
    ticket = Ticket.objects.create(subject="Login broken", description="x", status=Ticket.Status.TRIAGING)
    triage.ticket_triage(ticket_id=ticket.id, attempt=settings.KIMI_TASK_RETRIES)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.MANUAL_TRIAGE
    assert kimi_fake.requests  # the request really went out, with the key in its header
    text = log_output.getvalue()
    failed = ticket.runs.get(provider="kimi")
    assert "Encountered an HTTP status error: 401" in text  # the SDK's own logging path did run
    _assert_clean(text)
    # the reason shown on the ticket page keeps the explanation, not the key
    assert failed.status == TriageRun.Status.FAILED and "authentication failed" in failed.error_message
    _assert_clean(failed.error_message + str(ticket.latest_run.details))
