"""Hand-off: routing rules send a reviewed ticket to Jira, GitHub, Zendesk or Slack, exactly once.

1. When a ticket is reviewed (by a person, or auto-accepted where a rule allows it),
   `handoff_plan` runs in the review's own transaction: each matching rule's destinations get a
   Handoff row (the intent, unique per ticket and destination) and a job on the `handoff` queue once
   the transaction commits. A crash before the job is queued leaves the intent: the sweep queues it.
2. `handoff_send` runs one attempt: it takes a lock no other worker can hold at the same time (a
   PostgreSQL session advisory lock, released by the database when a killed worker's connection
   drops), looks the ticket up in the service by our key, creates the object only when none exists,
   stores its id and URL, then attaches what is missing. A worker killed in the middle of a create
   leaves an object the next attempt finds: one issue, never two.
3. 429 (after its Retry-After), 5xx and time-outs are tried again with backoff, up to
   TRIAGE_HANDOFF_MAX_ATTEMPTS; 401/403/404/422 fail at once with the service's message on the row,
   and the ticket page offers Retry.
4. The services' webhooks (`handoff_sync`) set our ticket Solved when the external object is closed
   and Open when it is reopened, through the lifecycle's status change (recorded in the history).

Secrets (API tokens, the Slack webhook URL, the back-sync secrets) are Fernet-encrypted with
TRIAGE_INTEGRATIONS_KEY, or read from an environment variable named TRIAGE_DEST_*; never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import random
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from triage.adapters import webhooks as wire
from triage.adapters.handoff import (
    Config,
    External,
    HandoffFailed,
    Image,
    Request,
    Response,
    TicketData,
    Unreachable,
    connector_for,
)
from triage.adapters.handoff import github as github_wire
from triage.adapters.handoff import http as handoff_http
from triage.adapters.handoff import jira as jira_wire
from triage.adapters.handoff import zendesk as zendesk_wire
from triage.models import (
    Attachment,
    Destination,
    Handoff,
    Rendition,
    RenditionText,
    RoutingRule,
    Ticket,
    TicketEvent,
)
from triage.selectors.taxonomy import priority_ranks
from triage.services.redaction import TicketRedaction, redact_mode
from triage.services.webhooks import webhook_event_record

logger = logging.getLogger(__name__)

SECRET_ENV_PREFIX = "TRIAGE_DEST_"  # noqa: S105 - a name prefix, not a secret
# a call in progress older than this is taken to be dead (SQLite, which has no advisory locks)
LEASE_S = 600
BACKOFF_S = (10, 30, 120, 300, 900, 1800, 3600)
COUNTDOWN_MAX_S = 900  # longer waits are the sweep's
MAX_IMAGES = 10
MAX_IMAGE_BYTES = 10 * 1024 * 1024
_ADVISORY_NAMESPACE = 0x7472_6961  # "tria": our key space for pg_try_advisory_lock(int, int)


# --- secrets ------------------------------------------------------------------------------------
def _fernet() -> Fernet:
    key = settings.TRIAGE_INTEGRATIONS_KEY
    if not key:
        digest = hashlib.sha256(f"triage-integrations:{settings.SECRET_KEY}".encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key)


def secret_encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def secret_decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return ""  # the key changed: the destination shows "no credentials" until saved again


class DestinationInvalid(ValueError):
    pass


def destination_secret(destination: Destination) -> str:
    if destination.secret_env:
        return os.environ.get(destination.secret_env, "")
    return secret_decrypt(destination.secret_encrypted)


@transaction.atomic
def destination_save(
    *,
    destination_id: int | None,
    kind: str,
    name: str,
    base_url: str,
    project: str,
    account: str,
    options: Mapping[str, object],
    secret: str = "",
    secret_env: str = "",
    sync_secret: str = "",
    is_active: bool = True,
) -> Destination:
    """Create or change a destination. An empty `secret`/`sync_secret` keeps the stored one."""
    if kind not in Destination.Kind.values:
        raise DestinationInvalid(f"unknown kind {kind!r}")
    if secret_env and not re.fullmatch(rf"{SECRET_ENV_PREFIX}[A-Z0-9_]{{1,80}}", secret_env):
        raise DestinationInvalid(
            f"an environment variable for credentials must be named {SECRET_ENV_PREFIX}…"
        )
    if kind == Destination.Kind.GITHUB and not re.fullmatch(r"[\w.-]+/[\w.-]+", project):
        raise DestinationInvalid("a GitHub destination needs the repository as owner/repo")
    if kind in (Destination.Kind.JIRA, Destination.Kind.ZENDESK) and not account:
        raise DestinationInvalid("Jira and Zendesk need the account (user email) of the API token")
    if kind != Destination.Kind.SLACK and not base_url:
        raise DestinationInvalid("the service's URL is required")
    row = (
        Destination.objects.select_for_update().get(id=destination_id)
        if destination_id
        else Destination(kind=kind)
    )
    row.kind = kind
    row.name = name
    row.base_url = base_url
    row.project = project
    row.account = account
    row.options = dict(options)
    row.secret_env = secret_env
    row.is_active = is_active
    if secret:
        row.secret_encrypted = secret_encrypt(secret)
    if sync_secret:
        row.sync_secret_encrypted = secret_encrypt(sync_secret)
    if not destination_secret(row):
        raise DestinationInvalid("credentials are required (an API token, or the Slack webhook URL)")
    row.save()
    return row


# --- rules --------------------------------------------------------------------------------------
def rule_matches(rule: RoutingRule, ticket: Ticket, *, auto: bool, ranks: Mapping[str, int]) -> bool:
    if auto and not rule.on_auto_accept:
        return False
    for name in ("queue", "category", "language", "channel"):
        wanted = getattr(rule, name)
        if wanted and getattr(ticket, name) != wanted:
            return False
    if rule.min_priority:
        have, need = ranks.get(ticket.priority), ranks.get(rule.min_priority)
        if have is None or need is None or have < need:
            return False
    low = ticket.confidence is None or ticket.confidence < (rule.min_confidence or 0.0)
    return not (rule.min_confidence is not None and low)


def handoff_plan(*, ticket: Ticket, auto: bool) -> list[Handoff]:
    """Record a hand-off intent per matching rule's destination, in the caller's (the review's)
    transaction, and queue each on commit. A destination the ticket already went to is skipped."""
    from triage.tasks import handoff_send_task

    rules = list(RoutingRule.objects.filter(is_active=True).prefetch_related("destinations"))
    if not rules:
        return []
    ranks = priority_ranks()
    planned: list[Handoff] = []
    for rule in rules:
        if not rule_matches(rule, ticket, auto=auto, ranks=ranks):
            continue
        for destination in rule.destinations.all():
            if not destination.is_active:
                continue
            handoff, created = Handoff.objects.get_or_create(
                ticket=ticket, destination=destination, defaults={"rule": rule}
            )
            if created:
                planned.append(handoff)
                handoff_send_task.delay_on_commit(handoff_id=handoff.id)
        if rule.stop:
            break
    return planned


# --- one attempt --------------------------------------------------------------------------------
@contextmanager
def _exclusive(handoff_id: int) -> Iterator[bool]:
    """True while this process alone may call the service for this hand-off. PostgreSQL: a session
    advisory lock (a dead worker's is released with its connection); elsewhere: always True (the
    lease in `calling_since` keeps a second worker off)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_ADVISORY_NAMESPACE, handoff_id])
        got = bool(cursor.fetchone()[0])
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_ADVISORY_NAMESPACE, handoff_id])


def _claim(handoff_id: int, *, exclusive: bool) -> Handoff | None:
    with transaction.atomic():
        now = timezone.now()
        row = (
            Handoff.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("destination", "rule", "ticket")
            .filter(id=handoff_id, status=Handoff.Status.INTENT)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .first()
        )
        if row is None:
            return None
        # another worker's call in progress (no advisory lock on this database)
        if not exclusive and row.calling_since and row.calling_since > now - timedelta(seconds=LEASE_S):
            return None
        row.attempts += 1
        row.calling_since = now
        row.save(update_fields=["attempts", "calling_since", "updated_at"])
        return row


def _config(destination: Destination) -> Config:
    return Config(
        base_url=destination.base_url,
        project=destination.project,
        account=destination.account,
        secret=destination_secret(destination),
        options=destination.options or {},
    )


def _absolute(path: str) -> str:
    return settings.TRIAGE_PUBLIC_URL.rstrip("/") + path


def _images(ticket: Ticket, *, content: bool, redaction: TicketRedaction | None = None) -> tuple[Image, ...]:
    """The normalized screenshots and each recording's storyboard: their bytes for a service that
    takes uploads (Jira), their links in Triage for the others. With `redaction`, the bytes have
    what their OCR lines show covered (one never read goes blank), as the model gets them."""
    renditions = (
        Rendition.objects.filter(
            attachment__ticket=ticket,
            attachment__status=Attachment.Status.DONE,
            kind__in=(Rendition.Kind.IMAGE, Rendition.Kind.STORYBOARD),
        )
        .select_related("attachment")
        .order_by("attachment_id", "kind", "index")[:MAX_IMAGES]
    )
    images = []
    for rendition in renditions:
        if rendition.size_bytes > MAX_IMAGE_BYTES:
            continue
        data = b""
        if content:
            with rendition.file.open("rb") as handle:
                data = handle.read()
            if redaction is not None:
                data, _ = redaction.image(
                    data,
                    mime=rendition.mime,
                    lines=_ocr_lines(rendition),
                    label=rendition.attachment.original_name,
                )
        stem = re.sub(
            r"[^\w.-]", "_", (rendition.attachment.original_name or "attachment").rsplit(".", 1)[0]
        )[:60]
        suffix = "storyboard" if rendition.kind == Rendition.Kind.STORYBOARD else f"{rendition.index}"
        extension = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}.get(rendition.mime, "bin")
        images.append(
            Image(
                name=f"{stem}-{rendition.attachment_id}-{suffix}.{extension}",
                mime=rendition.mime,
                content=data,
                url=_absolute(reverse("triage:rendition-file", args=[rendition.id])),
            )
        )
    return tuple(images)


def _ocr_lines(rendition: Rendition) -> list[dict] | None:
    try:
        return list(rendition.ocr.lines or [])
    except RenditionText.DoesNotExist:
        return None


def ticket_data(*, ticket: Ticket, rule: RoutingRule | None = None, image_bytes: bool = True) -> TicketData:
    """What a destination gets. With TRIAGE_REDACT=everywhere the text goes redacted, with the
    placeholders the ticket page and the model use ("[email 1]", "[card ••••4242]"), uploaded
    screenshots with their findings covered, and no requester address (a placeholder is no
    address: the service files the ticket under its own user)."""
    redaction = TicketRedaction(language=ticket.language) if redact_mode() == "everywhere" else None
    text = redaction.text if redaction is not None else (lambda value: value)
    result = (ticket.latest_run.result if ticket.latest_run else None) or {}
    report: dict[str, list[tuple[str, str]]] = {}
    for name in ("problem", "steps_to_reproduce", "expected", "actual", "environment", "error_messages"):
        value = result.get(name)
        claims = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        texts = [
            (text(str(c["text"])), str(c.get("source", "")))
            for c in claims
            if isinstance(c, dict) and c.get("text")
        ]
        if texts:
            report[name] = texts
    return TicketData(
        key=ticket.reference,
        url=_absolute(reverse("triage:ticket-detail", args=[ticket.id])),
        subject=text(ticket.subject),
        summary=text(ticket.summary),
        description=text(ticket.description),
        category=ticket.category,
        priority=ticket.priority,
        queue=ticket.queue,
        language=ticket.language,
        channel=ticket.channel,
        requester_email="" if redaction is not None else ticket.requester_email,
        rule=rule.name if rule else "",
        report=report,
        images=_images(ticket, content=image_bytes, redaction=redaction),
    )


def _send(request: Request) -> Response:
    return handoff_http.send(
        request,
        allow_private=settings.TRIAGE_WEBHOOK_ALLOW_PRIVATE_URLS,
        connect_timeout_s=settings.TRIAGE_WEBHOOK_CONNECT_TIMEOUT_S,
        read_timeout_s=settings.TRIAGE_HANDOFF_READ_TIMEOUT_S,
    )


@dataclass(frozen=True)
class Outcome:
    external: External | None = None
    error: str = ""
    status_code: int | None = None
    retry_after: float | None = None  # set: worth another try


def _store_external(handoff_id: int, external: External) -> None:
    Handoff.objects.filter(id=handoff_id).update(
        external_id=external.id, external_url=external.url, updated_at=timezone.now()
    )


def _attempt(row: Handoff) -> Outcome:
    destination = row.destination
    connector = connector_for(destination.kind)
    config = _config(destination)
    if not config.secret:
        return Outcome(error=f"{destination.name} has no credentials (set them on the integrations page)")
    data = ticket_data(
        ticket=row.ticket, rule=row.rule, image_bytes=destination.kind == Destination.Kind.JIRA
    )
    try:
        external = External(id=row.external_id, url=row.external_url) if row.external_id else None
        if external is None:
            external = connector.find(config=config, ticket=data, send=_send)
            if external is None:
                external = connector.create(config=config, ticket=data, send=_send)
            if external.id:
                _store_external(row.id, external)  # its own commit: kept whatever happens next
        connector.finish(config=config, ticket=data, external=external, send=_send)
        return Outcome(external=external)
    except HandoffFailed as exc:
        return Outcome(error=exc.message, status_code=exc.status, retry_after=exc.retry_after)
    except Unreachable as exc:
        return Outcome(error=f"{destination.get_kind_display()} did not answer: {exc}", retry_after=0.0)
    except wire.AddressRefused as exc:
        return Outcome(error=f"refused: {exc}")
    except Exception as exc:  # a bug or the soft time limit: recorded, tried again a bounded number of times
        logger.exception("hand-off %s to %s failed unexpectedly", row.id, destination.kind)
        return Outcome(error=f"internal error ({type(exc).__name__}); tried again", retry_after=60.0)


def _backoff_s(attempts: int, retry_after: float) -> float:
    base = BACKOFF_S[min(attempts, len(BACKOFF_S)) - 1]
    return max(retry_after, base * random.uniform(0.8, 1.2))


def handoff_send(*, handoff_id: int) -> float | None:
    """One attempt of a due hand-off. Returns seconds before the task should try again (short waits;
    longer ones are the sweep's), or None."""
    with _exclusive(handoff_id) as exclusive:
        if not exclusive:
            return None  # another worker is calling the service for it right now
        row = _claim(handoff_id, exclusive=connection.vendor == "postgresql")
        if row is None:
            return None
        started = time.monotonic()
        outcome = _attempt(row)
        logger.info(
            "hand-off %s to %s: %s in %.1f s",
            row.id,
            row.destination.kind,
            "sent" if outcome.external else "failed",
            time.monotonic() - started,
        )
        return _record(handoff_id=row.id, outcome=outcome)


@transaction.atomic
def _record(*, handoff_id: int, outcome: Outcome) -> float | None:
    row = (
        Handoff.objects.select_for_update(of=("self",))
        .select_related("destination", "rule")
        .get(id=handoff_id)
    )
    now = timezone.now()
    row.calling_since = None
    row.last_status_code = outcome.status_code
    if outcome.external is not None:
        row.status = Handoff.Status.SENT
        row.external_id = outcome.external.id or row.external_id
        row.external_url = outcome.external.url or row.external_url
        row.last_error = ""
        row.next_attempt_at = None
        row.sent_at = now
        row.save()
        TicketEvent.objects.create(
            ticket_id=row.ticket_id,
            user=None,
            kind=TicketEvent.Kind.HANDOFF,
            before={},
            after={
                "to": row.destination.name,
                "rule": row.rule.name if row.rule else "",
                "as": row.external_id or "message",
            },
        )
        webhook_event_record(event_type="ticket.handed_off", ticket_id=row.ticket_id)
        return None
    row.last_error = outcome.error[:2000]
    if outcome.retry_after is not None and row.attempts < settings.TRIAGE_HANDOFF_MAX_ATTEMPTS:
        wait = _backoff_s(row.attempts, outcome.retry_after)
        row.next_attempt_at = now + timedelta(seconds=wait)
        row.save()
        return wait if wait <= COUNTDOWN_MAX_S else None
    row.status = Handoff.Status.FAILED
    row.next_attempt_at = None
    row.save()
    return None


def handoff_retry(*, handoff_id: int, ticket_id: int) -> bool:
    """The ticket page's Retry: a failed hand-off is tried again now (its tries counted afresh)."""
    from triage.tasks import handoff_send_task

    with transaction.atomic():
        changed = Handoff.objects.filter(
            id=handoff_id, ticket_id=ticket_id, status=Handoff.Status.FAILED
        ).update(status=Handoff.Status.INTENT, attempts=0, next_attempt_at=None, calling_since=None)
        if changed:
            handoff_send_task.delay_on_commit(handoff_id=handoff_id)
    return bool(changed)


def handoff_sweep(*, now: datetime | None = None, batch: int = 500) -> int:
    """Queue the intents that are due: never queued (a crash before commit's publish), waiting out a
    long backoff, or whose caller died."""
    from triage.tasks import handoff_send_task

    now = now or timezone.now()
    due = list(
        Handoff.objects.filter(status=Handoff.Status.INTENT)
        .filter(
            Q(next_attempt_at__isnull=True, created_at__lt=now - timedelta(seconds=30))
            | Q(next_attempt_at__lte=now)
        )
        .order_by("id")
        .values_list("id", flat=True)[:batch]
    )
    for handoff_id in due:
        handoff_send_task.delay(handoff_id=handoff_id)
    return len(due)


# --- back-sync ----------------------------------------------------------------------------------
class SyncRefused(Exception):
    """The webhook's signature matches no destination's secret."""


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _signed_by(kind: str, *, body: bytes, headers: Mapping[str, str]) -> list[Destination]:
    """The destinations of `kind` whose back-sync secret signed this request."""
    found = []
    for destination in Destination.objects.filter(kind=kind).exclude(sync_secret_encrypted=""):
        secret = secret_decrypt(destination.sync_secret_encrypted)
        if not secret:
            continue
        if kind == Destination.Kind.GITHUB:
            given = headers.get("x-hub-signature-256", "")
            expected = "sha256=" + _hmac_hex(secret, body)
        elif kind == Destination.Kind.JIRA:
            given = headers.get("x-hub-signature", "")
            expected = "sha256=" + _hmac_hex(secret, body)
        else:  # Zendesk: base64(HMAC-SHA256(timestamp + body))
            stamp = headers.get("x-zendesk-webhook-signature-timestamp", "")
            given = headers.get("x-zendesk-webhook-signature", "")
            digest = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
            expected = base64.b64encode(digest).decode()
        if given and hmac.compare_digest(given.encode(), expected.encode()):
            found.append(destination)
    return found


def handoff_sync(*, kind: str, body: bytes, headers: Mapping[str, str], payload: dict) -> str:
    """Apply a service's webhook. Raises SyncRefused for a bad signature; returns what was done."""
    from triage.services.lifecycle import ticket_status_from_outside

    destinations = _signed_by(kind, body=body, headers={k.lower(): v for k, v in headers.items()})
    if not destinations:
        raise SyncRefused("no destination's secret signed this request")
    if kind == Destination.Kind.GITHUB:
        parsed = github_wire.sync_status(payload)
        if parsed is None:
            return "ignored"
        repo, external_id, state = parsed
        destinations = [d for d in destinations if d.project.lower() == repo.lower()]
    elif kind == Destination.Kind.JIRA:
        jira = jira_wire.sync_status(payload)
        if jira is None:
            return "ignored"
        external_id, state = jira
    else:
        zendesk = zendesk_wire.sync_status(payload)
        if zendesk is None:
            return "ignored"
        external_id, state = zendesk
    handoff = (
        Handoff.objects.filter(destination__in=destinations, external_id=external_id)
        .select_related("destination")
        .first()
    )
    if handoff is None:
        return "unknown"
    where = f"{handoff.destination.name} {external_id}"
    target = Ticket.Status.SOLVED if state == "closed" else Ticket.Status.REVIEWED
    why = f"closed in {where}" if state == "closed" else f"reopened in {where}"
    changed = ticket_status_from_outside(ticket_id=handoff.ticket_id, status=target, why=why)
    return "changed" if changed else "unchanged"


def handoffs_for_ticket(*, ticket: Ticket) -> list[Handoff]:
    return list(ticket.handoffs.select_related("destination", "rule").order_by("id"))
