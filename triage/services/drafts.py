"""A drafted reply for the composer: never sent by itself, a person edits and sends it.

The offline provider offers the macro that best matches the conversation; Kimi writes a reply in
the customer's language from the thread and the reviewed triage (see `reply_draft`).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from triage.adapters.llm.draft import DRAFT_PROMPT_VERSION, draft_messages, draft_tokens_estimate
from triage.models import InboundEmail, Macro, Ticket, TriageRun
from triage.redact import redact
from triage.services import costs
from triage.services.llm_limits import LimitedClient, kimi_slot
from triage.services.macros import macro_render, macros_for
from triage.services.redaction import TicketRedaction, redacts_for_model

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


def reply_draft_offline(*, ticket: Ticket, agent: User) -> Draft:
    macro = macro_best_match(ticket=ticket)
    if macro is None:
        return Draft(text="", source="none", note="No macro matches this conversation.")
    return Draft(
        text=macro_render(macro=macro, ticket=ticket, agent=agent),
        source="macro",
        note=f"Macro “{macro.name}”, the closest to this conversation.",
    )


def _tokens_used(ticket: Ticket) -> int:
    totals = TriageRun.objects.filter(ticket=ticket).aggregate(
        p=Coalesce(Sum("prompt_tokens"), 0), c=Coalesce(Sum("completion_tokens"), 0)
    )
    return int(totals["p"]) + int(totals["c"])


def reply_draft_kimi(*, ticket: Ticket, agent: User) -> Draft:
    """Kimi writes a draft in the customer's language, thinking off, within what is left of the
    ticket's token budget (KIMI_TICKET_TOKEN_BUDGET, shared with its triage runs). The call is a
    run like any other: tokens, cost and errors recorded, `details.purpose` "draft"."""
    from triage.adapters.llm.kimi import kimi_reply_draft
    from triage.services.triage import triage_client_get

    client = triage_client_get(provider="kimi", thinking="off")
    if getattr(client, "provider", "") != "kimi":  # no key, or the daily spend cap reached
        return reply_draft_offline(ticket=ticket, agent=agent)
    agent_name = agent.get_full_name() or agent.get_username()
    triage = {
        name: getattr(ticket, name) for name in ("summary", "category", "priority", "queue", "language")
    }
    redaction = TicketRedaction(language=ticket.language) if redacts_for_model(provider="kimi") else None
    thread = redact(conversation_text(ticket=ticket))
    if redaction is not None:  # placeholders out, and back in the draft the agent reads
        thread = redaction.text(thread)
        triage = {name: redaction.text(value or "") for name, value in triage.items()}
    messages = draft_messages(
        thread=thread,
        triage=triage,
        language=ticket.language,
        agent=agent_name,
    )
    max_tokens = settings.KIMI_MAX_COMPLETION_TOKENS
    left = settings.KIMI_TICKET_TOKEN_BUDGET - _tokens_used(ticket)
    if draft_tokens_estimate(messages, max_completion_tokens=max_tokens) > left:
        offline = reply_draft_offline(ticket=ticket, agent=agent)
        why = f"This ticket has {max(left, 0)} tokens left of its budget: no Kimi draft."
        return Draft(text=offline.text, source=offline.source, note=f"{why} {offline.note}".strip())
    run = TriageRun.objects.create(
        ticket=ticket,
        provider="kimi",
        model=client.model,  # type: ignore[attr-defined]
        prompt_version=DRAFT_PROMPT_VERSION,
        details={"purpose": "draft", "by": agent.pk},
    )
    started = time.monotonic()
    try:
        # the same concurrency and per-minute limits as triage runs (services/llm_limits.py)
        kimi = client._client if isinstance(client, LimitedClient) else client
        with kimi_slot():
            answer = kimi_reply_draft(kimi, messages, max_completion_tokens=max_tokens)  # type: ignore[arg-type]
    except Exception as exc:  # recorded on the run; the agent still writes the reply
        TriageRun.objects.filter(id=run.id).update(
            status=TriageRun.Status.FAILED,
            finished_at=timezone.now(),
            latency_ms=int((time.monotonic() - started) * 1000),
            error_kind=TriageRun.ErrorKind.UPSTREAM,
            error_message=f"{type(exc).__name__}: {exc}"[:2000],
        )
        return Draft(text="", source="none", note=f"Kimi could not draft a reply ({type(exc).__name__}).")
    TriageRun.objects.filter(id=run.id).update(
        status=TriageRun.Status.DONE,
        finished_at=timezone.now(),
        latency_ms=int((time.monotonic() - started) * 1000),
        raw_output=answer.text,
        prompt_tokens=answer.prompt_tokens,
        completion_tokens=answer.completion_tokens,
        cached_tokens=answer.cached_tokens,
        cost_usd=costs.run_cost_usd(
            provider="kimi",
            model=client.model,  # type: ignore[attr-defined]
            prompt_tokens=answer.prompt_tokens,
            cached_tokens=answer.cached_tokens,
            completion_tokens=answer.completion_tokens,
        ),
        details={"purpose": "draft", "by": agent.pk, "trace_id": answer.trace_id},
    )
    text = answer.text.strip()
    if redaction is not None:
        text = redaction.redactor.restore(text)
    return Draft(text=text, source="kimi", note="Drafted by Kimi: check it before sending.")


def reply_draft(*, ticket_id: int, agent: User) -> Draft:
    """Kimi's draft when Kimi is the provider, else the best-matching macro. Never sent."""
    ticket = Ticket.objects.get(id=ticket_id)
    if settings.TRIAGE_PROVIDER == "kimi":
        return reply_draft_kimi(ticket=ticket, agent=agent)
    return reply_draft_offline(ticket=ticket, agent=agent)
