"""Celery: the broker, how workers take and acknowledge work, and the one beat schedule.

Each task names its queue where it is defined (triage/tasks.py), so no routing table lives here.
"""

from __future__ import annotations

from pathlib import Path

import environ
from celery.schedules import crontab

from triage.settings.base import VAR_DIR, env

# The embedded default is kombu's filesystem transport: no broker server, works between the
# web process and a separate worker process on one machine. Production sets redis://.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
BROKER_DIR = Path(env.str("TRIAGE_BROKER_DIR", default=str(VAR_DIR / "broker")))
# kombu's transport with each message written whole before a worker can take it: kombu's own
# loses a message now and then when a worker polls mid-write (triage/adapters/fsbroker.py).
CELERY_BROKER_TRANSPORT = (
    "triage.adapters.fsbroker:Transport" if CELERY_BROKER_URL.startswith("filesystem") else None
)
if CELERY_BROKER_URL.startswith("filesystem"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # default is 1 s between polls; 0.1 s keeps upload-to-triaged snappy at negligible CPU
        "polling_interval": 0.1,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # must exceed the longest task so a slow ffmpeg or model call is not redelivered mid-run
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_S", default=3600),
        # how often a worker looks for messages whose worker died (kombu's defaults, 10 s x every
        # 10th look: ~100 s after the visibility timeout); the resilience tests shorten it
        "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL_S", default=10),
        "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "media"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# A prefork child that grew past this (KiB) is replaced after its task: a leak or a freak file
# cannot keep a worker big. The largest image we accept peaks well under it (bench/media.py).
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env.int("TRIAGE_WORKER_MAX_MEMORY_MB", default=1024) * 1024
# Workers run at this nice value (triage/priority.py): on a contended machine the web pages get the
# cores first and the workers the rest; on an idle one the workers run at full speed. 0 = unchanged.
TRIAGE_WORKER_NICE = env.int("TRIAGE_WORKER_NICE", default=10)
# ... and under SCHED_IDLE (`idle`): during a burst they take only what the web pools and their
# PostgreSQL backends leave, not the ~1/10 share nice 10 still gets. `nice`: the nice value only.
TRIAGE_WORKER_SCHED = env.str("TRIAGE_WORKER_SCHED", default="idle")
if TRIAGE_WORKER_SCHED not in ("idle", "nice"):
    raise environ.ImproperlyConfigured(
        f"TRIAGE_WORKER_SCHED must be idle or nice, not {TRIAGE_WORKER_SCHED!r}"
    )

# --- Beat: everything that runs on a clock ----------------------------------------------------
# The sweep requeues work stuck in an intermediate state longer than TRIAGE_STALE_AFTER_S.
TRIAGE_SWEEP_EVERY_S = env.int("TRIAGE_SWEEP_EVERY_S", default=300)
TRIAGE_STALE_AFTER_S = env.int("TRIAGE_STALE_AFTER_S", default=1800)
# Retrain the offline model when at least this many reviews are new since the last version; the
# check itself is cheap (a no-op when no review is new).
TRIAGE_RETRAIN_EVERY_S = env.int("TRIAGE_RETRAIN_EVERY_S", default=3600)
TRIAGE_RETRAIN_MIN_NEW_REVIEWS = env.int("TRIAGE_RETRAIN_MIN_NEW_REVIEWS", default=1)
# Day one, before any review: fit the queue on the stored tickets' texts once this many exist, and
# again every TRIAGE_DAYONE_REFIT_EVERY new tickets (queued on ticket creation, and by the beat above).
TRIAGE_DAYONE_MIN_TICKETS = env.int("TRIAGE_DAYONE_MIN_TICKETS", default=50)
TRIAGE_DAYONE_REFIT_EVERY = env.int("TRIAGE_DAYONE_REFIT_EVERY", default=50)
# Weekly email to the managers: crontab fields, server time zone.
TRIAGE_REPORT_WEEKLY_DAY = env.str("TRIAGE_REPORT_WEEKLY_DAY", default="mon")
TRIAGE_REPORT_WEEKLY_HOUR = env.int("TRIAGE_REPORT_WEEKLY_HOUR", default=7)

CELERY_BEAT_SCHEDULE = {
    "triage-sweep": {"task": "triage.tasks.triage_sweep_task", "schedule": TRIAGE_SWEEP_EVERY_S},
    "offline-model-retrain": {
        "task": "triage.tasks.classifier_train_task",
        "schedule": TRIAGE_RETRAIN_EVERY_S,
    },
    "report-weekly": {
        "task": "triage.tasks.report_weekly_send_task",
        "schedule": crontab(minute=0, hour=TRIAGE_REPORT_WEEKLY_HOUR, day_of_week=TRIAGE_REPORT_WEEKLY_DAY),
    },
    "report-export-purge": {"task": "triage.tasks.report_export_purge_task", "schedule": 3600.0},
    # the dashboard refreshes before it reads; this keeps that to a few days of work
    "report-rollups-refresh": {"task": "triage.tasks.report_rollups_refresh_task", "schedule": 60.0},
    # Solved tickets close TRIAGE_AUTO_CLOSE_DAYS later; an hour's lateness does not matter
    "tickets-auto-close": {"task": "triage.tasks.tickets_auto_close_task", "schedule": 3600.0},
    # sends a lost job left QUEUED or SENDING are published again
    "outbound-email-sweep": {"task": "triage.tasks.outbound_email_sweep_task", "schedule": 300.0},
    # acknowledgements owed to web and API tickets whose job the broker refused (services/outbound.py)
    "ticket-acknowledge-sweep": {"task": "triage.tasks.ticket_acknowledge_sweep_task", "schedule": 60.0},
    # outbound webhooks: publish outbox rows a crash left behind, queue retries that are due
    "webhook-sweep": {"task": "triage.tasks.webhook_sweep_task", "schedule": 60.0},
    # hand-offs: intents never queued, long backoffs that are due, a caller that died
    "handoff-sweep": {"task": "triage.tasks.handoff_sweep_task", "schedule": 60.0},
    # browser uploads no ticket took, once their tokens have expired (services/tickets.py)
    "upload-stage-purge": {"task": "triage.tasks.upload_stage_purge_task", "schedule": 3600.0},
    # the database's rate-limit counters whose window has ended (services/throttle.py)
    "rate-counter-purge": {"task": "triage.tasks.rate_counter_purge_task", "schedule": 3600.0},
    # retention: media and raw mail past TRIAGE_RETAIN_*_DAYS (a no-op while both are 0)
    "retention-run": {"task": "triage.tasks.retention_run_task", "schedule": 3600.0},
}
TRIAGE_AUTO_CLOSE_DAYS = env.int("TRIAGE_AUTO_CLOSE_DAYS", default=7)
# Retention (services/retention.py): originals and renditions of tickets, and raw inbound mail,
# older than this many days are deleted; the ticket, its runs, review and summary stay. 0: forever.
TRIAGE_RETAIN_MEDIA_DAYS = env.int("TRIAGE_RETAIN_MEDIA_DAYS", default=0)
TRIAGE_RETAIN_MAIL_DAYS = env.int("TRIAGE_RETAIN_MAIL_DAYS", default=0)
# The worker of `make run` embeds beat (-B) and keeps its last-run times here.
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Every queue a task names (triage/tasks.py): the health page shows each one's depth, oldest job and
# workers. A worker writes a heartbeat per queue it consumes every TRIAGE_HEARTBEAT_EVERY_S; a queue
# whose newest heartbeat is older than TRIAGE_HEARTBEAT_MISSED beats has no live worker.
TRIAGE_QUEUES = ("media", "llm", "intake", "reports", "outbound", "webhooks", "handoff")
TRIAGE_HEARTBEAT_EVERY_S = env.int("TRIAGE_HEARTBEAT_EVERY_S", default=15)
TRIAGE_HEARTBEAT_MISSED = env.int("TRIAGE_HEARTBEAT_MISSED", default=3)
