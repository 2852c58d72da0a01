"""Thin Celery tasks: ids in, one service call, the retry policy. Queues are set in settings."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from triage.services import media, triage

# Only infrastructure hiccups are retried; bad input and model trouble are recorded on the row.
_TRANSIENT = (OperationalError, InterfaceError)


@shared_task(
    acks_late=True,
    autoretry_for=_TRANSIENT,
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=5,
    soft_time_limit=900,
    time_limit=960,
)
def attachment_process_task(*, attachment_id: int) -> None:
    media.attachment_process(attachment_id=attachment_id)


@shared_task(
    acks_late=True,
    autoretry_for=_TRANSIENT,
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=5,
    soft_time_limit=1200,
    time_limit=1260,
)
def ticket_triage_task(*, ticket_id: int, provider: str | None = None) -> None:
    triage.ticket_triage(ticket_id=ticket_id, provider=provider)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=_TRANSIENT,
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=5,
    soft_time_limit=300,
    time_limit=330,
)
def inbound_email_process_task(self, *, inbound_email_id: int) -> None:
    from triage.services import intake

    try:
        intake.inbound_email_process(inbound_email_id=inbound_email_id)
    except _TRANSIENT as exc:
        if self.request.retries >= self.max_retries:
            intake.inbound_email_mark_failed(
                inbound_email_id=inbound_email_id, message=f"database unavailable ({exc})"
            )
            return
        raise
