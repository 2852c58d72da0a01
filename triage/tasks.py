"""Thin Celery tasks: ids in, one service call, the retry policy. Queues are set in settings."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from triage.services import media, reports, triage

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
    acks_late=True,
    autoretry_for=_TRANSIENT,
    retry_backoff=5,
    max_retries=3,
    soft_time_limit=3600,
    time_limit=3660,
)
def report_export_run_task(*, export_id: int) -> None:
    reports.report_export_run(export_id=export_id)


@shared_task(acks_late=True, autoretry_for=_TRANSIENT, retry_backoff=60, max_retries=3, time_limit=3600)
def report_weekly_send_task() -> None:
    reports.report_weekly_send()


@shared_task(acks_late=True, autoretry_for=_TRANSIENT, max_retries=3, time_limit=600)
def report_export_purge_task() -> None:
    reports.report_export_purge()
