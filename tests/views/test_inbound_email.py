"""The inbound email endpoints, posted to as the providers and relays do, and the quarantine page."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.test.client import BOUNDARY, encode_multipart
from django.urls import reverse

from triage.models import InboundEmail, Ticket
from triage.services.inbound_email import inbound_email_process
from triage.tasks import attachment_process_task, inbound_email_process_task, ticket_triage_task

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "email"
RAW_URL = "/intake/email/raw/"
SECRET = "test-inbound-secret"
BASIC = "triage-test:webhook-pass"
MAILGUN_KEY = "test-mailgun-signing-key"
# built at run time: the test client re-encodes a body posted with its own MULTIPART_CONTENT object
MULTIPART = "multipart/form-data; boundary=" + BOUNDARY


@pytest.fixture(autouse=True)
def _secrets(settings):
    settings.INBOUND_EMAIL_SECRET = SECRET
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": [BASIC],
        "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY,
        "BREVO_API_KEY": "",
    }


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, dict]]:
    jobs: list[tuple[str, dict]] = []
    monkeypatch.setattr(inbound_email_process_task, "delay", lambda **kw: jobs.append(("intake", kw)))
    monkeypatch.setattr(attachment_process_task, "delay", lambda **kw: jobs.append(("media", kw)))
    monkeypatch.setattr(ticket_triage_task, "delay", lambda **kw: jobs.append(("llm", kw)))
    return jobs


def signed(body: bytes, *, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Triage-Timestamp": ts, "X-Triage-Signature": f"sha256={mac}"}


def eml(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def post_raw(client, body: bytes, *, content_type: str = "message/rfc822", headers: dict | None = None):
    return client.post(RAW_URL, data=body, content_type=content_type, headers=headers or {})


# --- raw MIME endpoint -----------------------------------------------------------------------


def test_a_signed_raw_message_is_stored_and_answered_202_without_login(
    client, sent, django_capture_on_commit_callbacks
):
    body = eml("plain_new.eml")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_raw(client, body, headers=signed(body))
    assert response.status_code == 202
    email = InboundEmail.objects.get()
    assert response.json() == {"id": email.id, "duplicate": False}
    assert email.source == "raw" and email.size_bytes == len(body)
    # hashed as it streamed in: the key and the recorded hash are those of the body
    assert email.sha256 == hashlib.sha256(body).hexdigest() and email.raw.name.endswith(f"{email.sha256}.eml")
    with default_storage.open(email.raw.name, "rb") as fh:
        assert fh.read() == body
    assert sent == [("intake", {"inbound_email_id": email.id})]


def test_the_same_message_posted_again_answers_200_and_changes_nothing(
    client, sent, django_capture_on_commit_callbacks
):
    body = eml("plain_new.eml")
    with django_capture_on_commit_callbacks(execute=True):
        post_raw(client, body, headers=signed(body))
        response = post_raw(client, body, headers=signed(body))
    assert response.status_code == 200
    assert response.json()["duplicate"] is True
    assert InboundEmail.objects.count() == 1 and len(sent) == 1


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "unsigned"),
        ({"X-Triage-Timestamp": "123"}, "unsigned"),
        ({"X-Triage-Timestamp": "soon", "X-Triage-Signature": "sha256=00"}, "bad timestamp"),
        ("wrong-secret", "bad signature"),
        ("tampered", "bad signature"),
        ("stale", "stale timestamp"),
        ("future", "stale timestamp"),
    ],
)
def test_unsigned_badly_signed_or_stale_requests_get_403_and_are_logged(client, caplog, headers, reason):
    body = eml("plain_new.eml")
    if headers == "wrong-secret":
        headers = signed(body, secret="not-the-secret")
    elif headers == "tampered":
        headers = signed(body.replace(b"500", b"501"))
    elif headers == "stale":
        headers = signed(body, timestamp=int(time.time()) - 301)
    elif headers == "future":
        headers = signed(body, timestamp=int(time.time()) + 301)
    with caplog.at_level(logging.WARNING, logger="triage.views.inbound_email"):
        response = post_raw(client, body, headers=headers)
    assert response.status_code == 403
    assert InboundEmail.objects.count() == 0
    assert f"refused ({reason})" in caplog.text


def test_a_timestamp_inside_the_window_is_accepted(client, sent):
    body = eml("plain_new.eml")
    response = post_raw(client, body, headers=signed(body, timestamp=int(time.time()) - 290))
    assert response.status_code == 202


def test_multipart_with_the_message_as_a_file(client, sent):
    message = eml("apple_inline.eml")
    body = encode_multipart(
        BOUNDARY,
        {"recipient": "support@triage.local", "message": _upload("mail.eml", message)},
    )
    response = post_raw(client, body, content_type=MULTIPART, headers=signed(body))
    assert response.status_code == 202
    email = InboundEmail.objects.get()
    assert email.message_id == "APPLE-4F1C-0004@example.com"
    assert email.recipient == "support@triage.local"
    assert email.sha256 == hashlib.sha256(message).hexdigest()  # of the message, not the whole body
    with default_storage.open(email.raw.name, "rb") as fh:
        assert fh.read() == message


def test_multipart_without_a_file_is_a_400(client, sent):
    body = encode_multipart(BOUNDARY, {"recipient": "support@triage.local"})
    response = post_raw(client, body, content_type=MULTIPART, headers=signed(body))
    assert response.status_code == 400
    assert InboundEmail.objects.count() == 0


def test_a_body_far_over_the_limit_is_refused_413(client, settings, sent):
    settings.INBOUND_EMAIL_MAX_BYTES = 100
    body = eml("plain_new.eml")
    assert post_raw(client, body, headers=signed(body)).status_code == 413


def test_the_raw_endpoint_takes_only_post(client):
    assert client.get(RAW_URL).status_code == 405


def _upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="message/rfc822")


# --- providers through anymail ---------------------------------------------------------------


def _basic(credentials: str = BASIC) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def _mailgun_signature() -> dict[str, str]:
    timestamp, token = str(int(time.time())), "a" * 50
    signature = hmac.new(MAILGUN_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"timestamp": timestamp, "token": token, "signature": signature}


def _provider_post(client, provider: str, *, auth: str = BASIC):
    """The provider's documented POST. Returns (response, expected subject)."""
    headers = _basic(auth)
    if provider == "mailgun_mime":
        data = {
            "recipient": "support@triage.local",
            "sender": "tom@example.com",
            "subject": "Button is cut off on the settings page",
            "body-mime": eml("apple_inline.eml").decode(),
            **_mailgun_signature(),
        }
        return client.post(
            "/intake/email/mailgun_mime/", data, headers=headers
        ), "Button is cut off on the settings page"
    if provider == "mailgun":  # parsed fields with the image as an uploaded file
        data = {
            "recipient": "support@triage.local",
            "sender": "lee@example.com",
            "from": "Lee Park <lee@example.com>",
            "subject": "Mailgun: login loops",
            "body-plain": "Logging in sends me back to the login page.",
            "message-headers": json.dumps(
                [
                    ["Message-Id", "<mg-001@example.com>"],
                    ["From", "Lee Park <lee@example.com>"],
                    ["To", "support@triage.local"],
                    ["Subject", "Mailgun: login loops"],
                ]
            ),
            "attachment-count": "1",
            "attachment-1": _png_upload("loop.png"),
            **_mailgun_signature(),
        }
        return client.post("/intake/email/mailgun/", data, headers=headers), "Mailgun: login loops"
    if provider == "sendgrid":  # Inbound Parse with "POST the raw, full MIME message"
        data = {
            "email": eml("apple_inline.eml").decode().replace("APPLE-4F1C-0004", "SG-0001"),
            "envelope": json.dumps({"to": ["support@triage.local"], "from": "tom@example.com"}),
            "charsets": json.dumps({"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8"}),
            "spam_score": "0.1",
        }
        return client.post(
            "/intake/email/sendgrid/", data, headers=headers
        ), "Button is cut off on the settings page"
    payload = (FIXTURES / "providers" / f"{provider}.json").read_text()
    if provider == "amazon_ses":
        message_id = json.loads(payload)["MessageId"]
        headers |= {"x-amz-sns-message-type": "Notification", "x-amz-sns-message-id": message_id}
        subject = "SES: button is cut off on the settings page"
    else:
        subject = {
            "postmark": "Postmark: dashboard is blank",
            "mailjet": "Mailjet: export to CSV is empty",
            "brevo": "Brevo: cannot change my email address",
            "sparkpost": "SparkPost: button is cut off on the settings page",
        }[provider]
    return client.post(
        f"/intake/email/{provider}/", payload, content_type="application/json", headers=headers
    ), subject


def _png_upload(name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.factories import png_bytes

    return SimpleUploadedFile(name, png_bytes(), content_type="image/png")


PROVIDERS_WITH_IMAGE = [
    "mailgun_mime",
    "mailgun",
    "sendgrid",
    "postmark",
    "amazon_ses",
    "sparkpost",
    "mailjet",
]


@pytest.mark.parametrize("provider", [*PROVIDERS_WITH_IMAGE, "brevo"])
def test_each_provider_post_becomes_one_email_ticket(
    client, sent, provider, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response, subject = _provider_post(client, provider)
    assert response.status_code == 200, response.content
    email = InboundEmail.objects.get()
    assert email.source == {"mailgun_mime": "mailgun"}.get(provider, provider)
    assert email.recipient == "support@triage.local"
    assert sent == [("intake", {"inbound_email_id": email.id})]
    with django_capture_on_commit_callbacks(execute=True):
        inbound_email_process(inbound_email_id=email.id)
    email.refresh_from_db()
    assert email.status == InboundEmail.Status.TICKETED, email.error_message
    assert email.ticket.subject == subject
    assert email.ticket.channel == Ticket.Channel.EMAIL
    assert email.ticket.description
    if provider in PROVIDERS_WITH_IMAGE:
        assert email.ticket.attachments.count() == 1
    # the provider's retry of the same post is a no-op
    with django_capture_on_commit_callbacks(execute=True):
        assert _provider_post(client, provider)[0].status_code == 200
    assert InboundEmail.objects.count() == 1 and Ticket.objects.count() == 1


@pytest.mark.parametrize("provider", [*PROVIDERS_WITH_IMAGE, "brevo"])
def test_each_provider_post_with_wrong_credentials_is_refused(client, sent, provider):
    response, _ = _provider_post(client, provider, auth="triage-test:wrong")
    assert response.status_code in (400, 401, 403)
    assert InboundEmail.objects.count() == 0


def _ses_post(client, *, message_type: str = "Notification", headers: dict[str, str] | None = None):
    payload = json.loads((FIXTURES / "providers" / "amazon_ses.json").read_text())
    payload["Type"] = message_type
    if message_type == "SubscriptionConfirmation":
        payload |= {"Token": "token-1", "SubscribeURL": "https://sns.example.invalid/confirm"}
    sns = {"x-amz-sns-message-type": message_type, "x-amz-sns-message-id": payload["MessageId"]}
    return client.post(
        "/intake/email/amazon_ses/",
        json.dumps(payload),
        content_type="text/plain; charset=UTF-8",  # what SNS sends
        headers=sns | (headers or {}),
    )


@pytest.fixture
def sns_confirmations(monkeypatch) -> list[str]:
    """anymail confirms an SNS subscription through boto3 (the network): record any attempt."""
    from anymail.webhooks.amazon_ses import AmazonSESInboundWebhookView

    calls: list[str] = []
    monkeypatch.setattr(
        AmazonSESInboundWebhookView, "get_boto_client", lambda self, name, **kw: calls.append(name)
    )
    return calls


@pytest.mark.parametrize("message_type", ["Notification", "SubscriptionConfirmation"])
def test_an_ses_post_without_credentials_gets_the_basic_auth_challenge_and_stores_nothing(
    client, sent, sns_confirmations, message_type
):
    """anymail does not verify SNS signatures (it would fetch Amazon's certificate at run time):
    the shared basic-auth secret in the subscription URL is what keeps forged posts out."""
    response = _ses_post(client, message_type=message_type)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic ")
    assert InboundEmail.objects.count() == 0 and sent == [] and sns_confirmations == []


def test_an_ses_post_with_the_right_credentials_but_sns_headers_that_do_not_match_is_refused(client, sent):
    response = _ses_post(client, headers=_basic() | {"x-amz-sns-message-id": "forged-id"})
    assert response.status_code == 400
    assert InboundEmail.objects.count() == 0 and sent == []


def test_a_mailgun_post_with_a_forged_signature_is_refused(client, sent):
    data = {
        "recipient": "support@triage.local",
        "body-mime": eml("plain_new.eml").decode(),
        **_mailgun_signature(),
        "signature": "0" * 64,
    }
    response = client.post("/intake/email/mailgun_mime/", data, headers=_basic())
    assert response.status_code == 400
    assert InboundEmail.objects.count() == 0


# --- quarantine page --------------------------------------------------------------------------


def _quarantined(client, sent, django_capture_on_commit_callbacks) -> InboundEmail:
    body = eml("not_an_email.bin")
    with django_capture_on_commit_callbacks(execute=True):
        post_raw(client, body, content_type="application/octet-stream", headers=signed(body))
    email = InboundEmail.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        inbound_email_process(inbound_email_id=email.id)
    email.refresh_from_db()
    return email


def test_the_quarantine_page_lists_unreadable_mail_with_its_eml_and_a_retry_button(
    client, agent, sent, django_capture_on_commit_callbacks
):
    email = _quarantined(client, sent, django_capture_on_commit_callbacks)
    page = agent.get(reverse("triage:email-quarantine"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "not an email message" in html
    assert reverse("triage:email-raw-file", args=[email.id]) in html
    assert reverse("triage:email-retry", args=[email.id]) in html
    assert email.ticket.reference in html

    download = agent.get(reverse("triage:email-raw-file", args=[email.id]))
    assert download.status_code == 200
    assert download["Content-Type"] == "message/rfc822"
    assert "attachment" in download["Content-Disposition"]
    assert b"".join(download.streaming_content) == eml("not_an_email.bin")

    with django_capture_on_commit_callbacks(execute=True):
        response = agent.post(reverse("triage:email-retry", args=[email.id]))
    assert response.status_code == 302
    email.refresh_from_db()
    assert email.status == InboundEmail.Status.RECEIVED
    assert sent[-1] == ("intake", {"inbound_email_id": email.id})


def test_the_quarantine_page_and_the_eml_need_a_login(client, sent, django_capture_on_commit_callbacks):
    email = _quarantined(client, sent, django_capture_on_commit_callbacks)
    client.logout()
    assert client.get(reverse("triage:email-quarantine")).status_code == 302
    assert client.get(reverse("triage:email-raw-file", args=[email.id])).status_code == 302
    assert client.post(reverse("triage:email-retry", args=[email.id])).status_code == 302
    email.refresh_from_db()
    assert email.status == InboundEmail.Status.QUARANTINED


def test_the_ticket_page_says_why_a_message_was_threaded(
    client, agent, sent, django_capture_on_commit_callbacks
):
    for name in ("plain_new.eml", "reply_in_reply_to.eml", "reply_references.eml"):
        body = eml(name)
        with django_capture_on_commit_callbacks(execute=True):
            post_raw(client, body, headers=signed(body))
    for email in InboundEmail.objects.order_by("id"):
        with django_capture_on_commit_callbacks(execute=True):
            inbound_email_process(inbound_email_id=email.id)
    ticket = Ticket.objects.get()
    html = agent.get(reverse("triage:ticket-detail", args=[ticket.id])).content.decode()
    assert "Started this ticket" in html
    assert "In-Reply-To names a message of this ticket" in html
    assert "References names a message of this ticket" in html
    assert "It also happens with PayPal now." in html
    assert "Quoted text and signature" in html


def test_inbound_mail_can_be_looked_at_in_the_admin_but_not_added(client, sent):
    from tests.factories import StaffUserFactory

    body = eml("plain_new.eml")
    post_raw(client, body, headers=signed(body))
    staff = StaffUserFactory(is_superuser=True)
    client.force_login(staff)
    page = client.get(reverse("admin:triage_inboundemail_changelist"))
    assert page.status_code == 200 and "Checkout fails with error 500" in page.content.decode()
    assert client.get(reverse("admin:triage_inboundemail_add")).status_code == 403


def test_a_signed_empty_body_is_a_400(client, sent):
    response = post_raw(client, b"", headers=signed(b""))
    assert response.status_code == 400
    assert InboundEmail.objects.count() == 0


def test_a_relay_post_is_one_insert_and_no_session(client, sent, django_assert_num_queries):
    """A relay has no session: the webhook reads no session or user, and stores the message with one
    INSERT (in a savepoint here, inside the test's transaction), its job published once stored."""
    body = eml("plain_new.eml")
    with django_assert_num_queries(3) as queries:  # SAVEPOINT, INSERT, RELEASE SAVEPOINT
        response = post_raw(client, body, headers=signed(body))
    assert response.status_code == 202
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert statements.count("INSERT") == 1 and "SELECT" not in statements
