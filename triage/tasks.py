"""Thin Celery tasks: ids in, one service call, the retry policy.

Each task names its queue here (queues by workload: `media` CPU-bound, `llm` waiting on the model,
`intake` inbound mail, `reports` exports and the weekly email); the workers consume them by name.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from triage.services import media, ocr, reports, sweep, throttle, tickets, triage

# Only infrastructure hiccups are retried; bad input and model trouble are recorded on the row.
_TRANSIENT = (OperationalError, InterfaceError)
# Every task acknowledges after it ran (a killed worker's message is delivered again: the jobs are
# idempotent); most also retry the transient errors with a growing backoff.
_LATE = {"acks_late": True}
_RETRY = {**_LATE, "autoretry_for": _TRANSIENT, "retry_backoff": 2, "retry_backoff_max": 60, "max_retries": 5}


@shared_task(queue="media", soft_time_limit=900, time_limit=960, **_RETRY)
def attachment_process_task(*, attachment_id: int) -> None:
    media.attachment_process(attachment_id=attachment_id)


@shared_task(bind=True, queue="llm", soft_time_limit=1200, time_limit=1260, **_RETRY)
def ticket_triage_task(
    self, *, ticket_id: int, provider: str | None = None, thinking: str | None = None, rerun: bool = False
) -> None:
    try:
        triage.ticket_triage(
            ticket_id=ticket_id,
            provider=provider,
            attempt=self.request.retries,
            thinking=thinking,
            rerun=rerun,
        )
    except triage.TriageRetryLater as exc:
        # Kimi down for now: the same ticket again later; the service gives up after
        # KIMI_TASK_RETRIES and records a provisional offline proposal instead.
        raise self.retry(countdown=exc.countdown_s, max_retries=None) from None


@shared_task(queue="llm", soft_time_limit=300, time_limit=330, **_LATE)
def triage_sweep_task() -> None:
    sweep.sweep_run()


@shared_task(queue="media", soft_time_limit=600, time_limit=660, **_RETRY)
def attachment_ocr_task(*, attachment_id: int) -> None:
    """Read the text of an attachment's renditions, then let the ticket move on to triage."""
    ocr.attachment_ocr(attachment_id=attachment_id)
    ticket_id = media.Attachment.objects.filter(id=attachment_id).values_list("ticket_id", flat=True).first()
    if ticket_id is not None:
        media.ticket_media_settle(ticket_id=ticket_id)


@shared_task(
    queue="media", autoretry_for=_TRANSIENT, max_retries=3, soft_time_limit=1800, time_limit=1860, **_LATE
)
def classifier_train_task(*, force: bool = False) -> None:
    """Beat and "Retrain now": train on reviews, or before any review fit day one on the tickets."""
    from triage.services import offline_model  # scikit-learn only in the processes that train

    offline_model.offline_model_refresh(force=force)


@shared_task(
    queue="media", autoretry_for=_TRANSIENT, max_retries=3, soft_time_limit=600, time_limit=660, **_LATE
)
def dayone_fit_task() -> None:
    """Queued every TRIAGE_DAYONE_REFIT_EVERY tickets: a no-op once a trained version exists."""
    from triage.services import offline_model

    offline_model.dayone_fit()


@shared_task(
    queue="reports",
    autoretry_for=_TRANSIENT,
    retry_backoff=5,
    max_retries=3,
    soft_time_limit=3600,
    time_limit=3660,
    **_LATE,
)
def report_export_run_task(*, export_id: int) -> None:
    reports.report_export_run(export_id=export_id)


@shared_task(
    queue="reports", autoretry_for=_TRANSIENT, retry_backoff=60, max_retries=3, time_limit=3600, **_LATE
)
def report_weekly_send_task() -> None:
    reports.report_weekly_send()


@shared_task(queue="reports", autoretry_for=_TRANSIENT, max_retries=3, time_limit=600, **_LATE)
def report_export_purge_task() -> None:
    reports.report_export_purge()


@shared_task(queue="reports", autoretry_for=_TRANSIENT, max_retries=3, time_limit=3600, **_LATE)
def report_rollups_refresh_task() -> None:
    from triage.services.report_rollups import report_rollups_refresh

    report_rollups_refresh()


@shared_task(queue="media", autoretry_for=_TRANSIENT, max_retries=3, time_limit=600, **_LATE)
def upload_stage_purge_task() -> None:
    tickets.upload_stage_purge()


@shared_task(queue="intake", max_retries=0, time_limit=300, **_LATE)
def rate_counter_purge_task() -> None:
    throttle.rate_counter_purge()


@shared_task(bind=True, queue="intake", soft_time_limit=300, time_limit=330, **_RETRY)
def inbound_email_process_task(self, *, inbound_email_id: int) -> None:
    """Parse one stored mail. A message still at the provider (SES's S3 object, Brevo's attachments,
    Resend) is fetched first; a provider out of reach is tried again with backoff
    (INBOUND_EMAIL_FETCH_RETRIES times), and the last attempt quarantines it with the reason."""
    from triage.services import inbound_email

    retries = settings.INBOUND_EMAIL_FETCH_RETRIES
    try:
        inbound_email.inbound_email_process(
            inbound_email_id=inbound_email_id,
            attempt=self.request.retries,
            final_attempt=self.request.retries >= retries,
        )
    except inbound_email.FetchRetryLater as exc:
        raise self.retry(countdown=exc.countdown_s, max_retries=retries) from None
    except _TRANSIENT as exc:
        if self.request.retries >= self.max_retries:
            inbound_email.inbound_email_mark_failed(
                inbound_email_id=inbound_email_id, message=f"database unavailable ({exc})"
            )
            return
        raise


@shared_task(bind=True, queue="outbound", soft_time_limit=120, time_limit=150, **_RETRY)
def outbound_email_send_task(self, *, outbound_email_id: int) -> None:
    """Send one outbox row. A mail server that is down or answers 4xx is tried again with backoff
    (TRIAGE_OUTBOUND_RETRIES times); the last attempt records the failure on the row."""
    from triage.services import outbound

    retries = settings.TRIAGE_OUTBOUND_RETRIES
    try:
        outbound.outbound_email_send(
            outbound_email_id=outbound_email_id, final_attempt=self.request.retries >= retries
        )
    except outbound.SendRetryLater:
        raise self.retry(countdown=min(60, 2 ** (self.request.retries + 1)), max_retries=retries) from None


@shared_task(queue="reports", autoretry_for=_TRANSIENT, max_retries=3, time_limit=600, **_LATE)
def tickets_auto_close_task() -> None:
    from triage.services import lifecycle

    lifecycle.tickets_auto_close(days=settings.TRIAGE_AUTO_CLOSE_DAYS)


@shared_task(queue="outbound", autoretry_for=_TRANSIENT, max_retries=3, time_limit=120, **_LATE)
def ticket_acknowledge_task(*, ticket_id: int) -> None:
    """Acknowledge a web or API ticket to its requester, after the post that created it answered."""
    from triage.services import outbound

    outbound.ticket_acknowledge_later(ticket_id=ticket_id)


@shared_task(queue="outbound", autoretry_for=_TRANSIENT, max_retries=3, time_limit=300, **_LATE)
def ticket_acknowledge_sweep_task() -> None:
    """Acknowledge the web and API tickets whose job was lost (the broker down at their commit)."""
    from triage.services import outbound

    outbound.ticket_acknowledge_sweep()


@shared_task(queue="outbound", autoretry_for=_TRANSIENT, max_retries=3, time_limit=300, **_LATE)
def outbound_email_sweep_task() -> None:
    """Publish again the sends a lost job left behind (a broker restart, a worker killed)."""
    from triage.services import outbound

    outbound.outbound_email_requeue_stale()


# --- Outbound webhooks: their own queue, so a slow receiver never delays media or triage --------
_WEBHOOKS = {"queue": "webhooks", "acks_late": True, "autoretry_for": _TRANSIENT, "max_retries": 5}


@shared_task(**_WEBHOOKS, retry_backoff=2, soft_time_limit=60, time_limit=90)
def webhook_event_publish_task(*, event_id: int) -> None:
    from triage.services import webhook_batch

    # the drain publishes every outbox event waiting (in batches, with the deliveries already
    # due) and sends them: no transaction and no message per event. When a drain is already
    # running, that one does (it looks again after letting go); a crash leaves the event
    # unpublished and the sweep queues a drain.
    _webhook_drain_then_follow_up(webhook_batch.webhook_drain_if_free())


@shared_task(bind=True, **_WEBHOOKS, retry_backoff=2, soft_time_limit=60, time_limit=90)
def webhook_deliver_task(self, *, delivery_id: int) -> None:
    from triage.services import webhooks

    wait = webhooks.webhook_deliver(delivery_id=delivery_id)
    if wait is not None:
        # a short backoff waits in the broker; longer ones are picked up by webhook_sweep_task
        webhook_deliver_task.apply_async(kwargs={"delivery_id": delivery_id}, countdown=wait)


@shared_task(**_WEBHOOKS, retry_backoff=2, soft_time_limit=90, time_limit=120)
def webhook_drain_task() -> None:
    from triage.services import webhook_batch

    _webhook_drain_then_follow_up(webhook_batch.webhook_drain_if_free())


def _webhook_drain_then_follow_up(done: dict[str, float | int]) -> None:
    if done["more"]:
        webhook_drain_task.delay()  # stopped on time with work left: give the thread back, go on
    if done["retry_in"] >= 0:
        # the soonest short backoff waits in the broker (also after a "more": that drain may find
        # nothing due yet); longer ones are the sweep's
        webhook_drain_task.apply_async(countdown=done["retry_in"])


@shared_task(queue="webhooks", acks_late=True, soft_time_limit=120, time_limit=150)
def webhook_sweep_task() -> None:
    from triage.services import webhooks

    webhooks.webhook_sweep()


# --- Hand-off to Jira, GitHub, Zendesk, Slack: its own queue, calls that wait on outside APIs ----
_HANDOFF = {"queue": "handoff", "acks_late": True, "autoretry_for": _TRANSIENT, "max_retries": 5}


@shared_task(**_HANDOFF, retry_backoff=2, soft_time_limit=300, time_limit=330)
def handoff_send_task(*, handoff_id: int) -> None:
    from triage.services import handoff

    wait = handoff.handoff_send(handoff_id=handoff_id)
    if wait is not None:
        # a short backoff (a 429's Retry-After, a 5xx) waits in the broker; longer ones for the sweep
        handoff_send_task.apply_async(kwargs={"handoff_id": handoff_id}, countdown=wait)


@shared_task(queue="handoff", acks_late=True, soft_time_limit=120, time_limit=150)
def handoff_sweep_task() -> None:
    from triage.services import handoff

    handoff.handoff_sweep()


@shared_task(queue="media", autoretry_for=_TRANSIENT, max_retries=3, time_limit=3600, **_LATE)
def retention_run_task() -> None:
    from triage.services import retention

    retention.retention_run()
