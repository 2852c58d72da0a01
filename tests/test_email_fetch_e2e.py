"""Provider posts that only point at the message, end to end with a real worker process: the live
server stores the post and answers; the worker fetches from local fakes of S3, Brevo and Resend
(tests/inbound_fetch_fakes.py), retries with backoff, and quarantines with the reason.

Runs on the embedded broker and on Redis + PostgreSQL, like the other end-to-end tests.
"""

from __future__ import annotations

import base64
import time

import pytest
import requests

from tests import inbound_fetch_fakes as fakes
from tests.factories import png_bytes
from tests.worker import wait_for
from triage.models import InboundEmail, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

BASIC = "triage-test:webhook-pass"
RESEND_SECRET = "whsec_" + base64.b64encode(b"resend-inbound-e2e-secret-00001").decode()
DONE_STATES = (Ticket.Status.NEEDS_REVIEW, Ticket.Status.MANUAL_TRIAGE)


@pytest.fixture
def web(settings, live_server) -> str:
    settings.ANYMAIL = settings.ANYMAIL | {"WEBHOOK_SECRET": [BASIC], "RESEND_INBOUND_SECRET": RESEND_SECRET}
    return live_server.url


def _worker_env(httpserver, **extra: str) -> dict[str, str]:
    return {
        "INBOUND_EMAIL_S3_ENDPOINT_URL": httpserver.url_for("/").rstrip("/"),
        "INBOUND_EMAIL_S3_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": fakes.AWS_KEY,
        "AWS_SECRET_ACCESS_KEY": fakes.AWS_SECRET,
        "AWS_EC2_METADATA_DISABLED": "true",
        "BREVO_API_KEY": fakes.BREVO_KEY,
        "BREVO_API_URL": httpserver.url_for("/v3/"),
        "RESEND_API_KEY": fakes.RESEND_KEY,
        "RESEND_API_URL": httpserver.url_for("/resend/"),
        **extra,
    }


def _post(url: str, body: str | bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(url, data=body, headers=headers, auth=tuple(BASIC.split(":")), timeout=10)


def _post_ses(base: str) -> requests.Response:
    body, headers = fakes.ses_s3_post()
    return _post(
        f"{base}/intake/email/amazon_ses/", body, headers | {"Content-Type": "text/plain; charset=UTF-8"}
    )


def test_each_providers_message_is_fetched_by_the_worker_and_triaged(web, start_worker, taxonomy, httpserver):
    fakes.serve_s3(httpserver, data=fakes.message())
    fakes.serve_brevo_attachment(httpserver, data=png_bytes())
    fakes.serve_resend(httpserver, data=fakes.message().replace(b"APPLE-4F1C-0004", b"RESEND-0001"))
    start_worker(**_worker_env(httpserver))

    assert _post_ses(web).status_code == 200
    brevo = _post(f"{web}/intake/email/brevo/", fakes.brevo_post(), {"Content-Type": "application/json"})
    assert brevo.status_code == 200
    body = fakes.resend_event()
    resend = _post(
        f"{web}/intake/email/resend/",
        body,
        {"Content-Type": "application/json"} | fakes.svix_headers(RESEND_SECRET, body),
    )
    assert resend.status_code == 200
    wait_for(
        lambda: Ticket.objects.filter(status__in=DONE_STATES).count() == 3,
        message="the three fetched messages to be triaged",
    )
    emails = {e.source: e for e in InboundEmail.objects.select_related("ticket")}
    assert set(emails) == {"amazon_ses", "brevo", "resend"}
    for email in emails.values():
        assert email.status == InboundEmail.Status.TICKETED, email.error_message
        assert email.raw.name.endswith(".eml") and email.details["fetch"]["fetched"]
        assert email.ticket.attachments.count() == 1
    assert emails["amazon_ses"].ticket.subject == fakes.SUBJECT
    assert emails["brevo"].ticket.subject == "Brevo: cannot change my email address"
    assert emails["resend"].message_id == "RESEND-0001@example.com"


def test_s3_failing_is_retried_by_the_worker_then_quarantined_and_still_queued(
    web, start_worker, taxonomy, httpserver
):
    seen = fakes.serve_s3(httpserver, data=None, status=503)
    start_worker(**_worker_env(httpserver, INBOUND_EMAIL_FETCH_RETRIES="2"))
    started = time.monotonic()
    assert _post_ses(web).status_code == 200
    assert time.monotonic() - started < 2.0  # answered without waiting on S3
    wait_for(
        lambda: InboundEmail.objects.filter(status=InboundEmail.Status.QUARANTINED).exists(),
        timeout=60,
        message="the mail to be quarantined after its retries",
    )
    email = InboundEmail.objects.select_related("ticket").get()
    assert len(seen) == 3  # the first attempt and two retries (backoff 2 s, 4 s)
    assert email.failure_kind == "fetch_failed" and "after 3 attempts" in email.error_message
    assert "ServiceUnavailable" in email.error_message
    assert email.ticket.status == Ticket.Status.MANUAL_TRIAGE
    assert email.raw.name.endswith(".json")  # the post itself is kept for the retry
