"""What the ticket page shows of redaction: what was redacted before the model saw the ticket,
and where each finding sits on every screenshot and frame (for the overlay)."""

from __future__ import annotations

from triage.adapters.pii import cover_boxes
from triage.models import RenditionText, Ticket, TriageRun
from triage.services.redaction import report_lines


def ticket_redaction(*, ticket: Ticket) -> dict:
    """{"lines": [...], "covers": {rendition id: [{"kind", "left", "top", "width", "height"}]}},
    the boxes in percent of the rendition, so they scale with the image on the page."""
    run = (
        TriageRun.objects.filter(ticket=ticket, details__has_key="redaction")
        .order_by("-started_at", "-id")
        .only("details")
        .first()
    )
    report = (run.details or {}).get("redaction") if run is not None else None
    covers: dict[int, list[dict]] = {}
    texts = RenditionText.objects.filter(rendition__attachment__ticket=ticket).select_related("rendition")
    for text in texts:
        rendition = text.rendition
        if not rendition.width or not rendition.height:
            continue
        boxes = cover_boxes(text.lines or [], language=ticket.language)
        if boxes:
            covers[rendition.id] = [
                {
                    "kind": c.kind,
                    "left": round(100 * c.box[0] / rendition.width, 2),
                    "top": round(100 * c.box[1] / rendition.height, 2),
                    "width": round(100 * (c.box[2] - c.box[0]) / rendition.width, 2),
                    "height": round(100 * (c.box[3] - c.box[1]) / rendition.height, 2),
                }
                for c in boxes
            ]
    return {
        "lines": report_lines(report),
        "covers": covers,
        "videos_as_frames": (report or {}).get("videos_as_frames", []),
    }
