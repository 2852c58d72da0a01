"""Likely duplicates of a ticket among the tickets that came in shortly before it (the offline
duplicate finder over their text and the text read from their screenshots).

The cost is bounded by the window: at most SIMILAR_CANDIDATES tickets from the SIMILAR_WINDOW
before the ticket, with their OCR text in one query; ~30-70 ms for 200-400 candidates on this
machine (bench/duplicates.py)."""

from __future__ import annotations

from datetime import timedelta

from triage.adapters.llm.duplicates import TicketText, find_duplicates
from triage.models import RenditionText, Ticket

SIMILAR_WINDOW = timedelta(days=30)
SIMILAR_CANDIDATES = 200
# OCR of a long recording can be long; its start carries the error dialogs that matter here.
_OCR_CHARS = 4000


def _ocr_by_ticket(ticket_ids: list[int]) -> dict[int, str]:
    texts: dict[int, list[str]] = {}
    rows = (
        RenditionText.objects.filter(rendition__attachment__ticket_id__in=ticket_ids)
        .exclude(text="")
        .order_by("rendition__attachment_id", "rendition__kind", "rendition__index")
        .values_list("rendition__attachment__ticket_id", "text")
    )
    for ticket_id, text in rows:
        seen = texts.setdefault(ticket_id, [])
        if text not in seen:  # frames of a static screen read the same text
            seen.append(text)
    return {ticket_id: "\n".join(parts)[:_OCR_CHARS] for ticket_id, parts in texts.items()}


def ticket_similar_list(*, ticket: Ticket, limit: int = 3) -> list[dict]:
    """Up to `limit` earlier tickets likely about the same problem, best first: {id, reference,
    subject, status_label, score, reason}. Tickets already marked as a duplicate are left out (their
    original is the one to point to)."""
    earlier = list(
        Ticket.objects.filter(
            created_at__gte=ticket.created_at - SIMILAR_WINDOW,
            created_at__lte=ticket.created_at,
            duplicate_of__isnull=True,
        )
        .exclude(id=ticket.id)
        .exclude(id__gt=ticket.id, created_at=ticket.created_at)
        .order_by("-created_at", "-id")
        .only("id", "subject", "description", "status", "created_at")[:SIMILAR_CANDIDATES]
    )
    if not earlier:
        return []
    ocr = _ocr_by_ticket([ticket.id, *(t.id for t in earlier)])
    matches = find_duplicates(
        TicketText(
            id=ticket.id, subject=ticket.subject, body=ticket.description, ocr_text=ocr.get(ticket.id, "")
        ),
        [
            TicketText(id=t.id, subject=t.subject, body=t.description, ocr_text=ocr.get(t.id, ""))
            for t in earlier
        ],
        limit=limit,
    )
    by_id = {t.id: t for t in earlier}
    return [
        {
            "id": m.id,
            "reference": by_id[m.id].reference,
            "subject": by_id[m.id].subject,
            "status_label": by_id[m.id].get_status_display(),
            "score": m.score,
            "reason": m.reason,
        }
        for m in matches
    ]
