"""Mail we send about a ticket: replies, acknowledgements, mention notices, through an outbox.

`*_queue` functions write the OutboundEmail row (and, for mail a customer may answer, its
Message-ID in SentEmail) in the caller's transaction and publish the send on commit; the `outbound`
worker then runs `outbound_email_send`. Recording before sending is what makes the worker safe to
kill: a row that is not SENT is retried with the same Message-ID, a SENT row is never sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.core.mail import get_connection
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from triage.adapters.email.outbound import (
    OutgoingAttachment,
    OutgoingMail,
    email_message_build,
    message_id_make,
    send_failure_classify,
)
from triage.adapters.email.threading import reply_address_make
from triage.adapters.media import MediaRejected
from triage.models import AckThrottle, InboundEmail, OutboundEmail, SentEmail, Ticket
from triage.services.media import original_store, upload_check

logger = logging.getLogger(__name__)

# A SENDING row older than this was left by a worker that died mid-send: claimable again.
_SENDING_STALE = timedelta(minutes=5)


class SendRetryLater(Exception):
    """The mail server may take it later; the task retries with backoff."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ReplyUpload:
    fileobj: IO[bytes]
    name: str
    size_bytes: int


def support_address() -> str:
    return settings.TRIAGE_SUPPORT_EMAIL


def _domain() -> str:
    return support_address().rpartition("@")[2] or "triage.local"


def _reply_to(ticket_id: int) -> str:
    return reply_address_make(
        address=support_address(), ticket_id=ticket_id, secret=settings.INBOUND_EMAIL_SECRET
    )


def _subject(ticket: Ticket, prefix: str = "Re: ") -> str:
    subject = ticket.subject or "your request"
    if ticket.reference not in subject:
        subject = f"{subject} [{ticket.reference}]"
    if prefix and not subject.lower().startswith(prefix.strip().lower()):
        subject = prefix + subject
    return subject[:300]


def _last_customer_message(ticket: Ticket) -> InboundEmail | None:
    return (
        InboundEmail.objects.filter(ticket=ticket)
        .exclude(status=InboundEmail.Status.AUTOMATIC)
        .exclude(message_id="")
        .order_by("-received_at", "-id")
        .first()
    )


def reply_defaults(*, ticket: Ticket) -> dict[str, list[str]]:
    """Who a reply goes to: the requester, and the other people copied on the thread (editable)."""
    to = [ticket.requester_email] if ticket.requester_email else []
    ours = {a.lower() for a in settings.INBOUND_EMAIL_ADDRESSES} | {support_address().lower()}
    cc: dict[str, None] = {}
    for details, sender in (
        InboundEmail.objects.filter(ticket=ticket)
        .exclude(status=InboundEmail.Status.AUTOMATIC)
        .values_list("details", "from_email")
    ):
        for address in [sender, *(details or {}).get("cc", [])]:
            low = address.lower()
            if (
                low
                and low not in ours
                and low not in {t.lower() for t in to}
                and "+" not in low.split("@")[0]
            ):
                cc.setdefault(address, None)
    return {"to": to, "cc": list(cc)}


def _attachments_store(uploads: Sequence[ReplyUpload]) -> list[dict]:
    """Images only, checked like ticket uploads (content sniffed, size limits); stored by content."""
    stored = []
    for upload in uploads:
        checked = upload_check(fileobj=upload.fileobj, name=upload.name, size_bytes=upload.size_bytes)
        if checked.sniff.kind != "image":
            raise MediaRejected(f"'{upload.name}' is not an image; replies carry images only")
        key = original_store(fileobj=upload.fileobj, checked=checked)
        stored.append(
            {"key": key, "name": upload.name[:255], "mime": checked.sniff.mime, "size": checked.size_bytes}
        )
    return stored


def reply_send(
    *,
    ticket_id: int,
    author: User | None,
    body: str,
    to: Sequence[str],
    cc: Sequence[str] = (),
    uploads: Sequence[ReplyUpload] = (),
) -> OutboundEmail:
    """Record a reply to the customer and queue its sending. Raises MediaRejected for a bad image.

    Threaded on the customer's last message (In-Reply-To, References), with a new Message-ID in
    SentEmail and a Reply-To that carries the ticket's signed token, so the answer comes back here.
    """
    attachments = _attachments_store(uploads)  # files first, outside the transaction
    with transaction.atomic():
        ticket = Ticket.objects.get(id=ticket_id)
        last = _last_customer_message(ticket)
        references: list[str] = []
        if last is not None:
            references = [*(last.details or {}).get("references", []), last.message_id]
        return _queue(
            ticket=ticket,
            kind=OutboundEmail.Kind.REPLY,
            author=author,
            to=list(to),
            cc=list(cc),
            subject=_subject(ticket),
            body=body,
            in_reply_to=last.message_id if last else "",
            references=references[-20:],
            attachments=attachments,
        )


def _queue(
    *,
    ticket: Ticket,
    kind: str,
    author: User | None,
    to: list[str],
    subject: str,
    body: str,
    cc: list[str] | None = None,
    in_reply_to: str = "",
    references: list[str] | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[dict] | None = None,
) -> OutboundEmail:
    from triage.tasks import outbound_email_send_task

    message_id = message_id_make(domain=_domain())
    email = OutboundEmail.objects.create(
        ticket=ticket,
        kind=kind,
        author=author,
        message_id=message_id,
        from_email=support_address(),
        reply_to=_reply_to(ticket.id) if kind != OutboundEmail.Kind.MENTION else "",
        to=to,
        cc=cc or [],
        subject=subject,
        body=body,
        in_reply_to=in_reply_to,
        references=" ".join(references or []),
        headers=headers or {},
        attachments=attachments or [],
    )
    if kind != OutboundEmail.Kind.MENTION:  # an answer to it threads back to the ticket
        SentEmail.objects.create(ticket=ticket, message_id=message_id)
    outbound_email_send_task.delay_on_commit(outbound_email_id=email.id)
    return email


def _claim(outbound_email_id: int) -> OutboundEmail | None:
    """QUEUED, or SENDING left behind by a dead worker, becomes SENDING with one more attempt.

    The claim commits before the mail server is called: the row says "attempted" even if the
    process dies during the send, and a concurrent duplicate job finds it taken."""
    stale = timezone.now() - _SENDING_STALE
    with transaction.atomic():
        email = (
            OutboundEmail.objects.select_for_update(skip_locked=True)
            .filter(id=outbound_email_id)
            .filter(
                Q(status=OutboundEmail.Status.QUEUED)
                | Q(status=OutboundEmail.Status.SENDING, attempted_at__lt=stale)
            )
            .first()
        )
        if email is None:
            return None
        OutboundEmail.objects.filter(id=email.id).update(
            status=OutboundEmail.Status.SENDING, attempts=F("attempts") + 1, attempted_at=timezone.now()
        )
    email.refresh_from_db()
    return email


def _outgoing(email: OutboundEmail) -> OutgoingMail:
    files = []
    for item in email.attachments:
        with default_storage.open(item["key"], "rb") as fh:
            files.append(OutgoingAttachment(name=item["name"], mime=item["mime"], data=fh.read()))
    return OutgoingMail(
        message_id=email.message_id,
        from_email=email.from_email,
        to=tuple(email.to),
        cc=tuple(email.cc),
        subject=email.subject,
        body=email.body,
        reply_to=email.reply_to,
        in_reply_to=email.in_reply_to,
        references=tuple(email.references.split()),
        headers=dict(email.headers),
        attachments=tuple(files),
    )


def outbound_email_send(*, outbound_email_id: int, final_attempt: bool = False) -> str:
    """Send one recorded mail. Idempotent: SENT rows and rows another worker holds are skipped.

    Raises SendRetryLater for trouble that may pass (server down, 4xx) unless `final_attempt`;
    records a refusal (5xx) or the last failure on the row as FAILED with the server's reason.
    Returns the row's status afterwards."""
    email = _claim(outbound_email_id)
    if email is None:
        return (
            OutboundEmail.objects.filter(id=outbound_email_id).values_list("status", flat=True).first() or ""
        )
    try:
        message = email_message_build(_outgoing(email), connection=get_connection(fail_silently=False))
        message.send(fail_silently=False)
    except Exception as exc:
        failure = send_failure_classify(exc)
        if failure.transient and not final_attempt:
            OutboundEmail.objects.filter(id=email.id).update(
                status=OutboundEmail.Status.QUEUED, error_message=f"retrying: {failure.reason}"
            )
            raise SendRetryLater(failure.reason) from exc
        OutboundEmail.objects.filter(id=email.id).update(
            status=OutboundEmail.Status.FAILED,
            failure_kind="upstream" if failure.transient else "refused",
            error_message=failure.reason,
        )
        logger.warning("outbound email %s failed: %s", email.id, failure.reason)
        return OutboundEmail.Status.FAILED
    OutboundEmail.objects.filter(id=email.id).update(
        status=OutboundEmail.Status.SENT, sent_at=timezone.now(), failure_kind="", error_message=""
    )
    return OutboundEmail.Status.SENT


def outbound_email_retry(*, outbound_email_id: int) -> bool:
    """An agent's Retry on a failed mail: the same row, the same Message-ID, queued again."""
    from triage.tasks import outbound_email_send_task

    with transaction.atomic():
        moved = OutboundEmail.objects.filter(id=outbound_email_id, status=OutboundEmail.Status.FAILED).update(
            status=OutboundEmail.Status.QUEUED, failure_kind="", error_message=""
        )
        if moved:
            outbound_email_send_task.delay_on_commit(outbound_email_id=outbound_email_id)
    return bool(moved)


def outbound_email_requeue_stale() -> int:
    """The sweep: publish again rows a lost job left QUEUED or SENDING (a broker restart, a kill)."""
    from triage.tasks import outbound_email_send_task

    cutoff = timezone.now() - _SENDING_STALE
    ids = list(
        OutboundEmail.objects.filter(
            Q(status=OutboundEmail.Status.QUEUED, created_at__lt=cutoff)
            | Q(status=OutboundEmail.Status.SENDING, attempted_at__lt=cutoff)
        ).values_list("id", flat=True)[:1000]
    )
    for outbound_email_id in ids:
        outbound_email_send_task.delay(outbound_email_id=outbound_email_id)
    return len(ids)


# --- acknowledgements ---------------------------------------------------------------------------
def ack_claim(*, address: str) -> bool:
    """Claim the right to acknowledge `address` now: at most one per TRIAGE_ACK_MIN_INTERVAL_S.

    One statement decides: a conditional UPDATE of the address's row (concurrent claimers queue on
    its row lock and re-check the condition), or for a first-time sender the INSERT that the
    unique key lets exactly one of them win. Run inside the transaction that queues the mail."""
    now = timezone.now()
    address = address.lower()[:254]
    cutoff = now - timedelta(seconds=settings.TRIAGE_ACK_MIN_INTERVAL_S)
    if AckThrottle.objects.filter(address=address, last_sent_at__lte=cutoff).update(last_sent_at=now):
        return True
    if AckThrottle.objects.filter(address=address).exists():
        return False
    try:
        with transaction.atomic():
            AckThrottle.objects.create(address=address, last_sent_at=now)
    except IntegrityError:
        return False
    return True


def ticket_acknowledge(
    *,
    ticket: Ticket,
    recipient: str,
    in_reply_to: str = "",
    references: Sequence[str] = (),
    text: str = "",
) -> OutboundEmail | None:
    """Queue the acknowledgement of a new ticket, if this sender has had none recently.

    The caller has already ruled out automatic, list and robot mail (adapters.email.outbound.
    ack_refusal). Marked `Auto-Submitted: auto-replied` (RFC 3834) with our loop header, so an
    auto-responder answering it is recognised and neither triaged nor acknowledged in turn."""
    from triage.services.macros import ack_render

    if not settings.TRIAGE_ACK_ENABLED or not recipient or not ack_claim(address=recipient):
        return None
    subject, body = ack_render(ticket=ticket, text=text)
    return _queue(
        ticket=ticket,
        kind=OutboundEmail.Kind.ACK,
        author=None,
        to=[recipient],
        subject=subject,
        body=body,
        in_reply_to=in_reply_to,
        references=[*references, *([in_reply_to] if in_reply_to else [])][-20:],
        headers={
            "Auto-Submitted": "auto-replied",
            "X-Auto-Response-Suppress": "All",
            "X-Triage-Loop": "ack",
        },
    )


def ticket_acknowledge_later(*, ticket_id: int) -> OutboundEmail | None:
    """The acknowledgement of a ticket written for a customer on the web form or the API, queued by
    the outbound worker (ticket_acknowledge_task) instead of inside the post that created it: its
    throttle check, template and two rows were ~40% of the form post's CPU, spent while the next
    arrivals waited (bench/load.py).

    Decided once per ticket: the first run (the job, a redelivery of it, or ticket_acknowledge_sweep)
    clears `ack_due_at` in one conditional UPDATE, whatever ticket_acknowledge then decides (sent,
    throttled, switched off). A concurrent run waits on that row lock until the first commits, finds
    the condition false and stops; a run after it finds nothing owed."""
    with transaction.atomic():
        if not Ticket.objects.filter(id=ticket_id, ack_due_at__isnull=False).update(ack_due_at=None):
            return None
        ticket = Ticket.objects.get(id=ticket_id)
        if not ticket.requester_email:
            return None
        if OutboundEmail.objects.filter(ticket=ticket, kind=OutboundEmail.Kind.ACK).exists():
            return None
        return ticket_acknowledge(
            ticket=ticket, recipient=ticket.requester_email, text=f"{ticket.subject}\n{ticket.description}"
        )


def ticket_acknowledge_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """The beat's catch-up for acknowledgement jobs that never ran (the broker down at commit:
    RecordedFirstTask only logs it). Tickets still owed one after TRIAGE_ACK_SWEEP_AFTER_S (the job
    had its chance) go through ticket_acknowledge_later, so the throttle, the switch and the
    once-per-ticket rule are the job's own; older than TRIAGE_ACK_SWEEP_MAX_AGE_S they are given up
    (cleared, not mailed: a broker back after a day must not mail a day of customers at once).
    Returns {"sent": n, "skipped": n, "expired": n}."""
    now = now or timezone.now()
    due_before = now - timedelta(seconds=settings.TRIAGE_ACK_SWEEP_AFTER_S)
    oldest = now - timedelta(seconds=settings.TRIAGE_ACK_SWEEP_MAX_AGE_S)
    done = {"sent": 0, "skipped": 0, "expired": 0}
    done["expired"] = Ticket.objects.filter(ack_due_at__lt=oldest).update(ack_due_at=None)
    ids = list(
        Ticket.objects.filter(ack_due_at__gte=oldest, ack_due_at__lt=due_before)
        .order_by("ack_due_at")
        .values_list("id", flat=True)[:500]
    )
    for ticket_id in ids:
        try:
            sent = ticket_acknowledge_later(ticket_id=ticket_id)
        except Exception:  # one ticket's trouble must not hold back the others; it stays owed
            logger.exception("acknowledgement of ticket %s failed in the sweep", ticket_id)
            continue
        done["sent" if sent is not None else "skipped"] += 1
    if any(done.values()):
        logger.warning("acknowledgement sweep: %s", done)
    return done


def mention_notify(
    *, ticket: Ticket, user: User, author: User | None, note_body: str
) -> OutboundEmail | None:
    """Tell a colleague by email that a note names them (the header badge tells them in the app)."""
    address = getattr(user, "email", "")
    if not address:
        return None
    who = (author.get_full_name() or author.get_username()) if author else "Triage"
    link = f"{settings.TRIAGE_PUBLIC_URL.rstrip('/')}/tickets/{ticket.id}/"
    return _queue(
        ticket=ticket,
        kind=OutboundEmail.Kind.MENTION,
        author=author,
        to=[address],
        subject=f"{who} mentioned you on {ticket.reference}: {ticket.subject}"[:300],
        body=f"{who} wrote an internal note on {ticket.reference}:\n\n{note_body}\n\n{link}\n",
        headers={"Auto-Submitted": "auto-generated", "X-Triage-Loop": "mention"},
    )
