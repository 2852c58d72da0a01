"""Ticket creation: store the originals, create the rows, enqueue the work on commit."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from triage.adapters.media import MediaRejected, SniffResult
from triage.models import Attachment, Ticket, UploadStage
from triage.services.media import CheckedUpload, original_store, upload_check
from triage.services.webhooks import webhook_event_record


@dataclass(frozen=True)
class Upload:
    fileobj: IO[bytes]
    name: str
    size_bytes: int


def ticket_create(
    *,
    subject: str,
    description: str,
    requester_email: str,
    uploads: Sequence[Upload] = (),
    staged: Sequence[StagedUpload] = (),
    created_by: User | None = None,
    channel: str = Ticket.Channel.WEB,
    acknowledge: bool = True,
) -> Ticket:
    """Create a ticket with its attachments. Raises MediaRejected if an upload is unacceptable
    (the form has already told the user; this is the service's own guard).

    `staged`: files the browser uploaded beforehand (upload_stage), already checked and stored."""
    from triage.tasks import attachment_process_task, ticket_acknowledge_task, ticket_triage_task

    checked: list[tuple[CheckedUpload, str]] = [(item.checked, item.key) for item in staged]
    for upload in uploads:
        item = upload_check(fileobj=upload.fileobj, name=upload.name, size_bytes=upload.size_bytes)
        # Stored before the transaction: a rolled-back ticket leaves at most an orphan blob under a
        # content key, never a row that points at nothing.
        checked.append((item, original_store(fileobj=upload.fileobj, checked=item)))

    with transaction.atomic():
        if staged:
            # The purge of abandoned uploads takes these rows too: whichever comes first wins, and a
            # purge that came first has deleted the blob, which we then say rather than point at it.
            keys = [item.key for item in staged]
            list(UploadStage.objects.select_for_update().filter(key__in=keys))
            for key in keys:
                if not default_storage.exists(key):
                    raise MediaRejected("an uploaded file is gone: add it again")
        owed_ack = bool(requester_email and acknowledge and settings.TRIAGE_ACK_ENABLED)
        ticket = Ticket.objects.create(
            # recorded with the ticket, so a job lost at commit is found by the outbound sweep
            ack_due_at=timezone.now() if owed_ack else None,
            subject=subject.strip()[:300],
            description=description,
            requester_email=requester_email,
            channel=channel,
            created_by=created_by if created_by is not None and created_by.is_authenticated else None,
            status=Ticket.Status.PROCESSING if checked else Ticket.Status.TRIAGING,
        )
        # one INSERT for every file (no signal or save() of Attachment is skipped: it has none)
        attachments = Attachment.objects.bulk_create(
            Attachment(
                ticket=ticket,
                kind=Attachment.Kind.IMAGE if item.sniff.kind == "image" else Attachment.Kind.VIDEO,
                sha256=item.sha256,
                file=key,
                mime=item.sniff.mime,
                size_bytes=item.size_bytes,
                original_name=item.name[:255],
            )
            for item, key in checked
        )
        for attachment in attachments:
            attachment_process_task.delay_on_commit(attachment_id=attachment.id)
        if not checked:
            ticket_triage_task.delay_on_commit(ticket_id=ticket.id)
        webhook_event_record(event_type="ticket.created", ticket_id=ticket.id)
        dayone_refit_queue(ticket_id=ticket.id)
        if owed_ack:
            # a web ticket written for a customer: they hear from us as a mailed one would, from the
            # outbound worker once this commits (not in the post: it answers with the ticket stored);
            # if the broker refuses the job, ticket_acknowledge_sweep sends it from ack_due_at
            ticket_acknowledge_task.delay_on_commit(ticket_id=ticket.id)
    return ticket


def dayone_refit_queue(*, ticket_id: int) -> None:
    """Every TRIAGE_DAYONE_REFIT_EVERY tickets, queue the day-one fit on the stored texts (by id, no
    count query; an id lost to a rollback skips one, the hourly beat catches up). A no-op in the
    task once a trained version exists. Called inside the creating transaction."""
    every = settings.TRIAGE_DAYONE_REFIT_EVERY
    if every and ticket_id % every == 0:
        from triage.tasks import dayone_fit_task

        dayone_fit_task.delay_on_commit()


# --- Browser uploads: each file is uploaded on its own, before the ticket exists ----------------
# The page uploads every file as soon as it is added (one request each, with its own progress bar)
# and gets back a signed token; the ticket form then carries the tokens instead of the bytes. A file
# that fails is retried or removed alone: the form's text and the other files are never lost, and
# the ticket is created in one transaction with all its attachments, so the media settle logic
# never sees a ticket whose files are still arriving.

_STAGE_SALT = "triage.intake.staged-upload"
STAGED_MAX_AGE_S = 24 * 3600


@dataclass(frozen=True)
class StagedUpload:
    """A checked original in storage, not yet attached to a ticket."""

    checked: CheckedUpload
    key: str
    token: str


def upload_stage(*, upload: Upload, user: User) -> StagedUpload:
    """Check and store one browser upload; the token names it in the ticket form. Raises
    MediaRejected. The blob is content-addressed: an abandoned upload costs its bytes, once."""
    checked = upload_check(fileobj=upload.fileobj, name=upload.name, size_bytes=upload.size_bytes)
    key = original_store(fileobj=upload.fileobj, checked=checked)
    UploadStage.objects.update_or_create(key=key, defaults={"staged_at": timezone.now()})
    payload = {
        "key": key,
        "sha256": checked.sha256,
        "size": checked.size_bytes,
        "name": checked.name[:255],
        "kind": checked.sniff.kind,
        "mime": checked.sniff.mime,
        "ext": checked.sniff.extension,
    }
    token = signing.dumps(payload, salt=f"{_STAGE_SALT}:{user.pk}", compress=True)
    return StagedUpload(checked=checked, key=key, token=token)


def staged_upload_get(*, token: str, user: User) -> StagedUpload:
    """The staged upload a token names, for this user only. Raises MediaRejected when the token is
    forged, someone else's, older than a day, or its blob is gone."""
    try:
        data = signing.loads(token, salt=f"{_STAGE_SALT}:{user.pk}", max_age=STAGED_MAX_AGE_S)
    except signing.SignatureExpired:
        raise MediaRejected("the upload expired: add the file again") from None
    except signing.BadSignature:
        raise MediaRejected("not an upload of yours: add the file again") from None
    if not default_storage.exists(data["key"]):
        raise MediaRejected("the uploaded file is gone: add it again")
    checked = CheckedUpload(
        sniff=SniffResult(kind=data["kind"], mime=data["mime"], extension=data["ext"]),
        sha256=data["sha256"],
        size_bytes=data["size"],
        name=data["name"],
    )
    return StagedUpload(checked=checked, key=data["key"], token=token)


logger = logging.getLogger(__name__)


def upload_stage_purge(*, now: datetime.datetime | None = None) -> int:
    """Delete the staged originals no ticket took, once no token can name them any more (older than
    STAGED_MAX_AGE_S plus an hour). Returns how many blobs were deleted.

    Idempotent, and safe against a ticket being created with one of them at that moment: each row is
    taken with a lock that ticket_create takes too, its age and the references are read again under
    it, and a locked row is skipped (the next run sees it).
    """
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=STAGED_MAX_AGE_S + 3600)
    deleted = 0
    for key in UploadStage.objects.filter(staged_at__lt=cutoff).values_list("key", flat=True)[:10_000]:
        with transaction.atomic():
            row = (
                UploadStage.objects.select_for_update(skip_locked=True)
                .filter(key=key, staged_at__lt=cutoff)
                .first()
            )
            if row is None:  # taken by a ticket being created, or staged again: not abandoned
                continue
            if not Attachment.objects.filter(file=key).exists() and default_storage.exists(key):
                default_storage.delete(key)
                deleted += 1
            row.delete()
    if deleted:
        logger.info("deleted %d abandoned staged upload(s)", deleted)
    return deleted
