"""Inbound email: store the raw message first, parse and ticket it in a worker, thread follow-ups.

Receive (web process): content-addressed .eml in storage, a row keyed by Message-ID (or a hash of the
normalized content) and a job on the `intake` queue. Nothing is parsed before the bytes are safe.
Process (worker): parse with no transaction open, store the attachments' originals, then one short
transaction decides the ticket (new, or which existing one and why) and enqueues media and triage.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import IO

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from triage.adapters.email import EmailPart, EmailUnparseable, ParsedEmail, nul_free
from triage.adapters.email.headers import content_hash, header_peek
from triage.adapters.email.outbound import ack_refusal
from triage.adapters.email.parse import email_parse
from triage.adapters.email.providers import (
    FetchFailed,
    HttpLimits,
    brevo_message_build,
    resend_message_fetch,
    ses_s3_fetch,
)
from triage.adapters.email.threading import reply_token_find, subject_refs
from triage.adapters.media import MediaRejected
from triage.models import REVIEWED_STATES, Attachment, InboundEmail, SentEmail, Ticket
from triage.services.conversation import sender_is_participant, ticket_link
from triage.services.lifecycle import ticket_customer_replied
from triage.services.media import CheckedUpload, original_store, upload_check
from triage.services.outbound import ticket_acknowledge
from triage.services.storage import content_key, durable_store, sha256_of_file
from triage.services.throttle import Check, Limit, throttle_hit

logger = logging.getLogger(__name__)

_PEEK_BYTES = 256 * 1024
_DONE = (
    InboundEmail.Status.TICKETED,
    InboundEmail.Status.THREADED,
    InboundEmail.Status.AUTOMATIC,
    InboundEmail.Status.QUARANTINED,
)


@dataclass(frozen=True)
class ReceiveResult:
    inbound_email_id: int
    created: bool  # False: a duplicate delivery of a message we already have


def our_addresses() -> tuple[str, ...]:
    return tuple(a.lower() for a in settings.INBOUND_EMAIL_ADDRESSES)


def _dedupe_key(*, message_id: str, content_sha256: str, recipient: str) -> str:
    base = f"mid:{message_id}" if message_id else f"sha:{content_sha256}"
    if settings.INBOUND_EMAIL_COPIES == "per_queue":
        queue = settings.INBOUND_EMAIL_ADDRESSES.get(recipient.lower())
        if queue is not None:
            base += f"|queue:{queue or recipient.lower()}"
    return hashlib.sha256(base.encode("utf-8", "replace")).hexdigest()


def inbound_email_receive(
    *, fileobj: IO[bytes], source: str, recipient: str = "", sha256: str = ""
) -> ReceiveResult:
    """Store one delivered message and queue its parsing. Safe to call twice for the same message:
    the second call (even a concurrent one) finds the first row and changes nothing.

    Durable before the caller answers 2xx: the .eml and its directory entries are fsynced, then the
    row is one autocommitted INSERT (PostgreSQL flushes its WAL before the INSERT returns), and only
    then is the job published. One statement needs no BEGIN/COMMIT of its own: that saves two round
    trips a message, a third of the request. Inside a caller's transaction (a test, another service)
    the INSERT runs in a savepoint and the job waits for the caller's commit. `sha256`: the
    hex SHA-256 of exactly these bytes when the caller already computed it while reading them.
    """
    sha = sha256 or sha256_of_file(fileobj)
    fileobj.seek(0, io.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(0)
    key = content_key(prefix="inbound", sha256=sha, extension="eml")
    durable_store(key=key, fileobj=fileobj, size=size)
    fileobj.seek(0)
    # the header block is all we need when there is a Message-ID (nearly always)
    peek = header_peek(fileobj.read(_PEEK_BYTES))
    message_id, content_sha = peek.message_id, peek.content_sha256
    if not message_id and size > _PEEK_BYTES:
        fileobj.seek(0)
        content_sha = content_hash(fileobj.read()) if size <= settings.INBOUND_EMAIL_MAX_BYTES else sha
    return _row_create(
        dedupe=_dedupe_key(message_id=message_id, content_sha256=content_sha, recipient=recipient),
        message_id=message_id,
        source=source,
        recipient=recipient,
        raw=key,
        sha256=sha,
        size=size,
        subject=peek.subject,
        from_email=peek.from_email,
        details={},
    )


def inbound_email_receive_pending(
    *,
    source: str,
    payload: bytes,
    fetch: dict[str, str],
    event_id: str,
    recipient: str = "",
    subject: str = "",
    from_email: str = "",
) -> ReceiveResult:
    """Store a provider's post that only points at the message (SES's S3 object, Brevo's
    attachment tokens, Resend's email id) and queue the worker that fetches it.

    Durable before the caller answers 2xx, as `inbound_email_receive`: the post is stored as
    `raw` (.json), the row committed with `details["fetch"]` saying where the message is. Keyed by
    the provider's id for the message, so the provider's retry of the same post is a no-op.
    """
    sha = hashlib.sha256(payload).hexdigest()
    key = content_key(prefix="inbound", sha256=sha, extension="json")
    fetch = {name: nul_free(str(value))[:1000] for name, value in fetch.items()}
    recipient = parseaddr(nul_free(recipient))[1]
    durable_store(key=key, fileobj=io.BytesIO(payload), size=len(payload))
    dedupe = hashlib.sha256(f"fetch:{source}:{event_id or sha}".encode("utf-8", "replace")).hexdigest()
    return _row_create(
        dedupe=dedupe,
        message_id="",
        source=source,
        recipient=recipient,
        raw=key,
        sha256=sha,
        size=len(payload),
        subject=subject,
        from_email=from_email,
        details={"fetch": {**fetch, "post": key}},
    )


def _row_create(
    *,
    dedupe: str,
    message_id: str,
    source: str,
    recipient: str,
    raw: str,
    sha256: str,
    size: int,
    subject: str,
    from_email: str,
    details: dict,
) -> ReceiveResult:
    """One autocommitted INSERT (a savepoint inside a caller's transaction), then the job."""
    from triage.tasks import inbound_email_process_task

    connection = transaction.get_connection()
    try:
        with transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext():
            email = InboundEmail.objects.create(
                dedupe_key=dedupe,
                message_id=message_id,
                source=source[:32],
                recipient=recipient.lower()[:254],
                raw=raw,
                sha256=sha256,
                size_bytes=size,
                subject=nul_free(subject)[:300],
                from_email=nul_free(from_email)[:254],
                details=details,
            )
    except IntegrityError:
        existing = InboundEmail.objects.filter(dedupe_key=dedupe).first()
        if existing is None:  # not our unique key that failed
            raise
        logger.info("duplicate delivery of inbound email %s ignored", existing.id)
        return ReceiveResult(inbound_email_id=existing.id, created=False)
    # autocommit: the row is committed, so this publishes now; else on the caller's commit
    inbound_email_process_task.delay_on_commit(inbound_email_id=email.id)
    return ReceiveResult(inbound_email_id=email.id, created=True)


class FetchRetryLater(Exception):
    """The provider could not be reached this time: the task tries again after `countdown_s`."""

    def __init__(self, reason: str, *, countdown_s: int) -> None:
        super().__init__(reason)
        self.countdown_s = countdown_s


_FETCH_FROM = {
    "amazon_ses": "Amazon S3 (the SES receipt rule's S3 action)",
    "brevo": "Brevo",
    "resend": "Resend",
}


def inbound_email_process(*, inbound_email_id: int, attempt: int = 0, final_attempt: bool = True) -> None:
    """Parse one stored message into a new ticket, a follow-up, an automatic mail or quarantine.

    Idempotent: only RECEIVED or PROCESSING rows are claimed, and the deciding transaction re-checks
    the status under a row lock, so a redelivered job (a worker killed mid-parse) or a concurrent
    one creates nothing twice.

    A row stored from a post that only points at the message is fetched first. When the provider
    cannot be reached this raises FetchRetryLater (`attempt`: the task's retries so far); on the
    `final_attempt`, or when trying again cannot help, the mail is quarantined with the reason.
    """
    claimed = InboundEmail.objects.filter(
        id=inbound_email_id, status__in=[InboundEmail.Status.RECEIVED, InboundEmail.Status.PROCESSING]
    ).update(status=InboundEmail.Status.PROCESSING, attempts=F("attempts") + 1)
    if not claimed:
        return
    email = InboundEmail.objects.get(id=inbound_email_id)
    fetch = email.details.get("fetch") if isinstance(email.details, dict) else None
    if fetch and not fetch.get("fetched"):
        fetched = _message_fetch(email=email, fetch=fetch, attempt=attempt, final_attempt=final_attempt)
        if fetched is None:
            return
        email = fetched
    if email.size_bytes > settings.INBOUND_EMAIL_MAX_BYTES:
        limit_mb = settings.INBOUND_EMAIL_MAX_BYTES / (1024 * 1024)
        inbound_email_quarantine(
            inbound_email_id=email.id,
            kind="too_large",
            message=f"the message is {email.size_bytes / (1024 * 1024):.1f} MB; the limit is "
            f"{limit_mb:.0f} MB. It was stored but not read.",
        )
        return
    try:
        with default_storage.open(email.raw.name, "rb") as fh:
            raw = fh.read()
        parsed = email_parse(raw, our_addresses=our_addresses())
    except EmailUnparseable as exc:
        inbound_email_quarantine(inbound_email_id=email.id, kind="bad_input", message=exc.reason)
        return
    except Exception as exc:  # a bug in our parsing: the mail is kept and can be retried after a fix
        logger.exception("parsing inbound email %s crashed", email.id)
        inbound_email_quarantine(
            inbound_email_id=email.id,
            kind="bug",
            message=f"internal error while reading the message ({type(exc).__name__}: {exc})"[:2000],
        )
        return
    wait = 0 if parsed.auto_kind else _new_ticket_rate_wait(email=email, parsed=parsed)
    if wait:
        inbound_email_quarantine(
            inbound_email_id=email.id,
            kind="rate_limited",
            message=f"{parsed.from_email} opened more than {settings.INBOUND_EMAIL_MAX_NEW_TICKETS_PER_SENDER} "
            f"new tickets by mail within {settings.INBOUND_EMAIL_SENDER_WINDOW_S // 60} minutes. The message "
            f"is stored, not read further (no attachments, no model); retry it in {-(-wait // 60)} minutes "
            "or later if it is genuine.",
        )
        return
    _inbound_email_apply(email=email, parsed=parsed)


def _message_fetch(
    *, email: InboundEmail, fetch: dict, attempt: int, final_attempt: bool
) -> InboundEmail | None:
    """Fetch the message the stored post points at and make it the row's raw .eml. Returns the
    updated row, or None when the mail was quarantined."""
    provider = _FETCH_FROM.get(str(fetch.get("provider")), str(fetch.get("provider")))
    try:
        try:
            raw = _provider_fetch(fetch=fetch)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:  # a post not as documented
            raise FetchFailed(
                f"the provider's post is not in its documented format ({type(exc).__name__}: {exc})",
                permanent=True,
            ) from exc
    except FetchFailed as exc:
        if exc.permanent or final_attempt:
            tries = "" if exc.permanent else f" after {attempt + 1} attempts"
            inbound_email_quarantine(
                inbound_email_id=email.id,
                kind="fetch_failed",
                message=f"the message could not be fetched from {provider}{tries}: {exc.reason}. "
                "The provider's post is stored; retry once the cause is fixed.",
            )
            return None
        countdown = min(60, 2 ** (attempt + 1))
        InboundEmail.objects.filter(id=email.id).update(
            error_message=f"fetching from {provider} failed (attempt {attempt + 1}), trying again in "
            f"{countdown} s: {exc.reason}"[:2000]
        )
        logger.info("inbound email %s: fetch from %s failed, retrying: %s", email.id, provider, exc.reason)
        raise FetchRetryLater(exc.reason, countdown_s=countdown) from exc
    sha = hashlib.sha256(raw).hexdigest()
    key = content_key(prefix="inbound", sha256=sha, extension="eml")
    durable_store(key=key, fileobj=io.BytesIO(raw), size=len(raw))
    peek = header_peek(raw[:_PEEK_BYTES])
    InboundEmail.objects.filter(id=email.id).update(
        raw=key,
        sha256=sha,
        size_bytes=len(raw),
        message_id=peek.message_id[:998],
        subject=(peek.subject or email.subject)[:300],
        from_email=(peek.from_email or email.from_email)[:254],
        details={**email.details, "fetch": {**fetch, "fetched": timezone.now().isoformat()}},
        error_message="",
    )
    return InboundEmail.objects.get(id=email.id)


def _provider_fetch(*, fetch: dict) -> bytes:
    limits = HttpLimits(
        timeout_s=settings.INBOUND_EMAIL_FETCH_TIMEOUT_S, max_bytes=2 * settings.INBOUND_EMAIL_MAX_BYTES
    )
    provider = fetch.get("provider")
    if provider == "amazon_ses":
        return ses_s3_fetch(
            bucket=str(fetch["bucket"]),
            key=str(fetch["key"]),
            endpoint_url=settings.INBOUND_EMAIL_S3_ENDPOINT_URL or None,
            region=settings.INBOUND_EMAIL_S3_REGION or None,
            limits=limits,
        )
    anymail = settings.ANYMAIL
    if provider == "resend":
        return resend_message_fetch(
            email_id=str(fetch["email_id"]),
            api_url=anymail.get("RESEND_API_URL") or "https://api.resend.com/",
            api_key=anymail.get("RESEND_API_KEY") or "",
            limits=limits,
        )
    if provider == "brevo":
        with default_storage.open(str(fetch["post"]), "rb") as fh:
            item = json.loads(fh.read())
        return brevo_message_build(
            item=item,
            api_url=anymail.get("BREVO_API_URL") or "https://api.brevo.com/v3/",
            api_key=anymail.get("BREVO_API_KEY") or "",
            limits=limits,
        )
    raise FetchFailed(f"no way to fetch from provider {provider!r}", permanent=True)


def _new_ticket_rate_wait(*, email: InboundEmail, parsed: ParsedEmail) -> int:
    """Count a message that would open a new ticket against its sender's limit (a follow-up to a
    thread is not counted): 0 to go on, else the seconds until the sender's window ends."""
    ticket, _, _ = _thread_find(email=email, parsed=parsed)
    if ticket is not None or not parsed.from_email:
        return 0
    limit = Limit(
        "mail-sender",
        settings.INBOUND_EMAIL_MAX_NEW_TICKETS_PER_SENDER,
        settings.INBOUND_EMAIL_SENDER_WINDOW_S,
    )
    return throttle_hit(checks=[Check(limit, parsed.from_email.strip().casefold())])


@dataclass(frozen=True)
class _StoredPart:
    checked: CheckedUpload
    key: str


def _parts_store(parts: tuple[EmailPart, ...]) -> tuple[list[_StoredPart], list[dict]]:
    """Store the originals of the usable parts (before any transaction, as ticket_create does)."""
    stored: list[_StoredPart] = []
    skipped: list[dict] = []
    seen: set[str] = set()
    # the web form's cap (TRIAGE_MAX_FILES_PER_TICKET): checked before the bytes are sniffed and
    # stored, so a mail with hundreds of images costs the worker no more than one with the cap
    max_files = settings.DATA_UPLOAD_MAX_NUMBER_FILES
    for part in parts:
        if part.drop_reason:
            skipped.append({"name": part.filename, "reason": part.drop_reason})
            continue
        if max_files and len(stored) >= max_files:
            skipped.append(
                {"name": part.filename, "reason": f"over the limit of {max_files} files per message"}
            )
            continue
        if len(part.data) > settings.INBOUND_EMAIL_MAX_ATTACHMENT_BYTES:
            limit_mb = settings.INBOUND_EMAIL_MAX_ATTACHMENT_BYTES // (1024 * 1024)
            skipped.append(
                {
                    "name": part.filename,
                    "reason": f"larger than the {limit_mb} MB attachment limit "
                    f"({len(part.data) / (1024 * 1024):.1f} MB)",
                }
            )
            continue
        fileobj = io.BytesIO(part.data)
        try:
            checked = upload_check(fileobj=fileobj, name=part.filename, size_bytes=len(part.data))
        except MediaRejected as exc:
            skipped.append({"name": part.filename, "reason": exc.reason})
            continue
        if checked.sha256 in seen:
            skipped.append({"name": part.filename, "reason": "the same image twice in one message"})
            continue
        seen.add(checked.sha256)
        stored.append(_StoredPart(checked=checked, key=original_store(fileobj=fileobj, checked=checked)))
    return stored, skipped


def _thread_find(*, email: InboundEmail, parsed: ParsedEmail) -> tuple[Ticket | None, str, Ticket | None]:
    """The ticket this message continues, and why, in the documented order; and the ticket its
    subject names when the sender may not join it (the new ticket then shows "mentions TRI-n")."""
    others = InboundEmail.objects.exclude(id=email.id).filter(ticket__isnull=False)
    if parsed.in_reply_to:
        hit = others.filter(message_id__in=parsed.in_reply_to).order_by("id").first()
        if hit is not None:
            return hit.ticket, InboundEmail.ThreadReason.IN_REPLY_TO, None
    if parsed.references:
        known = {
            message_id: ticket_id
            for message_id, ticket_id in others.filter(message_id__in=parsed.references)
            .order_by("-id")
            .values_list("message_id", "ticket")
        }
        for message_id in reversed(parsed.references):  # the most recent reference first
            if message_id in known:
                return Ticket.objects.get(id=known[message_id]), InboundEmail.ThreadReason.REFERENCES, None
    ids = parsed.in_reply_to + parsed.references
    if ids:
        sent = SentEmail.objects.filter(message_id__in=ids).select_related("ticket").order_by("-id").first()
        if sent is not None:
            return sent.ticket, InboundEmail.ThreadReason.SENT_MESSAGE_ID, None
    addresses = (*([email.recipient] if email.recipient else []), *parsed.recipients)
    ticket_id = reply_token_find(addresses, secret=settings.INBOUND_EMAIL_SECRET)
    if ticket_id is not None:
        ticket = Ticket.objects.filter(id=ticket_id).first()
        if ticket is not None:
            return ticket, InboundEmail.ThreadReason.REPLY_TOKEN, None
    # a reference in the subject is only a claim: anyone can type "TRI-7"
    mentioned = None
    for ref in subject_refs(parsed.subject):
        ticket = Ticket.objects.filter(id=ref).first()
        if ticket is None:
            continue
        if sender_is_participant(ticket=ticket, address=parsed.from_email):
            return ticket, InboundEmail.ThreadReason.SUBJECT_REF, None
        mentioned = mentioned or ticket
    return None, InboundEmail.ThreadReason.NEW, mentioned


def _inbound_email_apply(*, email: InboundEmail, parsed: ParsedEmail) -> None:
    from triage.tasks import attachment_process_task, ticket_triage_task

    automatic = bool(parsed.auto_kind)
    stored, skipped = ([], []) if automatic else _parts_store(parsed.parts)
    with transaction.atomic():
        locked = InboundEmail.objects.select_for_update().get(id=email.id)
        if locked.status != InboundEmail.Status.PROCESSING:
            return  # a concurrent run finished it first
        ticket, reason, mentioned = _thread_find(email=locked, parsed=parsed)
        closed = None
        if ticket is not None and ticket.status == Ticket.Status.CLOSED and not automatic:
            # a closed ticket stays closed: the customer's new message is a new ticket linked to it
            closed, ticket, reason = ticket, None, InboundEmail.ThreadReason.NEW
        placeholder = locked.ticket  # set when an earlier attempt was quarantined
        if automatic:
            status = InboundEmail.Status.AUTOMATIC
        elif ticket is None:
            status = InboundEmail.Status.TICKETED
            ticket = placeholder or Ticket(channel=Ticket.Channel.EMAIL)
            ticket.subject = (parsed.subject or "(no subject)")[:300]
            ticket.description = parsed.new_text
            ticket.requester_email = parsed.from_email
            ticket.channel = Ticket.Channel.EMAIL
            ticket.status = Ticket.Status.PROCESSING if stored else Ticket.Status.TRIAGING
            ticket.save()
            if closed is not None:
                ticket_link(
                    ticket=ticket, linked=closed, kind=Ticket.LinkKind.FOLLOW_UP, sender=parsed.from_email
                )
            elif mentioned is not None and mentioned.id != ticket.id:
                ticket_link(
                    ticket=ticket, linked=mentioned, kind=Ticket.LinkKind.MENTIONS, sender=parsed.from_email
                )
        else:
            status = InboundEmail.Status.THREADED
        if (
            placeholder is not None
            and (ticket is None or placeholder.id != ticket.id)
            and not placeholder.emails.exclude(id=locked.id).exists()
        ):
            placeholder.delete()  # the quarantine ticket was only a stand-in for this message
        attachments: list[Attachment] = []
        if ticket is not None and stored:
            present = set(
                Attachment.objects.filter(
                    ticket=ticket, sha256__in=[s.checked.sha256 for s in stored]
                ).values_list("sha256", flat=True)
            )
            for item in stored:
                if item.checked.sha256 in present:
                    # a signature logo or an image quoted again in a reply: already on the ticket
                    skipped.append({"name": item.checked.name, "reason": "already attached to this ticket"})
                    continue
                attachments.append(
                    Attachment.objects.create(
                        ticket=ticket,
                        kind=Attachment.Kind.IMAGE
                        if item.checked.sniff.kind == "image"
                        else Attachment.Kind.VIDEO,
                        sha256=item.checked.sha256,
                        file=item.key,
                        mime=item.checked.sniff.mime,
                        size_bytes=item.checked.size_bytes,
                        original_name=item.checked.name[:255],
                    )
                )
        if ticket is None:
            pass  # an auto-reply or bounce: stored, nothing to ticket
        elif status == InboundEmail.Status.THREADED:
            _follow_up_retriage(ticket=ticket, new_attachments=bool(attachments))
        elif (
            status == InboundEmail.Status.TICKETED
            and not attachments
            and ticket.status == Ticket.Status.PROCESSING
        ):
            Ticket.objects.filter(id=ticket.id).update(
                status=Ticket.Status.TRIAGING, updated_at=timezone.now()
            )
            ticket.status = Ticket.Status.TRIAGING
        for attachment in attachments:
            attachment_process_task.delay_on_commit(attachment_id=attachment.id)
        if (
            ticket is not None
            and status == InboundEmail.Status.TICKETED
            and ticket.status == Ticket.Status.TRIAGING
        ):
            ticket_triage_task.delay_on_commit(ticket_id=ticket.id)
        InboundEmail.objects.filter(id=locked.id).update(
            status=status,
            ticket=ticket,
            thread_reason=reason if ticket is not None else "",
            message_id=parsed.message_id[:998] or locked.message_id,
            subject=parsed.subject[:300],
            from_email=parsed.from_email[:254],
            body_text=parsed.new_text,
            quoted_text=parsed.quoted_text,
            auto_kind=parsed.auto_kind,
            failure_kind="",
            error_message="",
            details={
                **({"fetch": locked.details["fetch"]} if locked.details.get("fetch") else {}),
                "auto_reason": parsed.auto_reason,
                "skipped": skipped,
                "attachments": [a.id for a in attachments],
                "body_source": parsed.body_source,
                "in_reply_to": list(parsed.in_reply_to),
                "references": list(parsed.references[-20:]),
                "defects": list(parsed.defects),
                # who else was on the message: the reply's default Cc, and participants
                "from_name": parsed.from_name,
                "to": [a for a in parsed.to if a.lower() not in our_addresses()][:20],
                "cc": [a for a in parsed.cc if a.lower() not in our_addresses()][:20],
            },
            processed_at=timezone.now(),
        )
        if status == InboundEmail.Status.TICKETED and ticket is not None:
            refusal = ack_refusal(
                sender=parsed.from_email,
                auto_kind=parsed.auto_kind,
                list_reason=parsed.list_reason,
                our_addresses=our_addresses(),
            )
            if not refusal:
                ticket_acknowledge(
                    ticket=ticket,
                    recipient=parsed.from_email,
                    in_reply_to=parsed.message_id,
                    references=parsed.references,
                    text=f"{parsed.subject}\n{parsed.new_text}",
                )


def _follow_up_retriage(*, ticket: Ticket, new_attachments: bool) -> None:
    """A follow-up sends a ticket not yet reviewed back through media and triage with the whole
    thread; a ticket already being processed picks the message up when its triage reads the thread.

    A reviewed ticket is a conversation under way: its fields were confirmed by a person, so the
    customer's answer is not triaged again; it reopens the ticket when it was Pending or Solved
    (its new attachments are still processed, for the page).
    """
    from triage.tasks import ticket_triage_task

    if ticket.status in REVIEWED_STATES:
        ticket_customer_replied(ticket_id=ticket.id)
        return
    if new_attachments:
        Ticket.objects.filter(id=ticket.id).update(status=Ticket.Status.PROCESSING)
        return
    moved = (
        Ticket.objects.filter(id=ticket.id)
        .exclude(status__in=[Ticket.Status.PROCESSING, Ticket.Status.TRIAGING])
        .update(status=Ticket.Status.TRIAGING, updated_at=timezone.now())
    )
    if moved:
        ticket_triage_task.delay_on_commit(ticket_id=ticket.id)


def inbound_email_quarantine(*, inbound_email_id: int, kind: str, message: str) -> None:
    """Record why a message could not be read; it still becomes a ticket an agent can open,
    with the raw .eml to download and a retry button."""
    email = InboundEmail.objects.get(id=inbound_email_id)
    subject, sender = email.subject, email.from_email
    if not email.raw.name.endswith(".json"):  # a provider's post, not a message: what it said is on the row
        try:
            with default_storage.open(email.raw.name, "rb") as fh:
                peek = header_peek(fh.read(256 * 1024))
            subject, sender = peek.subject or subject, peek.from_email or sender
        except Exception:  # the row's own subject and sender will do
            logger.debug("inbound email %s: headers unreadable for the quarantine ticket", email.id)
    with transaction.atomic():
        locked = InboundEmail.objects.select_for_update().get(id=inbound_email_id)
        if locked.status in _DONE and locked.status != InboundEmail.Status.QUARANTINED:
            return
        ticket = locked.ticket
        if ticket is None:
            ticket = Ticket.objects.create(
                subject=(subject or "Unreadable email")[:300],
                description=f"This email could not be read: {message}",
                requester_email=sender if "@" in sender else "",
                channel=Ticket.Channel.EMAIL,
                status=Ticket.Status.MANUAL_TRIAGE,
            )
        InboundEmail.objects.filter(id=locked.id).update(
            status=InboundEmail.Status.QUARANTINED,
            ticket=ticket,
            thread_reason=InboundEmail.ThreadReason.NEW,
            failure_kind=kind,
            error_message=message[:2000],
            processed_at=timezone.now(),
        )
    logger.warning("inbound email %s quarantined (%s): %s", inbound_email_id, kind, message)


def inbound_email_retry(*, inbound_email_id: int) -> bool:
    """Send a quarantined message through parsing again. Returns False if it was not quarantined."""
    from triage.tasks import inbound_email_process_task

    with transaction.atomic():
        moved = InboundEmail.objects.filter(
            id=inbound_email_id, status=InboundEmail.Status.QUARANTINED
        ).update(status=InboundEmail.Status.RECEIVED, failure_kind="", error_message="")
        if moved:
            inbound_email_process_task.delay_on_commit(inbound_email_id=inbound_email_id)
    return bool(moved)


def inbound_email_requeue_stale(*, stale: datetime, now: datetime, max_sweeps: int) -> tuple[int, int]:
    """Mail stored but never parsed (RECEIVED/PROCESSING since before `stale`) is queued again; one
    requeued `max_sweeps` times already is quarantined (a ticket a person sees), so a message that
    kills the worker every time does not loop for ever. Returns (requeued, quarantined)."""
    from triage.tasks import inbound_email_process_task

    requeued = failed = 0
    stuck = (
        InboundEmail.objects.filter(
            status__in=[InboundEmail.Status.RECEIVED, InboundEmail.Status.PROCESSING], received_at__lt=stale
        )
        .exclude(swept_at__gt=stale)
        .order_by("id")
        .only("id", "sweeps", "attempts")
    )
    for email in stuck[:500]:
        if email.sweeps >= max_sweeps:
            inbound_email_quarantine(
                inbound_email_id=email.id,
                kind="bug",
                message=f"reading the message never finished, even after {email.sweeps} more tries "
                f"({email.attempts} attempts in all)",
            )
            failed += 1
            continue
        InboundEmail.objects.filter(id=email.id).update(sweeps=email.sweeps + 1, swept_at=now)
        inbound_email_process_task.delay(inbound_email_id=email.id)
        requeued += 1
    return requeued, failed


def inbound_email_mark_failed(*, inbound_email_id: int, message: str) -> None:
    """Last resort after the task's retries (the database kept failing): quarantine it."""
    inbound_email_quarantine(inbound_email_id=inbound_email_id, kind="upstream", message=message)


def sent_email_record(*, ticket_id: int, message_id: str) -> None:
    """Remember the Message-ID of a mail we sent about a ticket, so replies to it thread back."""
    SentEmail.objects.get_or_create(message_id=message_id.strip("<> "), defaults={"ticket_id": ticket_id})
