"""Inbound email endpoints (provider webhooks and the signed raw MIME endpoint) and the quarantine page.

The webhooks only authenticate and hand the bytes to `inbound_email_receive`, which stores them and
answers; everything else happens in the `intake` worker. A post that only points at the message
(SES's S3 action, Brevo's attachment tokens, Resend's email id) is stored as posted, and the worker
fetches the message: no request waits on the provider's network.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import io
import json
import logging
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import IO

from anymail.exceptions import AnymailConfigurationError, AnymailNotSupportedWarning
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, EventType
from anymail.webhooks.amazon_ses import AmazonSESInboundWebhookView
from anymail.webhooks.brevo import BrevoInboundWebhookView
from anymail.webhooks.mailersend import MailerSendInboundWebhookView
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from anymail.webhooks.mailjet import MailjetInboundWebhookView
from anymail.webhooks.mandrill import MandrillCombinedWebhookView
from anymail.webhooks.postal import PostalInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from anymail.webhooks.resend import ResendInboundWebhookView
from anymail.webhooks.sendgrid import SendGridInboundWebhookView
from anymail.webhooks.sparkpost import SparkPostInboundWebhookView
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from triage import selectors
from triage.adapters.email.providers import message_bytes
from triage.models import InboundEmail
from triage.roles import agent_required
from triage.services.inbound_email import (
    inbound_email_receive,
    inbound_email_receive_pending,
    inbound_email_retry,
)
from triage.views.params import id_param, next_path

logger = logging.getLogger(__name__)

# SendGrid still posts in the format anymail parses; anymail only stopped testing against it.
warnings.filterwarnings("ignore", category=AnymailNotSupportedWarning)


class PendingInboundEvent(AnymailInboundEvent):
    """An inbound post whose message is still at the provider: `fetch` says where (the worker's
    job), `esp_event` is what the provider posted and is stored as is."""

    def __init__(self, *, fetch: dict[str, str], recipient: str, subject: str, from_email: str, **kwargs):
        super().__init__(event_type=EventType.INBOUND, message=None, **kwargs)
        self.fetch, self.recipient, self.subject, self.from_email = fetch, recipient, subject, from_email


def _first(value: object) -> str:
    """The first of a list the provider sent, as text ("" for anything else)."""
    return str(value[0] or "") if isinstance(value, list) and value else ""


class SESInboundView(AmazonSESInboundWebhookView):
    """anymail's SES view, but the S3 action's object is downloaded by the worker, not here."""

    def esp_to_anymail_events(self, ses_event, sns_message):
        receipt = ses_event.get("receipt") or {}
        action = receipt.get("action") or {}
        if ses_event.get("notificationType") != "Received" or action.get("type") != "S3":
            return super().esp_to_anymail_events(ses_event, sns_message)
        bucket, key = action.get("bucketName"), action.get("objectKey")
        if not bucket or not key:
            raise AnymailConfigurationError(
                "Amazon SES S3 receipt action without bucketName and objectKey "
                f"(SNS TopicArn {sns_message.get('TopicArn')})"
            )
        mail = ses_event.get("mail") or {}
        common = mail.get("commonHeaders") or {}
        return [
            PendingInboundEvent(
                fetch={"provider": "amazon_ses", "bucket": str(bucket), "key": str(key)},
                recipient=_first(receipt.get("recipients")),
                subject=str(common.get("subject") or ""),
                from_email=_first(common.get("from")) or str(mail.get("source") or ""),
                event_id=mail.get("messageId") or str(key),
                esp_event=ses_event,
            )
        ]


class BrevoInboundView(BrevoInboundWebhookView):
    """anymail's Brevo view, but a message with attachments is built by the worker, which
    downloads them."""

    def esp_to_anymail_event(self, esp_event):
        if not esp_event.get("Attachments"):
            return super().esp_to_anymail_event(esp_event)
        headers = esp_event.get("Headers") or {}
        sender = esp_event.get("From") or {}
        uuid = esp_event.get("Uuid") or []
        return PendingInboundEvent(
            fetch={"provider": "brevo"},
            recipient=str(headers.get("Delivered-To") or "").strip("<>"),
            subject=str(esp_event.get("Subject") or ""),
            from_email=str(sender.get("Address") or "") if isinstance(sender, dict) else "",
            event_id=str(uuid[0] if uuid else esp_event.get("MessageId") or ""),
            esp_event=esp_event,
        )


class ResendInboundView(ResendInboundWebhookView):
    """anymail's Resend view (Svix signature check), but the message is read from Resend's API by
    the worker."""

    def esp_to_anymail_event(self, esp_event, request):
        data = esp_event.get("data") or {}
        email_id = data.get("email_id") if isinstance(data, dict) else None
        if not email_id:
            raise AnymailConfigurationError("Resend email.received event without data.email_id")
        return PendingInboundEvent(
            fetch={"provider": "resend", "email_id": str(email_id)},
            recipient=_first(data.get("to")),
            subject=str(data.get("subject") or ""),
            from_email=str(data.get("from") or ""),
            event_id=str(email_id),
            esp_event=esp_event,
        )


PROVIDER_VIEWS = {
    "mailgun": MailgunInboundWebhookView,
    "sendgrid": SendGridInboundWebhookView,
    "postmark": PostmarkInboundWebhookView,
    "amazon_ses": SESInboundView,
    "sparkpost": SparkPostInboundWebhookView,
    "mailjet": MailjetInboundWebhookView,
    "brevo": BrevoInboundView,
    "resend": ResendInboundView,
    "mailersend": MailerSendInboundWebhookView,
    # Mandrill posts inbound and tracking events to one URL; only inbound ones reach our receiver
    "mandrill": MandrillCombinedWebhookView,
    "postal": PostalInboundWebhookView,
}
_SPOOL_BYTES = 2 * 1024 * 1024
_CHUNK = 64 * 1024


def _misconfiguration_is_400(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A post anymail calls a misconfiguration (a tracking webhook pointed at an inbound URL, a
    missing setting) is a 400 that says so, and a log line: a 500 would only make the provider
    retry the same post forever."""

    @functools.wraps(view)  # keeps csrf_exempt and login_not_required
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except AnymailConfigurationError as exc:
            logger.warning("inbound webhook %s misconfigured: %s", request.path, exc)
            return HttpResponse(f"misconfigured webhook: {exc}\n", status=400, content_type="text/plain")

    return wrapped


def provider_urlpatterns() -> list[URLPattern]:
    """`intake/email/<provider>/` for each enabled provider (anymail checks auth and signatures).

    Mailgun posts the raw MIME when its URL contains "mime": `intake/email/mailgun_mime/`.
    """
    patterns = [
        path(
            f"intake/email/{name}/",
            _misconfiguration_is_400(PROVIDER_VIEWS[name].as_view()),
            name=f"email-inbound-{name}",
        )
        for name in settings.INBOUND_EMAIL_PROVIDERS
    ]
    if "mailgun" in settings.INBOUND_EMAIL_PROVIDERS:
        patterns.append(
            path(
                "intake/email/mailgun_mime/",
                _misconfiguration_is_400(MailgunInboundWebhookView.as_view()),
                name="email-inbound-mailgun-mime",
            )
        )
    return patterns


def anymail_inbound_receive(sender: object, event: AnymailInboundEvent, esp_name: str, **_: object) -> None:
    """anymail's `inbound` signal: the provider's post has passed its checks; store the message.

    An exception here makes anymail answer 500, so the provider retries: nothing is lost.
    """
    source = esp_name.lower().replace(" ", "_")
    if isinstance(event, PendingInboundEvent):
        inbound_email_receive_pending(
            source=source,
            payload=json.dumps(event.esp_event, ensure_ascii=False).encode(),
            fetch=event.fetch,
            event_id=str(event.event_id or ""),
            recipient=event.recipient,
            subject=event.subject,
            from_email=event.from_email,
        )
        return
    message: AnymailInboundMessage = event.message
    raw = message_bytes(message)
    inbound_email_receive(
        fileobj=io.BytesIO(raw), source=source, recipient=str(message.envelope_recipient or "")
    )


def _refuse(request: HttpRequest, reason: str) -> HttpResponse:
    logger.warning(
        "raw inbound email refused (%s) from %s", reason, request.META.get("REMOTE_ADDR", "unknown")
    )
    return HttpResponse(f"forbidden: {reason}\n", status=403, content_type="text/plain")


def _body_copy(
    request: HttpRequest, spool: IO[bytes], *, mac: hmac.HMAC, digest: hashlib._Hash, limit: int
) -> bool:
    """Copy the request body into `spool`, feeding the HMAC and the content hash as it streams in
    (the storage key, so the service need not read the body again to hash it).

    Read in chunks rather than through `request.body`, whose in-memory limit is meant for forms.
    Returns False when the body exceeds `limit`.
    """
    total = 0
    while chunk := request.read(_CHUNK):
        total += len(chunk)
        if total > limit:
            return False
        mac.update(chunk)
        digest.update(chunk)
        spool.write(chunk)
    spool.seek(0)
    return True


@csrf_exempt
@login_not_required
@require_POST
def inbound_email_raw(request: HttpRequest) -> HttpResponse:
    """POST the message as `message/rfc822` (or multipart with the message as a file), signed:
    X-Triage-Timestamp: <unix seconds>
    X-Triage-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with INBOUND_EMAIL_SECRET>
    """
    timestamp = request.headers.get("X-Triage-Timestamp", "").strip()
    signature = request.headers.get("X-Triage-Signature", "").strip()
    if not timestamp or not signature:
        return _refuse(request, "unsigned")
    try:
        sent_at = int(timestamp)
    except ValueError:
        return _refuse(request, "bad timestamp")
    if abs(time.time() - sent_at) > settings.INBOUND_EMAIL_MAX_SKEW_S:
        return _refuse(request, "stale timestamp")
    # Over the message limit is still recorded (and reported on the row); far over it is refused.
    hard_limit = 2 * settings.INBOUND_EMAIL_MAX_BYTES
    if (id_param(request.META.get("CONTENT_LENGTH")) or 0) > hard_limit:
        return HttpResponse("message too large\n", status=413, content_type="text/plain")
    mac = hmac.new(settings.INBOUND_EMAIL_SECRET.encode(), f"{timestamp}.".encode(), hashlib.sha256)
    digest = hashlib.sha256()
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
        if not _body_copy(request, spool, mac=mac, digest=digest, limit=hard_limit):
            return HttpResponse("message too large\n", status=413, content_type="text/plain")
        if not hmac.compare_digest(f"sha256={mac.hexdigest()}", signature):
            return _refuse(request, "bad signature")
        if not spool.read(1):
            return HttpResponse("empty body: post the message\n", status=400, content_type="text/plain")
        spool.seek(0)
        recipient = request.headers.get("X-Triage-Recipient", "")
        fileobj: IO[bytes] = spool
        sha256 = digest.hexdigest()
        if (request.content_type or "").startswith("multipart/"):
            try:
                fields, files = MultiPartParser(
                    request.META, spool, request.upload_handlers, request.encoding
                ).parse()
            except MultiPartParserError as exc:
                return HttpResponse(f"bad multipart body: {exc}\n", status=400, content_type="text/plain")
            upload = files.get("message") or next(iter(files.values()), None)
            if not isinstance(upload, UploadedFile) or upload.file is None:  # no file part at all
                return HttpResponse(
                    "multipart body without a message file\n", status=400, content_type="text/plain"
                )
            fileobj, sha256 = upload.file, ""  # the message is a part of the body: hashed by the service
            recipient = recipient or fields.get("recipient", "")
        result = inbound_email_receive(fileobj=fileobj, source="raw", recipient=recipient, sha256=sha256)
    return JsonResponse(
        {"id": result.inbound_email_id, "duplicate": not result.created},
        status=202 if result.created else 200,
    )


@require_safe
@agent_required
def email_quarantine(request: HttpRequest) -> HttpResponse:
    return render(request, "triage/email_quarantine.html", {"emails": selectors.email_quarantine_list()})


@require_POST
@agent_required
def email_retry(request: HttpRequest, inbound_email_id: int) -> HttpResponse:
    email = get_object_or_404(InboundEmail, id=inbound_email_id)
    if inbound_email_retry(inbound_email_id=email.id):
        messages.success(request, f"Email {email.id} is being read again.")
    else:
        messages.info(request, f"Email {email.id} is not in quarantine.")
    return redirect(next_path(request, request.POST.get("next")) or reverse("triage:email-quarantine"))


@require_safe
@agent_required
def email_raw_file(request: HttpRequest, inbound_email_id: int) -> FileResponse:
    """The message as received, downloaded as .eml (never rendered by the browser); the provider's
    post as .json while the message it points at has not been fetched."""
    email = get_object_or_404(InboundEmail, id=inbound_email_id)
    if not email.raw:
        raise Http404("The raw message was deleted (retention or erasure)")
    posted = email.raw.name.endswith(".json")
    response = FileResponse(
        default_storage.open(email.raw.name, "rb"),
        as_attachment=True,
        filename=f"email-{email.id}-post.json" if posted else f"email-{email.id}.eml",
        content_type="application/json" if posted else "message/rfc822",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
