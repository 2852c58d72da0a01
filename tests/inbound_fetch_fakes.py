"""Posts from providers that only point at the message, and local fakes of where it is fetched from.

- Amazon SES with the S3 receipt action: an SNS Notification whose `receipt.action` names a bucket and
  key (https://docs.aws.amazon.com/ses/latest/dg/receiving-email-notifications-contents.html); the
  fake S3 answers GetObject (`GET /<bucket>/<key>`, path style, SigV4-signed by boto3).
- Brevo inbound parsing: an item with `Attachments[].DownloadToken`; the fake API answers
  `GET /v3/inbound/attachments/<token>` when the `api-key` header is right.
- Resend `email.received`: metadata only, signed with Svix (`svix-id`, `svix-timestamp`,
  `svix-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, the key being the base64
  after `whsec_`); the fake API answers `GET /emails/receiving/<id>` with a `raw.download_url`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "email"
BUCKET, OBJECT_KEY = "triage-inbound", "mail/7b1c0e2f"
AWS_KEY, AWS_SECRET = "AKIATRIAGETEST", "triage-test-secret"
BREVO_KEY, RESEND_KEY = "test-brevo-api-key", "re_test_api_key"
BREVO_TOKEN = "tok-7f3a9c1e"  # a download token, not a secret
RESEND_EMAIL_ID = "56761188-7520-42d8-8898-ff6fc54ce618"
SUBJECT = "Button is cut off on the settings page"  # apple_inline.eml, one inline PNG


def message() -> bytes:
    return (FIXTURES / "apple_inline.eml").read_bytes()


def ses_s3_post(*, bucket: str = BUCKET, key: str = OBJECT_KEY) -> tuple[str, dict[str, str]]:
    """The SNS Notification SES posts for the S3 action (no content: it is in the bucket)."""
    sns = json.loads((FIXTURES / "providers" / "amazon_ses.json").read_text())
    ses = json.loads(sns["Message"])
    ses.pop("content", None)
    ses["mail"]["messageId"] = "sess3msg0001"
    ses["receipt"]["action"] = {
        "type": "S3",
        "topicArn": "arn:aws:sns:us-east-1:111122223333:triage-inbound",
        "bucketName": bucket,
        "objectKeyPrefix": "mail",
        "objectKey": key,
    }
    sns["Message"] = json.dumps(ses)
    sns["MessageId"] = "sns-s3-0001"
    headers = {"x-amz-sns-message-type": "Notification", "x-amz-sns-message-id": sns["MessageId"]}
    return json.dumps(sns), headers


def serve_s3(httpserver: HTTPServer, *, data: bytes | None, status: int = 200) -> list[Request]:
    """GetObject for BUCKET/OBJECT_KEY: the bytes, or an S3 error document with `status`."""
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        if not request.headers.get("Authorization", "").startswith(f"AWS4-HMAC-SHA256 Credential={AWS_KEY}/"):
            return _s3_error(403, "AccessDenied", "unsigned request")
        if data is None:
            return _s3_error(status, "ServiceUnavailable" if status >= 500 else "NoSuchKey", "fake S3")
        return Response(data, status=200, content_type="application/octet-stream", headers={"ETag": '"x"'})

    httpserver.expect_request(f"/{BUCKET}/{OBJECT_KEY}", method="GET").respond_with_handler(handler)
    return seen


def _s3_error(status: int, code: str, text: str) -> Response:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{text}</Message></Error>'
    )
    return Response(body, status=status, content_type="application/xml")


def brevo_post(*, token: str = BREVO_TOKEN) -> str:
    """Brevo's inbound post for a mail with one attachment (download token only)."""
    payload = json.loads((FIXTURES / "providers" / "brevo.json").read_text())
    item = payload["items"][0]
    item["Uuid"] = ["a1b2c3d4-0002"]
    item["Attachments"] = [
        {
            "Name": "settings.png",
            "ContentType": "image/png",
            "ContentLength": 120,
            "ContentID": None,
            "DownloadToken": token,
        }
    ]
    return json.dumps(payload)


def serve_brevo_attachment(
    httpserver: HTTPServer, *, data: bytes | None, token: str = BREVO_TOKEN, status: int = 200
) -> list[Request]:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        if request.headers.get("api-key") != BREVO_KEY:
            return Response('{"code":"unauthorized"}', status=401, content_type="application/json")
        if data is None:
            return Response('{"code":"internal_error"}', status=status, content_type="application/json")
        return Response(data, status=200, content_type="image/png")

    httpserver.expect_request(f"/v3/inbound/attachments/{token}", method="GET").respond_with_handler(handler)
    return seen


def resend_event(email_id: str = RESEND_EMAIL_ID, *, kind: str = "email.received") -> bytes:
    """https://resend.com/docs/webhooks/emails/received"""
    return json.dumps(
        {
            "type": kind,
            "created_at": "2026-12-05T09:00:00.126Z",
            "data": {
                "email_id": email_id,
                "created_at": "2026-12-05T09:00:00.000000+00:00",
                "from": "Tom Reed <tom@example.com>",
                "to": ["support@triage.local"],
                "cc": [],
                "bcc": [],
                "message_id": "<APPLE-4F1C-0004@example.com>",
                "subject": SUBJECT,
                "attachments": [{"id": "att-1", "filename": "image.png", "content_type": "image/png"}],
            },
        }
    ).encode()


def svix_headers(secret: str, body: bytes, *, msg_id: str = "msg_2test0001") -> dict[str, str]:
    timestamp = str(int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "svix-id": msg_id,
        "svix-timestamp": timestamp,
        "svix-signature": "v1," + base64.b64encode(mac).decode(),
    }


def serve_resend(httpserver: HTTPServer, *, data: bytes | None, status: int = 200) -> list[Request]:
    """The retrieve-received-email API and its raw download URL."""
    seen: list[Request] = []
    raw_url = httpserver.url_for("/cdn/raw/email.eml") + "?token=abc123"

    def api(request: Request) -> Response:
        seen.append(request)
        if request.headers.get("Authorization") != f"Bearer {RESEND_KEY}":
            return Response('{"name":"validation_error"}', status=401, content_type="application/json")
        if data is None:
            return Response(
                '{"name":"internal_server_error"}', status=status, content_type="application/json"
            )
        body = {
            "object": "email",
            "id": RESEND_EMAIL_ID,
            "to": ["support@triage.local"],
            "from": "Tom Reed <tom@example.com>",
            "subject": SUBJECT,
            "message_id": "<APPLE-4F1C-0004@example.com>",
            "attachments": [],
            "raw": {"download_url": raw_url, "expires_at": "2026-12-06T09:00:00+00:00"},
        }
        return Response(json.dumps(body), content_type="application/json")

    def raw(request: Request) -> Response:
        seen.append(request)
        return Response(data or b"", content_type="message/rfc822")

    httpserver.expect_request(
        f"/resend/emails/receiving/{RESEND_EMAIL_ID}", method="GET"
    ).respond_with_handler(api)
    httpserver.expect_request("/cdn/raw/email.eml", method="GET").respond_with_handler(raw)
    return seen
