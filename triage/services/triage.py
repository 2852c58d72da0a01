"""Ticket triage: gather what the model sees, call the provider outside any transaction, record the run."""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from triage import selectors
from triage.adapters.llm.base import ImagePart, TicketInput, TriageClient, TriageOutcome
from triage.adapters.media.video import format_timestamp
from triage.models import Attachment, Rendition, Ticket, TriageRun

logger = logging.getLogger(__name__)

TRIAGED_FIELDS = ("category", "priority", "queue", "sentiment", "language")


@functools.cache
def _local_model() -> TriageClient:
    from triage.adapters.llm.local import LocalTriageModel

    return LocalTriageModel()  # one per process: its fitted vectorizers are reused across tickets


@functools.lru_cache(maxsize=4)
def _kimi_client(**config: object) -> TriageClient:
    """One client per configuration and process, so its HTTP connection pool is reused."""
    from triage.adapters.llm.kimi import KimiClient

    return KimiClient(**config)  # type: ignore[arg-type]


def triage_client_get(*, provider: str | None = None) -> TriageClient:
    provider = provider or settings.TRIAGE_PROVIDER
    if provider == "kimi":
        if not settings.KIMI_API_KEY:
            logger.warning("TRIAGE_PROVIDER=kimi but KIMI_API_KEY is empty: using the offline model")
            return _local_model()
        return _kimi_client(
            api_key=settings.KIMI_API_KEY,
            base_url=settings.KIMI_BASE_URL,
            model=settings.KIMI_MODEL,
            timeout_s=settings.KIMI_TIMEOUT_S,
            max_retries=settings.KIMI_MAX_RETRIES,
            max_completion_tokens=settings.KIMI_MAX_COMPLETION_TOKENS,
        )
    if provider == "local":
        return _local_model()
    raise ValueError(f"unknown TRIAGE_PROVIDER {provider!r}")


def ticket_input_build(*, ticket: Ticket) -> TicketInput:
    images: list[ImagePart] = []
    notes: list[str] = []
    attachments = Attachment.objects.filter(ticket=ticket).prefetch_related("renditions").order_by("id")
    for attachment in attachments:
        name = attachment.original_name or attachment.sha256[:12]
        if attachment.status != Attachment.Status.DONE:
            notes.append(
                f"attachment '{name}' could not be used: {attachment.reject_reason or attachment.status}"
            )
            continue
        for rendition in attachment.renditions.all():
            if rendition.kind == Rendition.Kind.PLAYBACK:
                continue
            if rendition.kind == Rendition.Kind.FRAME:
                label = f"frame at {format_timestamp(rendition.timestamp_ms or 0)} of recording '{name}'"
            else:
                label = f"screenshot '{name}'"
            with default_storage.open(rendition.file.name, "rb") as fh:
                images.append(ImagePart(data=fh.read(), mime=rendition.mime, label=label))
    return TicketInput(
        ticket_id=ticket.id,
        subject=ticket.subject,
        body=ticket.description + _email_thread_text(ticket),
        requester=ticket.requester_email,
        images=tuple(images),
        notes=tuple(notes),
    )


def _email_thread_text(ticket: Ticket) -> str:
    """Follow-up emails of the ticket, so a re-triage reads the whole thread."""
    if ticket.channel != Ticket.Channel.EMAIL:
        return ""
    from triage.services.intake import ticket_thread_text

    return ticket_thread_text(ticket=ticket)


def ticket_triage(*, ticket_id: int, provider: str | None = None) -> TriageRun | None:
    """Triage one ticket. Idempotent: only a ticket in TRIAGING is claimed; anything else is a no-op.

    The provider call happens with no transaction and no lock held; the outcome is persisted in a
    short transaction afterwards. Any failure leaves the ticket in the queue as MANUAL_TRIAGE.
    """
    ticket = Ticket.objects.filter(id=ticket_id, status=Ticket.Status.TRIAGING).first()
    if ticket is None:
        return None
    client = triage_client_get(provider=provider)
    run = TriageRun.objects.create(
        ticket=ticket, provider=client.provider, model="", status=TriageRun.Status.RUNNING
    )
    try:
        outcome = client.triage(ticket_input_build(ticket=ticket), selectors.taxonomy_get())
    except Exception as exc:  # a bug in our code, not the model's: record it, the ticket still lands
        logger.exception("triage of ticket %s crashed", ticket_id)
        outcome = TriageOutcome(
            provider=client.provider,
            model="",
            prompt_version="",
            result=None,
            error_kind=TriageRun.ErrorKind.BUG,
            error_message=f"internal error during triage ({type(exc).__name__}: {exc})"[:2000],
        )
    return triage_run_record(run_id=run.id, outcome=outcome)


@transaction.atomic
def triage_run_record(*, run_id: int, outcome: TriageOutcome) -> TriageRun:
    run = TriageRun.objects.select_for_update().get(id=run_id)
    run.model = outcome.model[:64]
    run.prompt_version = outcome.prompt_version[:32]
    run.status = TriageRun.Status.DONE if outcome.ok else TriageRun.Status.FAILED
    run.finished_at = timezone.now()
    run.latency_ms = outcome.latency_ms
    run.result = outcome.result.model_dump() if outcome.result is not None else None
    run.raw_output = outcome.raw_output
    run.reasoning = outcome.reasoning
    run.error_kind = outcome.error_kind
    run.error_message = outcome.error_message
    run.prompt_tokens = outcome.prompt_tokens
    run.completion_tokens = outcome.completion_tokens
    run.cached_tokens = outcome.cached_tokens
    run.save()

    ticket = Ticket.objects.select_for_update().get(id=run.ticket_id)
    ticket.triaged_at = run.finished_at
    if ticket.status == Ticket.Status.REVIEWED:
        # Human-confirmed values are never overwritten by a model run.
        ticket.save(update_fields=["triaged_at", "updated_at"])
        return run
    if outcome.ok and outcome.result is not None:
        result = outcome.result
        ticket.summary = result.summary
        for name in TRIAGED_FIELDS:
            setattr(ticket, name, getattr(result, name).value)
        ticket.confidence = result.min_confidence
        ticket.latest_run = run
        ticket.status = Ticket.Status.NEEDS_REVIEW
    else:
        ticket.latest_run = run
        ticket.status = Ticket.Status.MANUAL_TRIAGE
    ticket.save()
    return run


def ticket_mark_manual(*, ticket_id: int, message: str) -> None:
    """Last resort after the task's retries: the ticket lands in the queue for a human."""
    Ticket.objects.filter(id=ticket_id).exclude(status=Ticket.Status.REVIEWED).update(
        status=Ticket.Status.MANUAL_TRIAGE, triaged_at=timezone.now()
    )
    logger.error("ticket %s sent to manual triage: %s", ticket_id, message)
