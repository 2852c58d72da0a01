"""MailerSend, Mandrill and Postal inbound webhooks: each provider's documented payload, signed the
way the provider documents, posted to the real endpoint. A valid signature becomes a ticket; a bad
one is a 400 and stores nothing.

- MailerSend: `Signature` header, hex HMAC-SHA256 of the raw body with the route's signing secret.
- Mandrill: `X-Mandrill-Signature`, base64 HMAC-SHA1 of the exact URL (basic auth included) followed
  by each POST key and value, keys sorted.
- Postal: `X-Postal-Signature`, base64 RSA PKCS#1 v1.5 SHA-1 signature of the raw body with the
  server's private key; we hold the public key (a key pair is made here).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from triage.models import InboundEmail, Ticket
from triage.services.inbound_email import inbound_email_process

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "email"
BASIC = "triage-test:webhook-pass"
MAILERSEND_SECRET = "test-mailersend-signing-secret"
MANDRILL_KEY = "test-mandrill-webhook-key"
SUBJECT = "Button is cut off on the settings page"


@pytest.fixture(scope="module")
def postal_keys() -> tuple[rsa.RSAPrivateKey, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(public_der).decode()


@pytest.fixture(autouse=True)
def _keys(settings, postal_keys):
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": [BASIC],
        "MAILERSEND_INBOUND_SECRET": MAILERSEND_SECRET,
        "MANDRILL_WEBHOOK_KEY": MANDRILL_KEY,
        "POSTAL_WEBHOOK_KEY": postal_keys[1],
    }


def _basic() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(BASIC.encode()).decode()}


def _raw() -> str:
    return (FIXTURES / "apple_inline.eml").read_text()


def _mailersend(client, *, good: bool):
    # https://developers.mailersend.com/api/v1/inbound.html (inbound.message webhook)
    body = json.dumps(
        {
            "type": "inbound.message",
            "inbound_id": "inb-1",
            "data": {
                "id": "ms-1",
                "created_at": "2026-12-05T09:00:00.000000Z",
                "raw": _raw(),
                "sender": {"email": "tom@example.com"},
                "recipients": {"rcptTo": [{"email": "support@triage.local"}]},
            },
        }
    ).encode()
    key = MAILERSEND_SECRET if good else "not-the-secret"
    signature = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    return client.post(
        "/intake/email/mailersend/",
        body,
        content_type="application/json",
        headers=_basic() | {"Signature": signature},
    )


def _mandrill(client, *, good: bool):
    # https://mailchimp.com/developer/transactional/guides/track-respond-activity-webhooks/
    events = [
        {
            "event": "inbound",
            "ts": 1764925200,
            "msg": {"raw_msg": _raw(), "email": "support@triage.local", "from_email": "tom@example.com"},
        }
    ]
    params = {"mandrill_events": json.dumps(events)}
    url = f"http://{BASIC}@testserver/intake/email/mandrill/"
    signed = url + "".join(k + params[k] for k in sorted(params))
    key = MANDRILL_KEY if good else "not-the-key"
    signature = base64.b64encode(hmac.new(key.encode(), signed.encode(), hashlib.sha1).digest()).decode()
    return client.post(
        "/intake/email/mandrill/", params, headers=_basic() | {"X-Mandrill-Signature": signature}
    )


def _postal(client, postal_keys, *, good: bool):
    # https://docs.postalserver.io/developer/http-payloads (raw message, base64)
    body = json.dumps(
        {
            "id": 101,
            "rcpt_to": "support@triage.local",
            "mail_from": "tom@example.com",
            "message": base64.b64encode(_raw().encode()).decode(),
            "base64": True,
            "size": len(_raw()),
        }
    ).encode()
    private = postal_keys[0] if good else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # Postal signs with SHA-1: its wire format, not our choice
    signature = base64.b64encode(private.sign(body, padding.PKCS1v15(), hashes.SHA1())).decode()  # noqa: S303
    return client.post(
        "/intake/email/postal/",
        body,
        content_type="application/json",
        headers=_basic() | {"X-Postal-Signature": signature},
    )


def _post(provider: str, client, postal_keys, *, good: bool):
    if provider == "postal":
        return _postal(client, postal_keys, good=good)
    return {"mailersend": _mailersend, "mandrill": _mandrill}[provider](client, good=good)


@pytest.mark.parametrize("provider", ["mailersend", "mandrill", "postal"])
def test_a_validly_signed_post_becomes_an_email_ticket(
    client, provider, postal_keys, django_capture_on_commit_callbacks, monkeypatch
):
    from triage.tasks import inbound_email_process_task

    queued: list[dict] = []
    monkeypatch.setattr(inbound_email_process_task, "delay", lambda **kw: queued.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(provider, client, postal_keys, good=True)
    assert response.status_code == 200, response.content
    email = InboundEmail.objects.get()
    assert email.source == provider and email.recipient == "support@triage.local"
    assert queued == [{"inbound_email_id": email.id}]
    inbound_email_process(inbound_email_id=email.id)
    email.refresh_from_db()
    assert email.status == InboundEmail.Status.TICKETED, email.error_message
    assert email.ticket.subject == SUBJECT and email.ticket.channel == Ticket.Channel.EMAIL


@pytest.mark.parametrize("provider", ["mailersend", "mandrill", "postal"])
def test_a_badly_signed_post_is_a_400_and_stores_nothing(client, provider, postal_keys):
    response = _post(provider, client, postal_keys, good=False)
    assert response.status_code == 400
    assert not InboundEmail.objects.exists()


def test_a_tracking_event_posted_to_the_inbound_url_is_a_400_that_says_so_and_is_logged(client, caplog):
    body = json.dumps({"type": "activity.sent", "data": {"id": "ms-2"}}).encode()
    signature = hmac.new(MAILERSEND_SECRET.encode(), body, hashlib.sha256).hexdigest()
    with caplog.at_level("WARNING", logger="triage.views.inbound_email"):
        response = client.post(
            "/intake/email/mailersend/",
            body,
            content_type="application/json",
            headers=_basic() | {"Signature": signature},
        )
    assert response.status_code == 400 and b"misconfigured webhook" in response.content
    assert "activity.sent" in caplog.text and not InboundEmail.objects.exists()
