"""Ticket triage: gather what the model sees, call the provider outside any transaction, record the run."""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from triage import selectors
from triage.adapters.llm.base import ImagePart, TicketInput, TriageClient, TriageOutcome, VideoPart
from triage.adapters.media.pipeline import STORYBOARD_TILES
from triage.adapters.media.video import format_timestamp
from triage.models import Attachment, Rendition, Ticket, TriageRun
from triage.services import costs
from triage.services.llm_limits import LimitedClient

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
        if costs.spend_cap_reached():
            logger.warning(
                "daily Kimi spend cap of $%s reached: using the offline model until midnight UTC",
                costs.spend_cap_usd(),
            )
            return _local_model()
        client = _kimi_client(
            api_key=settings.KIMI_API_KEY,
            base_url=settings.KIMI_BASE_URL,
            model=settings.KIMI_MODEL,
            timeout_s=settings.KIMI_TIMEOUT_S,
            max_retries=settings.KIMI_MAX_RETRIES,
            max_completion_tokens=settings.KIMI_MAX_COMPLETION_TOKENS,
            inline_video_max_bytes=settings.KIMI_INLINE_VIDEO_MAX_BYTES,
            estimate_min_images=settings.KIMI_ESTIMATE_MIN_IMAGES,
        )
        return LimitedClient(client)  # each call waits for a shared Kimi request slot
    if provider == "local":
        return _local_model()
    raise ValueError(f"unknown TRIAGE_PROVIDER {provider!r}")


def ticket_input_build(*, ticket: Ticket, accepts_video: bool = False) -> TicketInput:
    """What the model sees of a ticket: its text and, per attachment, the representation the
    media pipeline chose (Attachment.metadata["representation"]).

    A recording chosen as "native-video" goes as video to a provider that takes video and as its
    frames to one that does not (the offline model, or Kimi configured after processing).
    """
    images: list[ImagePart] = []
    videos: list[VideoPart] = []
    notes: list[str] = []
    attachments = Attachment.objects.filter(ticket=ticket).prefetch_related("renditions").order_by("id")
    for attachment in attachments:
        name = attachment.original_name or attachment.sha256[:12]
        if attachment.status != Attachment.Status.DONE:
            notes.append(
                f"attachment '{name}' could not be used: {attachment.reject_reason or attachment.status}"
            )
            continue
        by_kind: dict[str, list[Rendition]] = {}
        for rendition in attachment.renditions.all():
            by_kind.setdefault(rendition.kind, []).append(rendition)
        for group in by_kind.values():
            group.sort(key=lambda r: r.index)
        representation = (attachment.metadata or {}).get("representation")
        frames = by_kind.get(Rendition.Kind.FRAME, [])
        if representation == "native-video" and accepts_video and Rendition.Kind.MODEL_VIDEO in by_kind:
            video = by_kind[Rendition.Kind.MODEL_VIDEO][0]
            seconds = f" ({attachment.duration_s:.0f} s)" if attachment.duration_s else ""
            videos.append(
                VideoPart(
                    data=_read(video),
                    mime=video.mime,
                    label=f"recording '{name}'{seconds}",
                    filename=f"{name}.mp4",
                )
            )
        elif representation == "storyboard" and Rendition.Kind.STORYBOARD in by_kind:
            sheets = by_kind[Rendition.Kind.STORYBOARD]
            for n, sheet in enumerate(sheets):
                tiles = frames[n * STORYBOARD_TILES : (n + 1) * STORYBOARD_TILES]
                moments = ", ".join(format_timestamp(f.timestamp_ms or 0) for f in tiles)
                images.append(
                    ImagePart(
                        data=_read(sheet),
                        mime=sheet.mime,
                        label=f"storyboard {n + 1} of {len(sheets)} of recording '{name}': frames at "
                        f"{moments or 'the times on each tile'}, left to right, top to bottom",
                    )
                )
        else:
            for rendition in by_kind.get(Rendition.Kind.IMAGE, []):
                images.append(
                    ImagePart(data=_read(rendition), mime=rendition.mime, label=f"screenshot '{name}'")
                )
            for frame in frames:
                label = f"frame at {format_timestamp(frame.timestamp_ms or 0)} of recording '{name}'"
                images.append(ImagePart(data=_read(frame), mime=frame.mime, label=label))
    return TicketInput(
        ticket_id=ticket.id,
        subject=ticket.subject,
        body=ticket.description,
        requester=ticket.requester_email,
        images=tuple(images),
        videos=tuple(videos),
        notes=tuple(notes),
    )


def _read(rendition: Rendition) -> bytes:
    with default_storage.open(rendition.file.name, "rb") as fh:
        return fh.read()


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
        ticket_input = ticket_input_build(
            ticket=ticket, accepts_video=getattr(client, "accepts_video", False)
        )
        outcome = client.triage(ticket_input, selectors.taxonomy_get())
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
    run.cost_usd = costs.run_cost_usd(
        provider=run.provider,
        model=run.model,
        prompt_tokens=run.prompt_tokens,
        cached_tokens=run.cached_tokens,
        completion_tokens=run.completion_tokens,
    )
    estimated = outcome.extra.get("estimated_prompt_tokens")
    run.estimated_prompt_tokens = estimated if isinstance(estimated, int) else None
    run.details = {k: v for k, v in outcome.extra.items() if k != "estimated_prompt_tokens"}
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
