"""Retention and erasure: what Triage keeps about the people who write in, and for how long.

- `retention_run` (beat, hourly): originals and renditions of tickets older than
  TRIAGE_RETAIN_MEDIA_DAYS, and the raw messages of mail older than TRIAGE_RETAIN_MAIL_DAYS, are
  deleted from storage. The ticket, its triage runs, the review and the summary stay; the ticket
  records when its media expired, the mail when its raw message went.
- `requester_erase`: everything about one requester (their tickets' text, media, raw mail, the
  conversation, report exports that may hold them) deleted or blanked, with an audit record that
  keeps a keyed hash of the address, never the address.
- `requester_export`: a zip of one requester's tickets (JSON) and files, for a data-subject request.

Storage keys are content hashes, so two tickets holding the same screenshot share one object: a key
is deleted only when no row outside the ones being expired still points at it. Files go first and
the rows after (in one transaction): a crash in between leaves rows whose files are already gone,
which the next run finds again and finishes (deleting a missing object is a no-op), never a file
that no row mentions.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from triage.models import (
    AckThrottle,
    Attachment,
    ErasureRecord,
    InboundEmail,
    OutboundEmail,
    Rendition,
    ReportExport,
    RetentionRun,
    ReviewDecision,
    Ticket,
    TicketNote,
    TriageRun,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

BATCH = 200
ERASED_SUBJECT = "[erased]"
# the mail a worker is done with; RECEIVED/PROCESSING are still to be read, and a QUARANTINED
# message keeps its raw bytes so that it can be retried (the quarantine page lists them)
_MAIL_DONE = (InboundEmail.Status.TICKETED, InboundEmail.Status.THREADED, InboundEmail.Status.AUTOMATIC)
# tickets whose media a worker may still be reading
_TICKET_BUSY = (Ticket.Status.PROCESSING, Ticket.Status.TRIAGING)


# --- storage ------------------------------------------------------------------------------------
@dataclass
class Deleted:
    files: int = 0
    bytes: int = 0


def _keys_in_use(
    keys: set[str], *, attachment_ids: Iterable[int] = (), inbound_email_ids: Iterable[int] = ()
) -> set[str]:
    """The keys among `keys` that a row other than the ones being expired still points at."""
    if not keys:
        return set()
    attachment_ids, inbound_email_ids = list(attachment_ids), list(inbound_email_ids)
    used = set(
        Attachment.objects.filter(file__in=keys).exclude(id__in=attachment_ids).values_list("file", flat=True)
    )
    used |= set(
        Rendition.objects.filter(file__in=keys)
        .exclude(attachment_id__in=attachment_ids)
        .values_list("file", flat=True)
    )
    used |= set(
        InboundEmail.objects.filter(raw__in=keys)
        .exclude(id__in=inbound_email_ids)
        .values_list("raw", flat=True)
    )
    return used


def _storage_delete(keys: set[str]) -> Deleted:
    """Delete each key through the configured storage (file system or S3); a missing key is skipped."""
    done = Deleted()
    for key in sorted(keys):
        if not key:
            continue
        if not default_storage.exists(key):
            continue
        size = default_storage.size(key)
        default_storage.delete(key)
        done.files += 1
        done.bytes += size
    return done


# --- retention ----------------------------------------------------------------------------------
def _cutoff(days: int, now: datetime) -> datetime | None:
    return now - timedelta(days=days) if days and days > 0 else None


def retention_media_expire(*, ticket_ids: list[int], now: datetime) -> tuple[int, int, Deleted]:
    """Delete the originals and renditions of these tickets; the attachment rows stay (name, kind,
    size) with an empty file. Returns (attachments, renditions, what storage deleted)."""
    attachments = list(Attachment.objects.filter(ticket_id__in=ticket_ids).values_list("id", "file"))
    attachment_ids = [a_id for a_id, _ in attachments]
    renditions = list(
        Rendition.objects.filter(attachment_id__in=attachment_ids).values_list("file", flat=True)
    )
    keys = {key for _, key in attachments if key} | {key for key in renditions if key}
    deleted = _storage_delete(keys - _keys_in_use(keys, attachment_ids=attachment_ids))
    with transaction.atomic():
        # the OCR text of each rendition goes with it (read from the pixels that are now gone)
        Rendition.objects.filter(attachment_id__in=attachment_ids).delete()
        Attachment.objects.filter(id__in=attachment_ids).update(file="")
        Ticket.objects.filter(id__in=ticket_ids, media_expired_at__isnull=True).update(media_expired_at=now)
    return len(attachment_ids), len(renditions), deleted


def retention_mail_expire(*, inbound_email_ids: list[int], now: datetime) -> Deleted:
    keys = set(InboundEmail.objects.filter(id__in=inbound_email_ids).values_list("raw", flat=True)) - {""}
    deleted = _storage_delete(keys - _keys_in_use(keys, inbound_email_ids=inbound_email_ids))
    InboundEmail.objects.filter(id__in=inbound_email_ids).update(raw="", raw_deleted_at=now)
    return deleted


def retention_run(
    *, now: datetime | None = None, media_days: int | None = None, mail_days: int | None = None
) -> RetentionRun | None:
    """One pass of the retention policy, in batches of BATCH rows. Returns the record of what it
    deleted, or None when nothing was due (or retention is off: both settings unset or 0)."""
    now = now or timezone.now()
    media_days = settings.TRIAGE_RETAIN_MEDIA_DAYS if media_days is None else media_days
    mail_days = settings.TRIAGE_RETAIN_MAIL_DAYS if mail_days is None else mail_days
    media_cutoff, mail_cutoff = _cutoff(media_days, now), _cutoff(mail_days, now)
    record = RetentionRun(media_cutoff=media_cutoff, mail_cutoff=mail_cutoff)
    if media_cutoff is not None:
        due = (
            Ticket.objects.filter(created_at__lt=media_cutoff, media_expired_at__isnull=True)
            .exclude(status__in=_TICKET_BUSY)
            .filter(Exists(Attachment.objects.filter(ticket_id=OuterRef("pk"))))
            # an attachment still queued or processing is left to the media worker (and the sweep)
            .exclude(
                Exists(
                    Attachment.objects.filter(ticket_id=OuterRef("pk")).exclude(
                        status__in=Attachment.TERMINAL
                    )
                )
            )
            .order_by("id")
        )
        last_id = 0
        while batch := list(due.filter(id__gt=last_id).values_list("id", flat=True)[:BATCH]):
            attachments, renditions, deleted = retention_media_expire(ticket_ids=batch, now=now)
            record.tickets += len(batch)
            record.attachments += attachments
            record.renditions += renditions
            record.files += deleted.files
            record.bytes += deleted.bytes
            last_id = batch[-1]
    if mail_cutoff is not None:
        mails = (
            InboundEmail.objects.filter(
                received_at__lt=mail_cutoff, raw_deleted_at__isnull=True, status__in=_MAIL_DONE
            )
            .exclude(raw="")
            .order_by("id")
        )
        last_id = 0
        while batch := list(mails.filter(id__gt=last_id).values_list("id", flat=True)[:BATCH]):
            deleted = retention_mail_expire(inbound_email_ids=batch, now=now)
            record.mails += len(batch)
            record.files += deleted.files
            record.bytes += deleted.bytes
            last_id = batch[-1]
    if not (record.tickets or record.mails):
        return None
    record.finished_at = timezone.now()
    record.save()
    logger.info(
        "retention: media of %d tickets (%d files), raw of %d mails, %d bytes",
        record.tickets,
        record.files,
        record.mails,
        record.bytes,
    )
    return record


# --- erasure ------------------------------------------------------------------------------------
def requester_normalize(email: str) -> str:
    return email.strip().lower()


def requester_hash(email: str) -> str:
    """HMAC-SHA256 of the normalized address under SECRET_KEY: the same address always gives the
    same hash (an administrator can check whether it was erased), but the record alone cannot be
    reversed by hashing a list of addresses."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, requester_normalize(email).encode(), hashlib.sha256).hexdigest()


@dataclass
class ErasurePlan:
    """What an erasure touches (a dry run stops here)."""

    tickets: int = 0
    attachments: int = 0
    mails: int = 0
    messages: int = 0  # inbound mail, our replies and the internal notes on their tickets
    exports: int = 0
    handoffs: int = 0  # copies in outside tools (Jira, GitHub, ...): not ours to erase
    files: int = 0
    ticket_ids: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        data = asdict(self)
        data.pop("ticket_ids")
        return data


def _scope(email: str) -> tuple[Any, Any]:
    address = requester_normalize(email)
    tickets = Ticket.objects.filter(requester_email__iexact=address)
    mails = InboundEmail.objects.filter(Q(ticket__in=tickets) | Q(from_email__iexact=address))
    return tickets, mails


def requester_plan(*, email: str) -> ErasurePlan:
    if not email.strip():
        return ErasurePlan()
    tickets, mails = _scope(email)
    ticket_ids = list(tickets.order_by("id").values_list("id", flat=True))
    plan = ErasurePlan(tickets=len(ticket_ids), ticket_ids=ticket_ids)
    attachment_ids = list(Attachment.objects.filter(ticket_id__in=ticket_ids).values_list("id", flat=True))
    plan.attachments = len(attachment_ids)
    plan.mails = mails.count()
    plan.messages = (
        plan.mails
        + OutboundEmail.objects.filter(ticket_id__in=ticket_ids).count()
        + TicketNote.objects.filter(ticket_id__in=ticket_ids).count()
    )
    plan.exports = _exports_holding(ticket_ids).count()
    plan.handoffs = Ticket.objects.filter(id__in=ticket_ids, handoffs__external_id__gt="").count()
    export_keys = {key for key in _exports_holding(ticket_ids).values_list("file", flat=True) if key}
    plan.files = len(
        _erasure_keys(ticket_ids=ticket_ids, attachment_ids=attachment_ids, mails=mails) | export_keys
    )
    return plan


def _exports_holding(ticket_ids: list[int]) -> Any:
    """Report exports that may list these tickets (they carry the address, subject and summary):
    every finished one written since the first of them arrived."""
    first = (
        Ticket.objects.filter(id__in=ticket_ids).order_by("created_at").values_list("created_at", flat=True)
    )
    if not ticket_ids or not first:
        return ReportExport.objects.none()
    return ReportExport.objects.filter(status=ReportExport.Status.DONE, created_at__gte=first[0])


def _erasure_keys(*, ticket_ids: list[int], attachment_ids: list[int], mails: Any) -> set[str]:
    keys = set(Attachment.objects.filter(id__in=attachment_ids).values_list("file", flat=True))
    keys |= set(Rendition.objects.filter(attachment_id__in=attachment_ids).values_list("file", flat=True))
    keys |= set(mails.values_list("raw", flat=True))
    for items in OutboundEmail.objects.filter(ticket_id__in=ticket_ids).values_list("attachments", flat=True):
        keys |= {item.get("key", "") for item in items or [] if isinstance(item, dict)}
    keys.discard("")
    return keys - _keys_in_use(
        keys, attachment_ids=attachment_ids, inbound_email_ids=list(mails.values_list("id", flat=True))
    )


def _strip_run_result(result: Any) -> Any:
    """A run's proposal without its free text: each field keeps its value and confidence."""
    if not isinstance(result, dict):
        return result
    kept: dict[str, Any] = {}
    for name, value in result.items():
        if isinstance(value, dict) and "value" in value:
            kept[name] = {k: value[k] for k in ("value", "confidence") if k in value}
    return kept


def requester_erase(
    *, email: str, by: User | None = None, via: str = "command", dry_run: bool = False
) -> ErasurePlan:
    """Erase one requester. Safe to run again: a second run finds nothing left under the address
    (it was blanked) and records an erasure of nothing."""
    plan = requester_plan(email=email)
    if dry_run or not email.strip():
        return plan
    now = timezone.now()
    tickets, mails = _scope(email)
    ticket_ids = plan.ticket_ids
    attachment_ids = list(Attachment.objects.filter(ticket_id__in=ticket_ids).values_list("id", flat=True))
    mail_ids = list(mails.values_list("id", flat=True))
    export_keys = {key for key in _exports_holding(ticket_ids).values_list("file", flat=True) if key}
    deleted = _storage_delete(
        _erasure_keys(ticket_ids=ticket_ids, attachment_ids=attachment_ids, mails=mails) | export_keys
    )
    with transaction.atomic():
        _exports_holding(ticket_ids).update(status=ReportExport.Status.EXPIRED, file="")
        Attachment.objects.filter(id__in=attachment_ids).delete()  # renditions and OCR text with them
        # mail no worker is done with (waiting, being read, quarantined) goes entirely: a worker
        # that claims it later finds no row; what was read stays, blanked, in its ticket's thread
        InboundEmail.objects.filter(id__in=mail_ids).exclude(status__in=_MAIL_DONE).delete()
        InboundEmail.objects.filter(id__in=mail_ids).update(
            raw="",
            raw_deleted_at=now,
            subject="",
            from_email="",
            recipient="",
            body_text="",
            quoted_text="",
            error_message="",
            details={},
        )
        OutboundEmail.objects.filter(ticket_id__in=ticket_ids).update(
            to=[], cc=[], reply_to="", subject=ERASED_SUBJECT, body="", attachments=[], error_message=""
        )
        TicketNote.objects.filter(ticket_id__in=ticket_ids).update(body=ERASED_SUBJECT)
        for run in TriageRun.objects.filter(ticket_id__in=ticket_ids).only("id", "result"):
            TriageRun.objects.filter(id=run.id).update(
                result=_strip_run_result(run.result), raw_output="", reasoning="", error_message=""
            )
        for decision in ReviewDecision.objects.filter(ticket_id__in=ticket_ids).only("id", "before", "after"):
            before = {k: v for k, v in (decision.before or {}).items() if k != "summary"}
            after = {k: v for k, v in (decision.after or {}).items() if k != "summary"}
            ReviewDecision.objects.filter(id=decision.id).update(before=before, after=after)
        WebhookEvent.objects.filter(ticket_id__in=ticket_ids).update(payload={})
        AckThrottle.objects.filter(address__iexact=requester_normalize(email)).delete()
        tickets.update(subject=ERASED_SUBJECT, description="", summary="", requester_email="", erased_at=now)
        ErasureRecord.objects.create(
            email_hash=requester_hash(email),
            by=by,
            via=via,
            tickets=plan.tickets,
            attachments=plan.attachments,
            mails=plan.mails,
            messages=plan.messages,
            exports=plan.exports,
            files=deleted.files,
        )
    plan.files = deleted.files
    logger.info(
        "erasure: %d tickets, %d files (requester %s)",
        plan.tickets,
        deleted.files,
        requester_hash(email)[:12],
    )
    return plan


# --- data-subject export ------------------------------------------------------------------------
def _safe_name(name: str, fallback: str) -> str:
    """A file name for inside the zip: the last part only, never a path."""
    base = PurePosixPath(name.replace("\\", "/")).name.strip().lstrip(".")
    return base[:120] or fallback


def _copy_into(archive: zipfile.ZipFile, *, key: str, arcname: str) -> bool:
    try:
        with default_storage.open(key, "rb") as src, archive.open(arcname, "w", force_zip64=True) as dst:
            for chunk in iter(lambda: src.read(1024 * 1024), b""):
                dst.write(chunk)
    except (FileNotFoundError, OSError):
        return False
    return True


def requester_export(*, email: str, out: IO[bytes]) -> int:
    """Write a zip of the requester's tickets (tickets.json) and their files (originals, raw mail)
    to `out`. Returns the number of tickets."""
    tickets, mails = _scope(email)
    if not email.strip():
        tickets, mails = Ticket.objects.none(), InboundEmail.objects.none()
    rows: list[dict[str, Any]] = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for ticket in tickets.order_by("id").prefetch_related(
            "attachments", "emails", "outbound_emails", "notes"
        ):
            files = []
            for attachment in ticket.attachments.all():
                arcname = (
                    f"files/{ticket.reference}/{attachment.id}-{_safe_name(attachment.original_name, 'file')}"
                )
                stored = bool(attachment.file) and _copy_into(
                    archive, key=attachment.file.name, arcname=arcname
                )
                files.append(
                    {
                        "name": attachment.original_name,
                        "kind": attachment.kind,
                        "mime": attachment.mime,
                        "size_bytes": attachment.size_bytes,
                        "path": arcname if stored else None,
                    }
                )
            rows.append(
                {
                    "reference": ticket.reference,
                    "created_at": ticket.created_at.isoformat(),
                    "channel": ticket.channel,
                    "status": ticket.status,
                    "subject": ticket.subject,
                    "description": ticket.description,
                    "requester_email": ticket.requester_email,
                    "summary": ticket.summary,
                    "category": ticket.category,
                    "priority": ticket.priority,
                    "queue": ticket.queue,
                    "language": ticket.language,
                    "media_expired_at": ticket.media_expired_at.isoformat()
                    if ticket.media_expired_at
                    else None,
                    "attachments": files,
                    "replies": [
                        {
                            "sent_at": (m.sent_at or m.created_at).isoformat(),
                            "to": m.to,
                            "subject": m.subject,
                            "body": m.body,
                        }
                        for m in ticket.outbound_emails.all()
                    ],
                    "notes": [{"at": n.created_at.isoformat(), "body": n.body} for n in ticket.notes.all()],
                }
            )
        messages = []
        for mail in mails.order_by("id"):
            arcname = f"mail/{mail.id}.eml"
            stored = bool(mail.raw) and _copy_into(archive, key=mail.raw.name, arcname=arcname)
            messages.append(
                {
                    "received_at": mail.received_at.isoformat(),
                    "ticket": f"TRI-{mail.ticket_id}" if mail.ticket_id else None,
                    "from": mail.from_email,
                    "subject": mail.subject,
                    "body": mail.body_text,
                    "raw": arcname if stored else None,
                }
            )
        body = {"requester": requester_normalize(email), "tickets": rows, "mail": messages}
        archive.writestr("tickets.json", json.dumps(body, indent=2, ensure_ascii=False))
    return len(rows)


def requester_export_bytes(*, email: str) -> bytes:
    buffer = io.BytesIO()
    requester_export(email=email, out=buffer)
    return buffer.getvalue()
