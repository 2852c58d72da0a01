"""The ticket as the outside world sees it: one representation for the REST API's responses and the
outbound webhooks' payloads, so a receiver and an API client never see two shapes of one ticket."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.urls import reverse
from pydantic import BaseModel

from triage.fields import CLASSIFIED_FIELDS, REPORT_FIELDS
from triage.models import Attachment, ReviewDecision, Ticket, TicketEvent, TriageRun
from triage.selectors.sla_ticket import ticket_sla_targets
from triage.services.review import ticket_version


class FieldOut(BaseModel):
    value: str
    confidence: float | None = None
    source: str = ""


class ClaimOut(BaseModel):
    text: str
    source: str = ""


class TriageOut(BaseModel):
    """What the latest successful model run proposed, each field with its confidence and source."""

    run_id: int
    provider: str
    model: str
    summary: str
    fields: dict[str, FieldOut]
    report: dict[str, list[ClaimOut]]
    duplicate_of: list[dict[str, Any]]


class RenditionOut(BaseModel):
    id: int
    kind: str
    index: int
    mime: str
    width: int
    height: int
    timestamp_ms: int | None
    url: str


class AttachmentOut(BaseModel):
    id: int
    kind: str
    status: str
    name: str
    mime: str
    size_bytes: int
    sha256: str
    reject_reason: str
    url: str
    renditions: list[RenditionOut]


class RunOut(BaseModel):
    id: int
    provider: str
    model: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    latency_ms: int | None
    error_kind: str
    error_message: str


class DecisionOut(BaseModel):
    id: int
    action: str
    user: str | None
    before: dict[str, Any]
    after: dict[str, Any]
    created_at: datetime


class HistoryOut(BaseModel):
    kind: str
    user: str | None
    before: dict[str, Any]
    after: dict[str, Any]
    created_at: datetime


class SlaTargetOut(BaseModel):
    """One service-level target a policy set: `first_decision` (the first human decision) or
    `resolution` (solved)."""

    target: Literal["first_decision", "resolution"]
    due_at: datetime
    done_at: datetime | None
    # open: "ok", "soon" (under an hour left), "overdue", "paused" (Pending: the clock stands still);
    # settled: "met", "missed" (done late)
    state: Literal["ok", "soon", "overdue", "paused", "met", "missed"]
    seconds_left: int | None  # open targets only; negative once overdue


class TicketOut(BaseModel):
    id: int
    reference: str
    url: str
    subject: str
    description: str
    requester_email: str
    channel: str
    status: str
    # what the review calls send back as `version`: a stale one is a 409
    version: str
    created_at: datetime
    updated_at: datetime
    triaged_at: datetime | None
    reviewed_at: datetime | None
    reviewed_by: str | None
    assignee: str | None
    duplicate_of: str | None
    # the current values: the proposal until a person accepts or corrects them
    summary: str
    # one str per classified field (triage/fields.py), in its declared order: pydantic reads the
    # class's annotations, so these are fields like the ones written out around them
    __annotations__.update(dict.fromkeys(CLASSIFIED_FIELDS, "str"))
    confidence: float | None
    sla: list[SlaTargetOut]  # empty: no policy for its priority and queue
    triage: TriageOut | None
    attachments: list[AttachmentOut]
    runs: list[RunOut]
    decisions: list[DecisionOut]
    history: list[HistoryOut]


class TicketSummaryOut(BaseModel):
    """A list row: the current values without media, runs and history."""

    id: int
    reference: str
    url: str
    subject: str
    requester_email: str
    channel: str
    status: str
    version: str
    created_at: datetime
    updated_at: datetime
    summary: str
    # one str per classified field (triage/fields.py), in its declared order: pydantic reads the
    # class's annotations, so these are fields like the ones written out around them
    __annotations__.update(dict.fromkeys(CLASSIFIED_FIELDS, "str"))
    confidence: float | None
    assignee: str | None
    sla: list[SlaTargetOut]


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def _triage(run: TriageRun | None) -> TriageOut | None:
    if run is None or run.status != TriageRun.Status.DONE or not isinstance(run.result, dict):
        return None
    result = run.result
    fields = {}
    for name in CLASSIFIED_FIELDS:
        raw = result.get(name)
        guess: dict[str, Any] = raw if isinstance(raw, dict) else {}
        fields[name] = FieldOut(
            value=str(guess.get("value", "")),
            confidence=guess.get("confidence") if isinstance(guess.get("confidence"), int | float) else None,
            source=str(guess.get("source", "")),
        )
    report = {}
    for name in REPORT_FIELDS:
        value = result.get(name)
        claims = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        report[name] = [
            ClaimOut(text=str(c["text"]), source=str(c.get("source", "")))
            for c in claims
            if isinstance(c, dict) and c.get("text")
        ]
    duplicates = [d for d in result.get("duplicate_of") or [] if isinstance(d, dict)]
    return TriageOut(
        run_id=run.id,
        provider=run.provider,
        model=run.model,
        summary=str(result.get("summary", "")),
        fields=fields,
        report=report,
        duplicate_of=duplicates,
    )


def _attachment(attachment: Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=attachment.id,
        kind=attachment.kind,
        status=attachment.status,
        name=attachment.original_name,
        mime=attachment.mime,
        size_bytes=attachment.size_bytes,
        sha256=attachment.sha256,
        reject_reason=attachment.reject_reason,
        url=reverse("api:attachment_file", kwargs={"attachment_id": attachment.id}),
        renditions=[
            RenditionOut(
                id=r.id,
                kind=r.kind,
                index=r.index,
                mime=r.mime,
                width=r.width,
                height=r.height,
                timestamp_ms=r.timestamp_ms,
                url=reverse("api:rendition_file", kwargs={"rendition_id": r.id}),
            )
            for r in attachment.renditions.all()
        ],
    )


def _run(run: TriageRun) -> RunOut:
    return RunOut(
        id=run.id,
        provider=run.provider,
        model=run.model,
        status=run.status,
        started_at=run.started_at,
        finished_at=run.finished_at,
        latency_ms=run.latency_ms,
        error_kind=run.error_kind,
        error_message=run.error_message,
    )


def _decision(decision: ReviewDecision) -> DecisionOut:
    return DecisionOut(
        id=decision.id,
        action=decision.action,
        user=_username(decision.user),
        before=decision.before,
        after=decision.after,
        created_at=decision.created_at,
    )


def _history(event: TicketEvent) -> HistoryOut:
    return HistoryOut(
        kind=event.kind,
        user=_username(event.user),
        before=event.before,
        after=event.after,
        created_at=event.created_at,
    )


def _current(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "reference": ticket.reference,
        "url": reverse("api:ticket_get", kwargs={"ticket_id": ticket.id}),
        "subject": ticket.subject,
        "requester_email": ticket.requester_email,
        "channel": ticket.channel,
        "status": ticket.status,
        "version": ticket_version(ticket=ticket),
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "summary": ticket.summary,
        **{name: getattr(ticket, name) for name in CLASSIFIED_FIELDS},
        "confidence": ticket.confidence,
        "assignee": _username(ticket.assignee),
        "sla": [
            SlaTargetOut(
                target=t.key,  # type: ignore[arg-type]
                due_at=t.due_at,
                done_at=t.done_at,
                state=t.state,  # type: ignore[arg-type]
                seconds_left=t.seconds_left,
            )
            for t in ticket_sla_targets(ticket)
        ],
    }


def ticket_summary_representation(ticket: Ticket) -> TicketSummaryOut:
    """A list row. `ticket` comes with `assignee` selected (selectors do it)."""
    return TicketSummaryOut(**_current(ticket))


def ticket_representation(ticket: Ticket) -> TicketOut:
    """The whole ticket. `ticket` comes from selectors.ticket_get_for_review (everything prefetched)."""
    return TicketOut(
        **_current(ticket),
        description=ticket.description,
        triaged_at=ticket.triaged_at,
        reviewed_at=ticket.reviewed_at,
        reviewed_by=_username(ticket.reviewed_by),
        duplicate_of=ticket.duplicate_of.reference if ticket.duplicate_of else None,
        triage=_triage(ticket.latest_run),
        attachments=[_attachment(a) for a in ticket.attachments.all()],
        runs=[_run(r) for r in ticket.runs.all()],
        decisions=[_decision(d) for d in ticket.decisions.all()],
        history=[_history(e) for e in ticket.events.all()],
    )
