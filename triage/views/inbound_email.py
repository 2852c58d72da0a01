"""Inbound email endpoints (provider webhooks and the signed raw MIME endpoint) and the quarantine page.

The webhooks only authenticate and hand the bytes to `inbound_email_receive`, which stores them and
answers; everything else happens in the `intake` worker.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import tempfile
import time
import warnings
from typing import IO

from anymail.exceptions import AnymailNotSupportedWarning
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent
from anymail.webhooks.amazon_ses import AmazonSESInboundWebhookView
from anymail.webhooks.brevo import BrevoInboundWebhookView
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from anymail.webhooks.mailjet import MailjetInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from anymail.webhooks.sendgrid import SendGridInboundWebhookView
from anymail.webhooks.sparkpost import SparkPostInboundWebhookView
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from triage import selectors
from triage.models import InboundEmail
from triage.roles import agent_required
from triage.services.inbound_email import inbound_email_receive, inbound_email_retry

logger = logging.getLogger(__name__)

# SendGrid still posts in the format anymail parses; anymail only stopped testing against it.
warnings.filterwarnings("ignore", category=AnymailNotSupportedWarning)

PROVIDER_VIEWS = {
    "mailgun": MailgunInboundWebhookView,
    "sendgrid": SendGridInboundWebhookView,
    "postmark": PostmarkInboundWebhookView,
    "amazon_ses": AmazonSESInboundWebhookView,
    "sparkpost": SparkPostInboundWebhookView,
    "mailjet": MailjetInboundWebhookView,
    "brevo": BrevoInboundWebhookView,
}
_SPOOL_BYTES = 2 * 1024 * 1024
_CHUNK = 64 * 1024


def provider_urlpatterns() -> list[URLPattern]:
    """`intake/email/<provider>/` for each enabled provider (anymail checks auth and signatures).

    Mailgun posts the raw MIME when its URL contains "mime": `intake/email/mailgun_mime/`.
    """
    patterns = [
        path(f"intake/email/{name}/", PROVIDER_VIEWS[name].as_view(), name=f"email-inbound-{name}")
        for name in settings.INBOUND_EMAIL_PROVIDERS
    ]
    if "mailgun" in settings.INBOUND_EMAIL_PROVIDERS:
        patterns.append(
            path(
                "intake/email/mailgun_mime/",
                MailgunInboundWebhookView.as_view(),
                name="email-inbound-mailgun-mime",
            )
        )
    return patterns


def anymail_inbound_receive(sender: object, event: AnymailInboundEvent, esp_name: str, **_: object) -> None:
    """anymail's `inbound` signal: the provider's post has passed its checks; store the message.

    An exception here makes anymail answer 500, so the provider retries: nothing is lost.
    """
    message: AnymailInboundMessage = event.message
    try:
        raw = message.as_bytes()
    except Exception:  # a header the default policy cannot fold: fall back to the lenient serializer
        raw = message.as_string(policy=message.policy.clone(max_line_length=0)).encode("utf-8", "replace")
    source = esp_name.lower().replace(" ", "_")
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
    if int(request.META.get("CONTENT_LENGTH") or 0) > hard_limit:
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
            if upload is None:
                return HttpResponse(
                    "multipart body without a message file\n", status=400, content_type="text/plain"
                )
            fileobj, sha256 = upload.file, ""  # type: ignore[union-attr]  # files values are UploadedFile; the stub types MultiValueDict loosely  # the message is a part of the body: hashed by the service
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
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("triage:email-quarantine")


@require_safe
@agent_required
def email_raw_file(request: HttpRequest, inbound_email_id: int) -> FileResponse:
    """The message as received, downloaded as .eml (never rendered by the browser)."""
    email = get_object_or_404(InboundEmail, id=inbound_email_id)
    response = FileResponse(
        default_storage.open(email.raw.name, "rb"),
        as_attachment=True,
        filename=f"email-{email.id}.eml",
        content_type="message/rfc822",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
