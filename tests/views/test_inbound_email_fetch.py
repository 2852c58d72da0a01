"""Provider posts that only point at the message (SES's S3 action, Brevo's attachments, Resend):
posted to the real endpoints, stored and answered without touching the provider, then fetched by
the intake job from local fakes speaking the providers' wire formats (tests/inbound_fetch_fakes.py).
"""

from __future__ import annotations

import base64
import json
import socket
import time

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from tests import inbound_fetch_fakes as fakes
from tests.factories import png_bytes
from triage.models import InboundEmail, Ticket
from triage.services.inbound_email import FetchRetryLater, inbound_email_process
from triage.tasks import attachment_process_task, inbound_email_process_task, ticket_triage_task

pytestmark = pytest.mark.django_db

BASIC = "triage-test:webhook-pass"
RESEND_SECRET = "whsec_" + base64.b64encode(b"resend-inbound-test-secret-0001").decode()


def _basic() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(BASIC.encode()).decode()}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def _providers(settings, httpserver, monkeypatch):
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": [BASIC],
        "BREVO_API_KEY": fakes.BREVO_KEY,
        "BREVO_API_URL": httpserver.url_for("/v3/"),
        "RESEND_INBOUND_SECRET": RESEND_SECRET,
        "RESEND_API_KEY": fakes.RESEND_KEY,
        "RESEND_API_URL": httpserver.url_for("/resend/"),
    }
    settings.INBOUND_EMAIL_S3_ENDPOINT_URL = httpserver.url_for("/").rstrip("/")
    settings.INBOUND_EMAIL_S3_REGION = "us-east-1"
    settings.INBOUND_EMAIL_FETCH_TIMEOUT_S = 5
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", fakes.AWS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", fakes.AWS_SECRET)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def jobs(monkeypatch) -> list[tuple[str, dict]]:
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(inbound_email_process_task, "delay", lambda **kw: sent.append(("intake", kw)))
    monkeypatch.setattr(attachment_process_task, "delay", lambda **kw: sent.append(("media", kw)))
    monkeypatch.setattr(ticket_triage_task, "delay", lambda **kw: sent.append(("llm", kw)))
    return sent


def _post_ses(client):
    body, headers = fakes.ses_s3_post()
    return client.post(
        "/intake/email/amazon_ses/",
        body,
        content_type="text/plain; charset=UTF-8",
        headers=headers | _basic(),
    )


def _post_brevo(client):
    return client.post(
        "/intake/email/brevo/", fakes.brevo_post(), content_type="application/json", headers=_basic()
    )


def _post_resend(client, *, body: bytes | None = None, secret: str = RESEND_SECRET):
    body = body or fakes.resend_event()
    return client.post(
        "/intake/email/resend/",
        body,
        content_type="application/json",
        headers=_basic() | fakes.svix_headers(secret, body),
    )


def _stored_post(email: InboundEmail) -> bytes:
    with default_storage.open(email.raw.name, "rb") as fh:
        return fh.read()


# --- the request stores the post and never fetches --------------------------------------------


@pytest.mark.parametrize("provider", ["amazon_ses", "brevo", "resend"])
def test_the_post_is_stored_and_answered_without_asking_the_provider(
    client, jobs, httpserver, provider, django_capture_on_commit_callbacks
):
    post = {"amazon_ses": _post_ses, "brevo": _post_brevo, "resend": _post_resend}[provider]
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client)
    assert response.status_code == 200, response.content
    assert httpserver.log == []  # nothing was fetched inside the request
    email = InboundEmail.objects.get()
    assert email.source == provider and email.status == InboundEmail.Status.RECEIVED
    assert email.recipient == "support@triage.local"
    assert email.details["fetch"]["provider"] == provider
    assert email.raw.name.endswith(".json") and _stored_post(email)
    assert jobs == [("intake", {"inbound_email_id": email.id})]
    # the provider's retry of the same post changes nothing
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client).status_code == 200
    assert InboundEmail.objects.count() == 1 and len(jobs) == 1


@pytest.mark.parametrize("provider", ["amazon_ses", "brevo", "resend"])
def test_with_the_provider_down_the_post_is_still_answered_at_once(client, jobs, settings, provider):
    down = f"http://127.0.0.1:{_closed_port()}"
    settings.INBOUND_EMAIL_S3_ENDPOINT_URL = down
    settings.ANYMAIL = settings.ANYMAIL | {"BREVO_API_URL": f"{down}/v3/", "RESEND_API_URL": f"{down}/"}
    post = {"amazon_ses": _post_ses, "brevo": _post_brevo, "resend": _post_resend}[provider]
    started = time.monotonic()
    response = post(client)
    assert response.status_code == 200 and time.monotonic() - started < 1.0
    assert InboundEmail.objects.get().status == InboundEmail.Status.RECEIVED


# --- the job fetches ----------------------------------------------------------------------------


def _process(email_id: int, capture, **kwargs) -> InboundEmail:
    with capture(execute=True):
        inbound_email_process(inbound_email_id=email_id, **kwargs)
    return InboundEmail.objects.get(id=email_id)


def test_ses_s3_the_job_downloads_the_object_and_tickets_it(
    client, jobs, httpserver, django_capture_on_commit_callbacks
):
    seen = fakes.serve_s3(httpserver, data=fakes.message())
    with django_capture_on_commit_callbacks(execute=True):
        _post_ses(client)
    email = _process(InboundEmail.objects.get().id, django_capture_on_commit_callbacks)
    assert email.status == InboundEmail.Status.TICKETED, email.error_message
    assert len(seen) == 1  # one signed GetObject
    assert email.raw.name.endswith(".eml") and _stored_post(email) == fakes.message()
    assert email.message_id == "APPLE-4F1C-0004@example.com"
    assert email.ticket.subject == fakes.SUBJECT and email.ticket.attachments.count() == 1
    assert email.details["fetch"]["fetched"] and email.details["fetch"]["post"].endswith(".json")


def test_ses_s3_out_of_reach_is_retried_then_quarantined_with_the_reason(
    client, agent, jobs, httpserver, django_capture_on_commit_callbacks
):
    seen = fakes.serve_s3(httpserver, data=None, status=503)
    with django_capture_on_commit_callbacks(execute=True):
        _post_ses(client)
    email_id = InboundEmail.objects.get().id
    with pytest.raises(FetchRetryLater) as retry:
        inbound_email_process(inbound_email_id=email_id, attempt=0, final_attempt=False)
    assert retry.value.countdown_s == 2
    email = InboundEmail.objects.get(id=email_id)
    assert email.status == InboundEmail.Status.PROCESSING and "trying again in 2 s" in email.error_message
    assert email.ticket is None
    email = _process(email_id, django_capture_on_commit_callbacks, attempt=1, final_attempt=True)
    assert len(seen) == 2  # one request per attempt: boto3 does not retry on its own
    assert email.status == InboundEmail.Status.QUARANTINED and email.failure_kind == "fetch_failed"
    assert "Amazon S3" in email.error_message and "after 2 attempts" in email.error_message
    assert "ServiceUnavailable" in email.error_message
    # still a ticket a person sees, named after what SES told us
    assert email.ticket.status == Ticket.Status.MANUAL_TRIAGE
    assert email.ticket.subject == "SES: button is cut off"
    assert "could not be fetched" in agent.get(reverse("triage:email-quarantine")).content.decode()

    # once S3 answers again, the retry button reads it into the same ticket
    httpserver.clear()
    fakes.serve_s3(httpserver, data=fakes.message())
    with django_capture_on_commit_callbacks(execute=True):
        agent.post(reverse("triage:email-retry", args=[email_id]))
    email = _process(email_id, django_capture_on_commit_callbacks)
    assert email.status == InboundEmail.Status.TICKETED, email.error_message
    assert Ticket.objects.count() == 1 and email.ticket.subject == fakes.SUBJECT


def test_ses_s3_without_aws_credentials_is_quarantined_at_once_with_a_clear_reason(
    client, jobs, httpserver, monkeypatch, tmp_path, django_capture_on_commit_callbacks
):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with django_capture_on_commit_callbacks(execute=True):
        assert _post_ses(client).status_code == 200
    email = _process(InboundEmail.objects.get().id, django_capture_on_commit_callbacks, final_attempt=False)
    assert email.status == InboundEmail.Status.QUARANTINED
    assert "no AWS credentials" in email.error_message and "AWS_ACCESS_KEY_ID" in email.error_message
    assert httpserver.log == []


def test_brevo_the_job_downloads_the_attachment_with_the_api_key(
    client, jobs, httpserver, django_capture_on_commit_callbacks
):
    seen = fakes.serve_brevo_attachment(httpserver, data=png_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        _post_brevo(client)
    email = _process(InboundEmail.objects.get().id, django_capture_on_commit_callbacks)
    assert email.status == InboundEmail.Status.TICKETED, email.error_message
    assert len(seen) == 1 and seen[0].headers["api-key"] == fakes.BREVO_KEY
    assert email.ticket.subject == "Brevo: cannot change my email address"
    assert email.ticket.attachments.get().original_name == "settings.png"


def test_brevo_download_failing_is_retried_then_quarantined(
    client, jobs, httpserver, django_capture_on_commit_callbacks
):
    seen = fakes.serve_brevo_attachment(httpserver, data=None, status=502)
    with django_capture_on_commit_callbacks(execute=True):
        _post_brevo(client)
    email_id = InboundEmail.objects.get().id
    with pytest.raises(FetchRetryLater):
        inbound_email_process(inbound_email_id=email_id, attempt=2, final_attempt=False)
    email = _process(email_id, django_capture_on_commit_callbacks, attempt=3, final_attempt=True)
    assert len(seen) == 2
    assert email.status == InboundEmail.Status.QUARANTINED and email.failure_kind == "fetch_failed"
    assert "Brevo" in email.error_message and "502" in email.error_message
    assert email.ticket.subject == "Brevo: cannot change my email address"


def test_brevo_without_an_api_key_is_quarantined_at_once(
    client, jobs, settings, django_capture_on_commit_callbacks
):
    settings.ANYMAIL = settings.ANYMAIL | {"BREVO_API_KEY": ""}
    with django_capture_on_commit_callbacks(execute=True):
        _post_brevo(client)
    email = _process(InboundEmail.objects.get().id, django_capture_on_commit_callbacks, final_attempt=False)
    assert email.status == InboundEmail.Status.QUARANTINED and "BREVO_API_KEY" in email.error_message


# --- Resend -----------------------------------------------------------------------------------


def test_resend_a_validly_signed_post_becomes_a_ticket_read_from_the_api(
    client, jobs, httpserver, django_capture_on_commit_callbacks
):
    seen = fakes.serve_resend(httpserver, data=fakes.message())
    with django_capture_on_commit_callbacks(execute=True):
        assert _post_resend(client).status_code == 200
    assert seen == []
    email = _process(InboundEmail.objects.get().id, django_capture_on_commit_callbacks)
    assert email.status == InboundEmail.Status.TICKETED, email.error_message
    assert [r.path for r in seen] == [
        f"/resend/emails/receiving/{fakes.RESEND_EMAIL_ID}",
        "/cdn/raw/email.eml",
    ]
    assert seen[0].headers["Authorization"] == f"Bearer {fakes.RESEND_KEY}"
    assert email.source == "resend" and email.ticket.subject == fakes.SUBJECT
    assert email.ticket.attachments.count() == 1


def test_resend_a_badly_signed_post_is_a_400_and_stores_nothing(client, jobs, httpserver):
    wrong = "whsec_" + base64.b64encode(b"not-the-secret-at-all-00000000").decode()
    response = _post_resend(client, secret=wrong)
    assert response.status_code == 400
    assert not InboundEmail.objects.exists() and jobs == [] and httpserver.log == []


def test_resend_a_signed_body_changed_in_transit_is_refused(client, jobs):
    body = fakes.resend_event()
    headers = _basic() | fakes.svix_headers(RESEND_SECRET, body)
    tampered = body.replace(b"support@triage.local", b"billing@triage.local")
    response = client.post(
        "/intake/email/resend/", tampered, content_type="application/json", headers=headers
    )
    assert response.status_code == 400 and not InboundEmail.objects.exists()


def test_resend_a_tracking_event_at_the_inbound_url_is_a_400_that_says_so(client, jobs, caplog):
    with caplog.at_level("WARNING", logger="triage.views.inbound_email"):
        response = _post_resend(client, body=fakes.resend_event(kind="email.delivered"))
    assert response.status_code == 400 and b"misconfigured webhook" in response.content
    assert "email.delivered" in caplog.text and not InboundEmail.objects.exists()


def test_resend_api_refusing_the_key_is_quarantined_at_once(
    client, jobs, settings, httpserver, django_capture_on_commit_callbacks
):
    settings.ANYMAIL = settings.ANYMAIL | {"RESEND_API_KEY": "re_wrong"}
    fakes.serve_resend(httpserver, data=fakes.message())
    with django_capture_on_commit_callbacks(execute=True):
        _post_resend(client)
    email = _process(InboundEmail.objects.get().id, django_capture_on_commit_callbacks, final_attempt=False)
    assert email.status == InboundEmail.Status.QUARANTINED
    assert "Resend" in email.error_message and "401" in email.error_message


def test_the_stored_post_downloads_as_json_until_the_message_is_fetched(
    client, agent, jobs, settings, django_capture_on_commit_callbacks
):
    settings.ANYMAIL = settings.ANYMAIL | {"BREVO_API_KEY": ""}
    with django_capture_on_commit_callbacks(execute=True):
        _post_brevo(client)
    email = _process(InboundEmail.objects.get().id, django_capture_on_commit_callbacks)
    download = agent.get(reverse("triage:email-raw-file", args=[email.id]))
    assert download.status_code == 200 and download["Content-Type"] == "application/json"
    assert b"DownloadToken" in b"".join(download.streaming_content)


def test_a_brevo_post_not_in_its_documented_format_is_quarantined_not_crashed(
    client, jobs, httpserver, django_capture_on_commit_callbacks
):
    payload = json.loads(fakes.brevo_post())
    payload["items"][0]["Attachments"] = "settings.png"  # a string where a list belongs
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/intake/email/brevo/", json.dumps(payload), content_type="application/json", headers=_basic()
        )
    assert response.status_code == 200
    email = _process(InboundEmail.objects.get().id, django_capture_on_commit_callbacks, final_attempt=False)
    assert email.status == InboundEmail.Status.QUARANTINED
    assert "documented format" in email.error_message and httpserver.log == []
