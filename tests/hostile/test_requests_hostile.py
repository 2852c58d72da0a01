"""The worst inputs found (the crashes the property tests and bench/fuzz.py found, before their
fixes, and the slowest fuzz inputs kept under tests/fixtures/hostile/) posted over real HTTP to the
real endpoints: the raw email webhook with a valid signature and the upload form. Every answer is
a 2xx or a 4xx, never a 5xx; then the job each accepted input queues (the intake parse, the media
step) is run and ends in a recorded state, never a crash nor a "bug" failure."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from pathlib import Path

import pytest
import requests
from django.contrib.auth import get_user_model

from tests import media_samples as samples
from tests.hostile.seeds import image_seeds, png_claiming_size, video_seeds
from triage.models import Attachment, InboundEmail
from triage.services.inbound_email import inbound_email_process
from triage.services.media import attachment_process

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hostile"
SECRET = "hostile-inbound-secret"
PNG = samples.image_bytes("PNG", size=(64, 48))


def _nested(depth: int) -> bytes:
    inner = b"From: a@example.com\r\nSubject: deep\r\n\r\nhello\r\n"
    for i in range(depth):
        head = f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n".encode()
        inner = head + inner + f"\r\n--b{i}--\r\n".encode()
    return b"From: x@example.com\r\nSubject: nest\r\n" + inner


def _part(headers: str, body: bytes) -> bytes:
    return headers.encode() + b"\r\n\r\n" + body


def _worst_emails() -> dict[str, bytes]:
    mail = b"From: someone@example.com\r\nTo: support@triage.local\r\nSubject: hostile\r\n"
    emails = {
        # each of these crashed email_parse or header_peek before the fixes in this branch
        "deep-nesting": _nested(3000),
        "nul-in-charset": mail + b'Content-Type: text/plain; charset="utf-8\x00"\r\n\r\nbody',
        "idna-charset": mail + b'Content-Type: text/plain; charset="idna"\r\n\r\n\xc2=Z!',
        "rot13-charset": mail + b'Content-Type: text/plain; charset="rot13"\r\n\r\n\xc2=Z!',
        "punycode-uuencoded": mail
        + b'Content-Type: text/plain; charset="punycode"\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n'
        + b"begin 644 file\n=Z!,# P+0  \n`\nend\n",
        "broken-base64-word": b"From: a@example.com\r\nSubject: =?x-bogus?b?\x006l0w6k=?= and more\r\n\r\nhi",
        "slash-content-id": mail
        + b"Content-Type: multipart/related; boundary=B\r\n\r\n--B\r\n"
        + _part("Content-Type: text/html\r\n", b'<img src="cid:/">')
        + b"\r\n--B\r\n"
        + _part(
            "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\nContent-ID: </>",
            base64.encodebytes(PNG),
        )
        + b"\r\n--B--\r\n",
        # and inputs that are merely nasty
        "not-mail": bytes(range(256)) * 16,
        "huge-header": b"From: a@example.com\r\nSubject: " + b"a" * 200_000 + b"\r\n\r\nbody",
        "two-thousand-parts": mail
        + b"Content-Type: multipart/mixed; boundary=P\r\n\r\n"
        + b"".join(b"--P\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(2000))
        + b"--P--\r\n",
    }
    for path in sorted(FIXTURES.glob("email-*.bin")):
        emails[path.stem] = path.read_bytes()
    return emails


def _worst_uploads() -> dict[str, bytes]:
    mp4, webm = video_seeds()
    uploads = {
        "png-claims-2g-pixels-wide": png_claiming_size(2**31 - 1, 2**31 - 1),
        "png-bomb": samples.bomb_png(),
        "mp4-cut-at-10-percent": samples.truncated(mp4, 0.1),
        "webm-cut-at-half": samples.truncated(webm, 0.5),
        "mp4-ftyp-size-ffffffff": b"\xff\xff\xff\xff" + mp4[4:],
        "gif-js-polyglot": samples.POLYGLOT_GIF_JS,
        "html-with-png-later": samples.HTML_WITH_PNG_LATER,
        "jpeg-cut-at-half": samples.truncated(image_seeds()[1], 0.5),
    }
    for path in sorted(FIXTURES.glob("upload-*.bin")):
        uploads[path.stem] = path.read_bytes()
    return uploads


def _signed(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Triage-Timestamp": ts, "X-Triage-Signature": f"sha256={mac}", "Content-Type": "message/rfc822"}


def test_the_worst_emails_get_a_2xx_or_4xx_and_end_parsed_or_quarantined_never_as_a_bug(
    live_server, settings
):
    settings.INBOUND_EMAIL_SECRET = SECRET
    answers = {}
    for name, raw in _worst_emails().items():
        response = requests.post(
            f"{live_server.url}/intake/email/raw/", data=raw, headers=_signed(raw), timeout=60
        )
        answers[name] = response.status_code
        assert response.status_code < 500, (name, response.status_code, response.text[:300])
        if response.status_code in (200, 202):
            inbound_email_process(inbound_email_id=response.json()["id"])  # what the intake worker runs
    assert all(code in (200, 202) for code in answers.values()), answers  # signed: all are stored
    emails = list(InboundEmail.objects.all())
    assert {e.status for e in emails} <= {
        InboundEmail.Status.TICKETED,
        InboundEmail.Status.THREADED,
        InboundEmail.Status.AUTOMATIC,
        InboundEmail.Status.QUARANTINED,
    }
    assert [e.subject for e in emails if e.failure_kind == "bug"] == []
    # the deep one is quarantined as unreadable, with the reason; nothing is lost
    deep = InboundEmail.objects.get(subject="nest")
    assert deep.status == InboundEmail.Status.QUARANTINED and deep.failure_kind == "bad_input"


def _login(base: str) -> requests.Session:
    get_user_model().objects.create_user("hostile-agent", password="hostile-pass-123")
    session = requests.Session()
    session.get(f"{base}/accounts/login/", timeout=10)
    response = session.post(
        f"{base}/accounts/login/",
        data={
            "username": "hostile-agent",
            "password": "hostile-pass-123",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=10,
    )
    assert "/accounts/login/" not in response.url
    return session


def test_the_worst_uploads_get_a_2xx_3xx_or_4xx_and_end_processed_or_rejected_never_as_a_bug(
    live_server, taxonomy
):
    session = _login(live_server.url)
    created = []
    uploads = {f"{name}.bin": data for name, data in _worst_uploads().items()}
    # and a valid screenshot under a hostile name: NUL (PostgreSQL refuses it), folders, control bytes
    uploads["..\\..\\a\x00b\x1b[31m.png"] = PNG
    for filename, data in uploads.items():
        name = filename.removesuffix(".bin")
        session.get(f"{live_server.url}/tickets/new/", timeout=10)
        response = session.post(
            f"{live_server.url}/tickets/new/",
            data={
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
                "subject": f"hostile upload {len(created)}",
                "description": "A file from the fuzzing run.",
                "requester_email": "fuzz@example.com",
            },
            files=[("attachments", (filename, data, "application/octet-stream"))],
            headers={"Referer": f"{live_server.url}/tickets/new/"},
            timeout=60,
            allow_redirects=False,
        )
        assert response.status_code < 500, (name, response.status_code, response.text[:300])
        if response.status_code == 302:
            assert re.search(r"/tickets/\d+/", response.headers["Location"]), name
            created.append(name)
        else:  # refused by the form, with the reason shown
            assert response.status_code == 200 and "errorlist" in response.text, name
    assert created, "every hostile upload was refused by sniffing: the media step was never exercised"
    for attachment in Attachment.objects.all():
        attachment_process(attachment_id=attachment.id)  # what the media worker runs
        attachment.refresh_from_db()
        assert attachment.status in (Attachment.Status.DONE, Attachment.Status.REJECTED), (
            attachment.original_name,
            attachment.status,
            attachment.reject_reason,
        )
        assert attachment.failure_kind != "bug", (attachment.original_name, attachment.reject_reason)
        assert "\x00" not in attachment.original_name and "/" not in attachment.original_name
    assert Attachment.objects.filter(original_name__endswith=".png", status=Attachment.Status.DONE).exists()
