"""Each attachment's stage on the ticket page.

Derived, not recorded: the status, the kind, the OCR rows and the ticket's status already say
where an attachment is, so the workers write nothing more (no extra round trip in any loop) and
a redelivered job cannot leave a stale stage behind."""

from __future__ import annotations

from triage.models import (
    Attachment,
    Rendition,
    Ticket,
)

_STEP_LABELS = {
    "uploaded": "Uploaded",
    "normalizing": "Normalizing",
    "sampling": "Sampling frames",
    "reading": "Reading text",
    "triaging": "Triaging",
    "done": "Done",
}


def _ocr_pending(attachment: Attachment) -> bool:
    for rendition in attachment.renditions.all():  # prefetched with their OCR row
        if rendition.kind in (Rendition.Kind.IMAGE, Rendition.Kind.FRAME):
            try:
                rendition.ocr  # noqa: B018 (the access is the check)
            except Rendition.ocr.RelatedObjectDoesNotExist:
                return True
    return False


def attachment_stage(*, attachment: Attachment, ticket_status: str, ocr_enabled: bool) -> dict:
    """Where one attachment is: `key`, `label`, `terminal`, and the `steps` of its way
    (uploaded → normalizing or sampling frames → reading text → triaging → done), each
    `done`, `current`, `failed` or `todo`."""
    media_step = "normalizing" if attachment.kind == Attachment.Kind.IMAGE else "sampling"
    keys = ["uploaded", media_step, *(["reading"] if ocr_enabled else []), "triaging", "done"]
    status = attachment.status
    if status in (Attachment.Status.REJECTED, Attachment.Status.FAILED):
        key, label, failed = status.lower(), attachment.get_status_display(), True
        current = media_step
    else:
        failed = False
        if status == Attachment.Status.QUEUED:
            current = key = "uploaded"
        elif status == Attachment.Status.PROCESSING:
            current = key = media_step
        elif ticket_status == Ticket.Status.PROCESSING:
            if ocr_enabled and _ocr_pending(attachment):
                current = key = "reading"
            else:  # this one is ready; another attachment of the ticket is not
                current, key = "triaging", "waiting"
        elif ticket_status == Ticket.Status.TRIAGING:
            current = key = "triaging"
        else:
            current = key = "done"
        label = "Waiting for the other files" if key == "waiting" else _STEP_LABELS[key]
    position = keys.index(current)
    steps = []
    for i, step in enumerate(keys):
        if i < position or (step == "done" and key == "done"):
            state = "done"
        elif i == position:
            state = "failed" if failed else "current"
        else:
            state = "todo"
        if failed and i > position:
            continue  # a refused file goes no further
        steps.append({"key": step, "label": _STEP_LABELS[step], "state": state})
    return {"key": key, "label": label, "terminal": failed or key == "done", "steps": steps}


def attachment_stages(*, ticket: Ticket, ocr_enabled: bool) -> dict[int, dict]:
    """attachment_stage of each attachment of a ticket from ticket_get_for_review (no query)."""
    return {
        a.id: attachment_stage(attachment=a, ticket_status=ticket.status, ocr_enabled=ocr_enabled)
        for a in ticket.attachments.all()
    }
