"""The periodic sweep: work stuck in an intermediate state is requeued, or failed with a reason.

A worker killed, a message lost, the broker down when the work was enqueued: every intermediate
state older than TRIAGE_STALE_AFTER_S is found here, each by its own domain's service. This module
only decides the order and the policy (how often one row is requeued before it is given up).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from triage.services import inbound_email, media, reports, triage, workers

logger = logging.getLogger(__name__)

# requeues of one attachment or inbound message before it is failed (or quarantined) with a reason
MAX_SWEEPS = 3


def sweep_run(*, now: datetime | None = None) -> dict[str, int]:
    """One pass over every domain's stale work; returns what it did, by kind.

    - TriageRun RUNNING: closed as FAILED/timeout ("abandoned").
    - Attachment QUEUED/PROCESSING: queued again, failed after MAX_SWEEPS.
    - Ticket TRIAGING: queued again (after the attachments, before settling: a ticket settled here
      is enqueued once, by the settling step).
    - Ticket PROCESSING whose attachments are all finished: settled (sent on to triage).
    - InboundEmail RECEIVED/PROCESSING: queued again, quarantined after MAX_SWEEPS.
    - ReportExport QUEUED: queued again; RUNNING past its task's time limit: failed.
    - A provisional offline proposal after transient Kimi trouble: triaged again, once.
    - Heartbeat rows of workers gone for a week: deleted.
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.TRIAGE_STALE_AFTER_S)
    done = dict.fromkeys(
        ("attachments", "tickets", "runs", "catch_up", "settled", "emails", "exports", "failed"), 0
    )
    done["runs"] = triage.triage_run_abandon_stale(stale=stale, now=now)
    done["attachments"], failed = media.attachment_requeue_stale(stale=stale, now=now, max_sweeps=MAX_SWEEPS)
    done["failed"] += failed
    done["tickets"] = triage.ticket_triage_requeue_stale(stale=stale, now=now)
    done["settled"] = media.ticket_media_settle_stale(stale=stale)
    done["emails"], failed = inbound_email.inbound_email_requeue_stale(
        stale=stale, now=now, max_sweeps=MAX_SWEEPS
    )
    done["failed"] += failed
    done["exports"], failed = reports.report_export_requeue_stale(stale=stale, now=now)
    done["failed"] += failed
    done["catch_up"] = triage.ticket_triage_catch_up(stale=stale, now=now)
    if any(done.values()):
        logger.warning("sweep: %s", done)
    workers.worker_heartbeat_prune(now=now)  # housekeeping, not stale work: not in the counts
    return done
