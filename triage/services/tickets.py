"""Ticket creation: store the originals, create the rows, enqueue the work on commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from triage.models import Attachment, Ticket
from triage.services.media import CheckedUpload, original_store, upload_check


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
    created_by: AbstractBaseUser | None = None,
    channel: str = Ticket.Channel.WEB,
) -> Ticket:
    """Create a ticket with its attachments. Raises MediaRejected if an upload is unacceptable
    (the form has already told the user; this is the service's own guard)."""
    from triage.tasks import attachment_process_task, ticket_triage_task

    checked: list[tuple[CheckedUpload, str]] = []
    for upload in uploads:
        item = upload_check(fileobj=upload.fileobj, name=upload.name, size_bytes=upload.size_bytes)
        # Stored before the transaction: a rolled-back ticket leaves at most an orphan blob under a
        # content key, never a row that points at nothing.
        checked.append((item, original_store(fileobj=upload.fileobj, checked=item)))

    with transaction.atomic():
        ticket = Ticket.objects.create(
            subject=subject.strip()[:300],
            description=description,
            requester_email=requester_email,
            channel=channel,
            created_by=created_by if created_by is not None and created_by.is_authenticated else None,
            status=Ticket.Status.PROCESSING if checked else Ticket.Status.TRIAGING,
        )
        for item, key in checked:
            attachment = Attachment.objects.create(
                ticket=ticket,
                kind=Attachment.Kind.IMAGE if item.sniff.kind == "image" else Attachment.Kind.VIDEO,
                sha256=item.sha256,
                file=key,
                mime=item.sniff.mime,
                size_bytes=item.size_bytes,
                original_name=item.name[:255],
            )
            attachment_process_task.delay_on_commit(attachment_id=attachment.id)
        if not checked:
            ticket_triage_task.delay_on_commit(ticket_id=ticket.id)
    return ticket
