"""One ticket and the tickets around it: the review page, status counts, similar and related
tickets, the people to assign."""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.db.models import (
    Prefetch,
    QuerySet,
    Sum,
)

from triage.models import (
    Attachment,
    Rendition,
    ReviewDecision,
    Ticket,
    TicketEvent,
    TicketStatusCount,
)


def ticket_get_for_review(*, ticket_id: int) -> Ticket:
    return (
        Ticket.objects.select_related("latest_run", "created_by", "reviewed_by", "assignee", "duplicate_of")
        .prefetch_related(
            Prefetch(
                "attachments",
                queryset=Attachment.objects.prefetch_related(
                    Prefetch(
                        "renditions",
                        queryset=Rendition.objects.select_related("ocr").order_by("kind", "index"),
                    )
                ),
            ),
            "runs",
            "emails",
            Prefetch("decisions", queryset=ReviewDecision.objects.select_related("user")),
            Prefetch("events", queryset=TicketEvent.objects.select_related("user")),
        )
        .get(id=ticket_id)
    )


def ticket_get_for_decision(*, ticket_id: int) -> Ticket:
    """The ticket and its latest run: what a review decision reads before it is recorded (the page's
    attachments, mail and history are read only when the page is shown again)."""
    return Ticket.objects.select_related("latest_run").get(id=ticket_id)


def ticket_status_counts() -> dict[str, int]:
    """How many tickets are in each status (statuses with none left out): the slots of the counts
    the database's triggers keep (models.TicketStatusCount), summed. Exact at this transaction's
    snapshot like a COUNT, without reading every ticket (every queue page shows them)."""
    rows = TicketStatusCount.objects.order_by().values("status").annotate(total=Sum("n"))
    return {row["status"]: int(row["total"]) for row in rows if row["total"]}


_WORD = re.compile(r"\w{3,}", re.UNICODE)
_SIMILAR_CANDIDATES = 1000


def ticket_similar_list(*, query: str, exclude_id: int | None = None, limit: int = 5) -> list[Ticket]:
    """Earlier tickets sharing the most words (3+ letters) with `query`, best first.

    Scores the newest _SIMILAR_CANDIDATES tickets in Python: the same on SQLite and Postgres, and
    bounded however large the history grows. Words are weighted by rarity among the candidates,
    so "error" counts for less than "ERR_PAYMENT_DECLINED".
    """
    words = {w.lower() for w in _WORD.findall(query)}
    if not words:
        return []
    others = Ticket.objects.all() if exclude_id is None else Ticket.objects.exclude(pk=exclude_id)
    candidates = list(others.order_by("-created_at", "-id")[:_SIMILAR_CANDIDATES])
    bags = [
        {w.lower() for w in _WORD.findall(f"{t.subject} {t.description} {t.summary}")} for t in candidates
    ]
    frequency = {w: sum(1 for bag in bags if w in bag) for w in words}
    scored = []
    for ticket, bag in zip(candidates, bags, strict=True):
        score = sum(1.0 / frequency[w] for w in words & bag)
        if score > 0:
            scored.append((score, ticket.created_at, ticket))
    scored.sort(key=lambda item: (-item[0], -item[1].timestamp()))
    return [ticket for _, _, ticket in scored[:limit]]


def requester_ticket_list(*, email: str, exclude_id: int | None = None, limit: int = 5) -> list[Ticket]:
    tickets = Ticket.objects.filter(requester_email__iexact=email)
    if exclude_id is not None:
        tickets = tickets.exclude(pk=exclude_id)
    return list(tickets.order_by("-created_at", "-id")[:limit])


def tickets_by_reference(*, references: Sequence[str]) -> list[Ticket]:
    """Tickets named as "TRI-<id>", in the order given; unknown references are skipped."""
    ids = [int(r[4:]) for r in references if re.fullmatch(r"TRI-\d{1,12}", r)]
    found = {t.id: t for t in Ticket.objects.filter(id__in=ids)}
    return [found[i] for i in ids if i in found]


def assignee_list() -> QuerySet:
    """The people a ticket can be assigned to: active users, by name."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")
