"""Tickets: create (JSON, multipart, or staged uploads), read, list, review, assign, re-run triage.

Every write calls the same service the pages call (services/tickets.py, services/review.py)."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.http.response import HttpResponseBase
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field, ValidationError, field_validator

from triage import selectors
from triage.adapters.media import MediaRejected
from triage.api.auth import ApiRequest, role_check
from triage.api.cursor import ticket_cursor_page
from triage.api.problems import Problem, conflict, invalid, not_found
from triage.fields import REVIEWED_FIELDS, TAXONOMY_FIELDS
from triage.forms import STATUS_FILTERS, ReviewForm, queue_filter_form, queue_filters
from triage.models import Attachment, Rendition, Ticket
from triage.roles import Role
from triage.schemas import TicketOut, TicketSummaryOut, ticket_representation, ticket_summary_representation
from triage.services.idempotency import IdempotencyMismatch, ticket_create_idempotent
from triage.services.redaction import (
    TicketRedaction,
    attachment_has_findings,
    redact_data,
    redacts_for_user,
)
from triage.services.review import (
    ProviderUnavailable,
    ReviewConflict,
    review_record,
    ticket_assign,
    ticket_proposal,
    ticket_retriage,
    ticket_version,
)
from triage.services.tickets import StagedUpload, Upload, staged_upload_get, upload_stage
from triage.views.media import redacted_rendition_response, stored_file_response, withheld_response

router = Router(tags=["tickets"])

MAX_FILES = 10


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class TicketCreateIn(Strict):
    subject: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=50_000)
    requester_email: str = Field(default="", max_length=254)
    uploads: list[str] = Field(
        default_factory=list, max_length=MAX_FILES, description="Tokens from POST /uploads."
    )

    @field_validator("requester_email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip()
        if value:
            try:
                validate_email(value)
            except DjangoValidationError:
                raise ValueError("not an email address") from None
        return value


class UploadOut(Schema):
    token: str
    name: str
    size: int
    kind: str
    mime: str


class TicketPage(Schema):
    items: list[TicketSummaryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")


class ReviewIn(Strict):
    action: Literal["accept", "correct"]
    version: str = Field(description="The ticket's `version` when you read it; a stale one is a 409.")
    values: dict[str, str] = Field(
        default_factory=dict,
        description="For `correct`: category, priority, queue, sentiment, language, summary.",
    )


class AssignIn(Strict):
    assignee: str | None = Field(default=None, description="A username; null unassigns.")
    queue: str = ""
    version: str | None = None


class RetriageIn(Strict):
    provider: Literal["kimi", "local"] = "local"
    thinking: Literal["auto", "on", "off"] = "auto"
    version: str | None = None


def _ticket(ticket_id: int) -> Ticket:
    try:
        return selectors.ticket_get_for_review(ticket_id=ticket_id)
    except Ticket.DoesNotExist:
        raise not_found(f"There is no ticket {ticket_id}.") from None


def _version_check(ticket: Ticket, version: str | None) -> None:
    if version is not None and version != ticket_version(ticket=ticket):
        raise conflict(
            "The ticket changed since you read it: read it again and decide.",
            current_version=ticket_version(ticket=ticket),
        )


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


def _create_input(request: ApiRequest) -> tuple[TicketCreateIn, list, str]:
    """The body (JSON or multipart) as a validated TicketCreateIn, the files, and a fingerprint of
    the request for Idempotency-Key (same key and same fingerprint: same ticket)."""
    content_type = request.content_type or ""
    files: list = []
    if content_type == "multipart/form-data":
        data: dict[str, Any] = {k: request.POST.get(k) for k in request.POST if k != "uploads"}
        if "uploads" in request.POST:
            data["uploads"] = request.POST.getlist("uploads")
        unknown = set(request.FILES) - {"attachments"}
        if unknown:
            raise invalid(
                f"Unknown file field(s): {', '.join(sorted(unknown))}; send files as `attachments`."
            )
        files = request.FILES.getlist("attachments")
        if len(files) + len(data.get("uploads", [])) > MAX_FILES:
            raise invalid(f"At most {MAX_FILES} files per ticket.")
    elif content_type == "application/json":
        try:
            data = json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise Problem(
                status=400, slug="bad-json", title="Malformed JSON", detail=f"The body is not JSON: {exc}"
            ) from None
        if not isinstance(data, dict):
            raise invalid("The body must be a JSON object.")
    else:
        raise Problem(
            status=415,
            slug="unsupported-media-type",
            title="Unsupported media type",
            detail="Send application/json, or multipart/form-data with files in `attachments`.",
        )
    try:
        body = TicketCreateIn.model_validate(data)
    except ValidationError as exc:
        raise invalid("The ticket is not valid: see `errors`.", _errors(exc)) from None
    fingerprint = hashlib.sha256(json.dumps(body.model_dump(), sort_keys=True).encode())
    for f in files:
        fingerprint.update(b"\0file\0" + f.name.encode() + b"\0")
        for chunk in f.chunks():
            fingerprint.update(chunk)
        f.seek(0)
    return body, files, fingerprint.hexdigest()


_CREATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": TicketCreateIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "subject": {"type": "string"},
                        "description": {"type": "string"},
                        "requester_email": {"type": "string"},
                        "uploads": {"type": "array", "items": {"type": "string"}},
                        "attachments": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    },
                    "required": ["subject"],
                }
            },
        },
    },
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "maxLength": 255},
            "description": "The same key with the same body returns the same ticket, never a second one.",
        }
    ],
}


@router.post(
    "/tickets",
    response={201: TicketOut, 200: TicketOut},
    url_name="ticket_list",
    openapi_extra=_CREATE_BODY,
    summary="Create a ticket",
)
def ticket_create(request: ApiRequest):
    role_check(request, Role.AGENT)
    body, files, fingerprint = _create_input(request)
    staged: list[StagedUpload] = []
    try:
        for token in body.uploads:
            staged.append(staged_upload_get(token=token, user=request.user))
    except MediaRejected as exc:
        raise invalid(f"uploads: {exc.reason}") from None
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 255:
        raise invalid("Idempotency-Key is longer than 255 characters.")
    try:
        ticket, created = ticket_create_idempotent(
            key=key or None,
            fingerprint=fingerprint,
            user=request.user,
            subject=body.subject,
            description=body.description,
            requester_email=body.requester_email,
            uploads=[Upload(fileobj=f, name=f.name or "upload", size_bytes=f.size or 0) for f in files],
            staged=staged,
        )
    except MediaRejected as exc:
        raise invalid(f"attachments: {exc.reason}") from None
    except IdempotencyMismatch:
        raise Problem(
            status=422,
            slug="idempotency-key-reused",
            title="Idempotency-Key reused",
            detail="This Idempotency-Key was used with a different body: use a new key for a new ticket.",
        ) from None
    out = ticket_representation(selectors.ticket_get_for_review(ticket_id=ticket.id))
    return Status(201 if created else 200, out)


@router.get("/tickets", response=TicketPage, url_name="ticket_list", summary="List tickets")
def ticket_list(
    request: ApiRequest,
    status: Literal["", "processing", "needs_review", "manual_triage", "reviewed"] = "",
    category: str = "",
    priority: str = "",
    queue: str = "",
    channel: str = "",
    confidence_below: float | None = None,
    created_from: str = "",
    created_to: str = "",
    q: str = "",
    sort: Literal["work", "newest", "oldest", "confidence"] = "work",
    mine: bool = False,
    low: bool = False,
    cursor: str = "",
    limit: Annotated[int, Field(ge=1, le=100)] = 25,
):
    """The review queue's filters and sorts (the same form validates them), a page at a time."""
    role_check(request, Role.AGENT)
    taxonomy = selectors.taxonomy_get()
    data = {k: str(v) for k, v in request.GET.items() if k not in ("status", "cursor", "limit")}
    form = queue_filter_form(data, taxonomy=taxonomy)
    if not form.is_valid():
        errors = [
            {"loc": ["query", name], "msg": " ".join(str(m) for m in msgs)}
            for name, msgs in form.errors.items()
        ]
        raise invalid("Some filters are not valid: see `errors`.", errors)
    filters = queue_filters(
        status_filter=status if status in STATUS_FILTERS else "",
        form=form,
        taxonomy=taxonomy,
        user_id=request.user.id,
    )
    page = ticket_cursor_page(filters=filters, cursor=cursor or None, limit=limit)
    items = [ticket_summary_representation(t) for t in page.tickets]
    if redacts_for_user(request.user):  # TRIAGE_REDACT=everywhere, no "view sensitive data"
        items = [_redacted(item) for item in items]
    return {"items": items, "next_cursor": page.next_cursor}


def _redacted(representation: Any) -> Any:
    data = redact_data(representation.model_dump(), TicketRedaction())
    return type(representation).model_validate(data)


@router.get("/tickets/{ticket_id}", response=TicketOut, url_name="ticket_get", summary="Get a ticket")
def ticket_get(request: ApiRequest, ticket_id: int):
    role_check(request, Role.AGENT)
    representation = ticket_representation(_ticket(ticket_id))
    return _redacted(representation) if redacts_for_user(request.user) else representation


@router.post("/tickets/{ticket_id}/review", response=TicketOut, url_name="ticket_review", summary="Review")
def ticket_review(request: ApiRequest, ticket_id: int, body: ReviewIn):
    """Accept the proposal, or correct the fields and accept; `version` must be current."""
    role_check(request, Role.AGENT)
    ticket = _ticket(ticket_id)
    if body.action == "accept":
        run = ticket.latest_run
        if not (run and run.status == "DONE" and run.result):
            raise conflict("There is no model proposal to accept: send action `correct` with the values.")
        values = ticket_proposal(ticket=ticket)
    else:
        unknown = set(body.values) - set(REVIEWED_FIELDS)
        if unknown:
            raise invalid(f"Unknown field(s) in values: {', '.join(sorted(unknown))}.")
        current = {name: getattr(ticket, name) for name in REVIEWED_FIELDS}
        form = ReviewForm(
            {**current, **body.values},
            choices={name: selectors.taxonomy_choices(field=name) for name in TAXONOMY_FIELDS},
            current=current,
            labels=selectors.taxonomy_labels(),
        )
        if not form.is_valid():
            errors = [
                {"loc": ["body", "values", n], "msg": " ".join(str(x) for x in m)}
                for n, m in form.errors.items()
            ]
            raise invalid("Some values are not valid: see `errors`.", errors)
        values = form.cleaned_data
    try:
        review_record(ticket_id=ticket.id, user=request.user, values=values, seen_version=body.version)
    except ReviewConflict as exc:
        now = selectors.ticket_get_for_review(ticket_id=ticket.id)
        raise conflict(
            "This ticket changed since you read it: " + "; ".join(exc.changes) + ". Nothing was saved.",
            changes=exc.changes,
            current_version=ticket_version(ticket=now),
        ) from None
    return ticket_representation(_ticket(ticket.id))


@router.post("/tickets/{ticket_id}/assign", response=TicketOut, url_name="ticket_assign", summary="Assign")
def ticket_assign_op(request: ApiRequest, ticket_id: int, body: AssignIn):
    role_check(request, Role.AGENT)
    ticket = _ticket(ticket_id)
    _version_check(ticket, body.version)
    assignee = None
    if body.assignee:
        assignee = selectors.assignee_list().filter(username=body.assignee).first()
        if assignee is None:
            raise invalid(f"There is no active user '{body.assignee}' to assign.")
    if body.queue and body.queue not in {v for v, _ in selectors.taxonomy_choices(field="queue")}:
        raise invalid(f"'{body.queue}' is not a queue: see GET /taxonomy.")
    ticket_assign(ticket_id=ticket.id, user=request.user, assignee=assignee, queue=body.queue)
    return ticket_representation(_ticket(ticket.id))


@router.post(
    "/tickets/{ticket_id}/retriage",
    response={202: TicketOut},
    url_name="ticket_retriage",
    summary="Re-run triage",
)
def ticket_retriage_op(request: ApiRequest, ticket_id: int, body: RetriageIn):
    role_check(request, Role.AGENT)
    ticket = _ticket(ticket_id)
    _version_check(ticket, body.version)
    try:
        started = ticket_retriage(
            ticket_id=ticket.id, user=request.user, provider=body.provider, thinking=body.thinking
        )
    except ProviderUnavailable as exc:
        raise invalid(f"{exc}.") from exc
    if not started:
        raise conflict("The ticket is still being processed: try again when its status has moved on.")
    return Status(202, ticket_representation(_ticket(ticket.id)))


@router.post("/uploads", response={201: UploadOut}, url_name="upload_create", summary="Upload a file ahead")
def upload_create(request: ApiRequest):
    """One file (multipart field `file`), checked and stored; reference its token in `uploads`."""
    role_check(request, Role.AGENT)
    upload = request.FILES.get("file") if request.content_type == "multipart/form-data" else None
    if upload is None:
        raise invalid("Send one file as multipart/form-data in the field `file`.")
    try:
        staged = upload_stage(
            upload=Upload(fileobj=upload, name=upload.name or "upload", size_bytes=upload.size or 0),
            user=request.user,
        )
    except MediaRejected as exc:
        raise invalid(f"'{upload.name}': {exc.reason}") from None
    item = staged.checked
    return Status(
        201,
        {
            "token": staged.token,
            "name": item.name,
            "size": item.size_bytes,
            "kind": item.sniff.kind,
            "mime": item.sniff.mime,
        },
    )


@router.get("/attachments/{attachment_id}/original", url_name="attachment_file", summary="An original file")
def attachment_file(request: ApiRequest, attachment_id: int) -> HttpResponseBase:
    role_check(request, Role.AGENT)
    a = Attachment.objects.filter(id=attachment_id).first()
    if a is None:
        raise not_found(f"There is no attachment {attachment_id}.")
    if redacts_for_user(request.user) and attachment_has_findings(attachment_id=a.id):
        return withheld_response()
    return stored_file_response(
        request, key=a.file.name, mime=a.mime, sha256=a.sha256, filename=a.original_name
    )


@router.get("/renditions/{rendition_id}", url_name="rendition_file", summary="A rendition's file")
def rendition_file(request: ApiRequest, rendition_id: int) -> HttpResponseBase:
    role_check(request, Role.AGENT)
    r = Rendition.objects.filter(id=rendition_id).first()
    if r is None:
        raise not_found(f"There is no rendition {rendition_id}.")
    if redacts_for_user(request.user):
        redacted = redacted_rendition_response(r)
        if redacted is not None:
            return redacted
    return stored_file_response(
        request, key=r.file.name, mime=r.mime, sha256=r.sha256, filename=f"rendition-{r.id}"
    )
