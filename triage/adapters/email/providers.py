"""Fetch a message a provider's webhook only points at: Amazon SES's S3 action, Brevo's inbound
attachments, Resend's received emails. Pure: every address, key and limit is an argument (no ORM,
no settings); called by the `intake` worker, never inside the webhook's request.

Each function returns the message as raw MIME bytes, built the way anymail builds it (its
`AnymailInboundMessage`), or raises `FetchFailed`: `permanent` when trying again cannot help (no
credentials, the provider refused the key, the object is gone), else the caller retries later.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import unquote
from typing import Any
from urllib.parse import quote, urljoin

import requests
from anymail.inbound import AnymailInboundMessage

_CHUNK = 64 * 1024
# answers that say the request itself is wrong: trying again later would get the same answer
_REFUSED = {400, 401, 403, 404, 410}


class FetchFailed(Exception):
    """Why the message could not be fetched, in words an agent can act on."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class HttpLimits:
    timeout_s: float
    max_bytes: int


def message_bytes(message: AnymailInboundMessage) -> bytes:
    """The message as MIME bytes, even with a header the default policy cannot fold."""
    try:
        return message.as_bytes()
    except Exception:  # the lenient serializer, as for any provider's message
        return message.as_string(policy=message.policy.clone(max_line_length=0)).encode("utf-8", "replace")


def _capped(chunks: Iterator[bytes], *, max_bytes: int, what: str) -> bytes:
    out = bytearray()
    for chunk in chunks:
        out += chunk
        if len(out) > max_bytes:
            raise FetchFailed(
                f"{what} is larger than {max_bytes // (1024 * 1024)} MB; not downloaded", permanent=True
            )
    return bytes(out)


def _http_get(url: str, *, headers: dict[str, str], limits: HttpLimits, what: str) -> tuple[bytes, str]:
    """GET with a timeout and a size cap. Returns (body, Content-Type)."""
    try:
        with requests.get(url, headers=headers, timeout=limits.timeout_s, stream=True) as response:
            if response.status_code >= 400:
                raise FetchFailed(
                    f"{what}: {response.status_code} {response.reason} from {_origin(url)}",
                    permanent=response.status_code in _REFUSED,
                )
            body = _capped(response.iter_content(_CHUNK), max_bytes=limits.max_bytes, what=what)
            return body, response.headers.get("Content-Type", "")
    except requests.RequestException as exc:
        raise FetchFailed(f"{what}: {type(exc).__name__} reaching {_origin(url)}") from exc


def _origin(url: str) -> str:
    """Scheme and host only: download URLs carry tokens that do not belong in a log or on a page."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


# --- Amazon SES: the S3 action ---------------------------------------------------------------


def ses_s3_fetch(
    *,
    bucket: str,
    key: str,
    endpoint_url: str | None,
    region: str | None,
    limits: HttpLimits,
) -> bytes:
    """The raw message SES's receipt rule wrote to S3 (GetObject, signed with boto3's own
    credential chain: AWS_ACCESS_KEY_ID..., an instance role)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    what = f"S3 object {bucket}/{key}"
    config = Config(
        connect_timeout=limits.timeout_s,
        read_timeout=limits.timeout_s,
        retries={"total_max_attempts": 1},  # one request: the worker retries, with its backoff
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    client = boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url or None, region_name=region or None, config=config
    )
    try:
        response = client.get_object(Bucket=bucket, Key=key)
        size = int(response.get("ContentLength") or 0)
        if size > limits.max_bytes:
            raise FetchFailed(
                f"{what} is {size / (1024 * 1024):.1f} MB, over the "
                f"{limits.max_bytes // (1024 * 1024)} MB limit; not downloaded",
                permanent=True,
            )
        body = response["Body"]
        try:
            return _capped(body.iter_chunks(_CHUNK), max_bytes=limits.max_bytes, what=what)
        finally:
            body.close()
    except NoCredentialsError as exc:
        raise FetchFailed(
            f"no AWS credentials to download {what}: give the intake worker AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or an instance role) that may read the bucket",
            permanent=True,
        ) from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        raise FetchFailed(
            f"{what}: {error.get('Code', 'error')} ({status}) {error.get('Message', '')}".strip(),
            permanent=status in _REFUSED,
        ) from exc
    except BotoCoreError as exc:  # connection refused, timeouts, a cut read
        raise FetchFailed(f"{what}: {type(exc).__name__}: {exc}") from exc
    finally:
        client.close()


# --- Brevo: attachments are download tokens ----------------------------------------------------


def brevo_message_build(*, item: dict[str, Any], api_url: str, api_key: str, limits: HttpLimits) -> bytes:
    """One item of Brevo's inbound post as a message, its attachments downloaded with the API key
    (as anymail's BrevoInboundWebhookView builds it)."""
    if not api_key:
        raise FetchFailed(
            "Brevo's attachments are downloaded with an API key: set BREVO_API_KEY", permanent=True
        )
    base = api_url if api_url.endswith("/") else api_url + "/"
    attachments = []
    for attachment in item.get("Attachments") or []:
        token = str(attachment.get("DownloadToken") or "")
        name = attachment.get("Name")
        if not token:
            raise FetchFailed(f"Brevo attachment {name!r} has no download token", permanent=True)
        url = urljoin(base, f"inbound/attachments/{quote(token, safe='')}")
        content, content_type = _http_get(
            url, headers={"api-key": api_key}, limits=limits, what=f"Brevo attachment {name!r}"
        )
        attachments.append(
            AnymailInboundMessage.construct_attachment(
                content_type=content_type or attachment.get("ContentType") or "application/octet-stream",
                content=content,
                filename=name,
                content_id=attachment.get("ContentID"),
            )
        )
    headers = [
        (name, value)
        for name, values in (item.get("Headers") or {}).items()
        for value in ([values] if isinstance(values, str) else values or [])
    ]
    message = AnymailInboundMessage.construct(
        headers=headers,
        text=item.get("RawTextBody", ""),
        html=item.get("RawHtmlBody", ""),
        attachments=attachments,
    )
    if message["Delivered-To"]:
        message.envelope_recipient = unquote(message["Delivered-To"])
    return message_bytes(message)


# --- Resend: the webhook carries an id; the message is read from the API ---------------------


def resend_message_fetch(*, email_id: str, api_url: str, api_key: str, limits: HttpLimits) -> bytes:
    """GET /emails/receiving/{id}; the raw MIME from its `raw.download_url` when there is one,
    else the message built from the parsed fields with the attachments downloaded (as anymail's
    ResendInboundWebhookView does)."""
    import json

    if not api_key:
        raise FetchFailed(
            "Resend's received emails are read with an API key: set RESEND_API_KEY", permanent=True
        )
    base = api_url if api_url.endswith("/") else api_url + "/"
    body, _ = _http_get(
        urljoin(base, f"emails/receiving/{quote(email_id, safe='')}"),
        headers={"Authorization": f"Bearer {api_key}"},
        limits=limits,
        what=f"Resend email {email_id}",
    )
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise FetchFailed(f"Resend email {email_id}: the API answered with something not JSON") from exc
    if not isinstance(data, dict):
        raise FetchFailed(f"Resend email {email_id}: unexpected answer from the API", permanent=True)
    raw_url = (data.get("raw") or {}).get("download_url")
    if raw_url:
        raw, _ = _http_get(raw_url, headers={}, limits=limits, what=f"Resend raw message {email_id}")
        return raw
    esp_headers = data.get("headers") or {}
    headers: list[tuple[str, str]] = []
    if isinstance(esp_headers, dict):
        for name, value in esp_headers.items():
            headers += [(name, v) for v in value] if isinstance(value, list) else [(name, value)]
    elif isinstance(esp_headers, list):
        headers = [(h["name"], h["value"]) for h in esp_headers if isinstance(h, dict) and "name" in h]
    attachments = []
    for attachment in data.get("attachments") or []:
        name = attachment.get("filename")
        if not attachment.get("download_url"):
            raise FetchFailed(f"Resend attachment {name!r} has no download URL", permanent=True)
        content, content_type = _http_get(
            str(attachment["download_url"]),
            headers={},
            limits=limits,
            what=f"Resend attachment {name!r}",
        )
        attachments.append(
            AnymailInboundMessage.construct_attachment(
                content_type=content_type or attachment.get("content_type") or "application/octet-stream",
                content=content,
                filename=name,
                content_id=attachment.get("content_id"),
            )
        )
    message = AnymailInboundMessage.construct(
        from_email=data.get("from"),
        to=", ".join(data.get("to") or []) or None,
        cc=", ".join(data.get("cc") or []) or None,
        subject=data.get("subject"),
        headers=headers,
        text=data.get("text"),
        html=data.get("html"),
        attachments=attachments,
    )
    if data.get("reply_to") and "Reply-To" not in message:
        message["Reply-To"] = ", ".join(data["reply_to"])
    if data.get("message_id") and "Message-ID" not in message:
        message["Message-ID"] = data["message_id"]
    return message_bytes(message)
