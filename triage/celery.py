from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time

from celery import Celery, signals
from celery.contrib.django.task import DjangoTask

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "triage.settings")

logger = logging.getLogger(__name__)


# The broker down must not turn a saved ticket into an error page.
class RecordedFirstTask(DjangoTask):
    """`delay_on_commit` that never fails the request after the row is committed.

    The row (ticket, attachment, inbound mail) is already saved when the message is sent; if the
    broker is down, raising would show the user an error for work that is in fact recorded, and
    an agent would submit it again. The failure is logged and the beat sweep
    (triage.services.sweep.sweep_run) enqueues the stuck row once the broker is back.
    """

    def delay_on_commit(self, *args: object, **kwargs: object) -> None:
        from django.db import transaction

        transaction.on_commit(functools.partial(self._delay_or_log, *args, **kwargs))

    def _delay_or_log(self, *args: object, **kwargs: object) -> None:
        try:
            self.delay(*args, **kwargs)
        except Exception:  # kombu's OperationalError, redis' ConnectionError, a timeout ...
            logger.exception("could not enqueue %s%s: the sweep will requeue it", self.name, kwargs)


app = Celery("triage", task_cls=RecordedFirstTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["triage"])


@app.on_after_configure.connect
def _ensure_filesystem_broker_folders(sender: Celery, **_: object) -> None:
    """kombu's filesystem transport does not create its folders; create them on start-up."""
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)


@signals.before_task_publish.connect
def _stamp_sent_at(headers: dict[str, object] | None = None, **_: object) -> None:
    """When a message entered the broker: the health page's "oldest job" on Redis (adapters/broker.py)."""
    if headers is not None:
        headers.setdefault("triage_sent_at", time.time())


def _consumed_queues(consumer: object) -> list[str]:
    app_queues = getattr(getattr(consumer, "app", None), "amqp", None)
    names = list(getattr(getattr(app_queues, "queues", None), "consume_from", None) or {})
    if not names:
        task_consumer = getattr(consumer, "task_consumer", None)
        names = [q.name for q in getattr(task_consumer, "queues", [])]
    return sorted(set(names))


@signals.worker_init.connect
@signals.worker_process_init.connect
def _lower_priority(**_: object) -> None:
    """Workers yield the CPU to the web pages: SCHED_IDLE (TRIAGE_WORKER_SCHED=idle, the default)
    and the nice value TRIAGE_WORKER_NICE (what is left where SCHED_IDLE is refused, or with
    TRIAGE_WORKER_SCHED=nice). Set in the main process before the pool starts (threads and prefork
    children inherit it) and again in each prefork child."""
    from django.conf import settings

    from triage.priority import priority_idle, priority_lower

    if settings.TRIAGE_WORKER_NICE > 0:
        priority_lower(nice=settings.TRIAGE_WORKER_NICE)
    if settings.TRIAGE_WORKER_SCHED == "idle" and not priority_idle():
        logger.warning("SCHED_IDLE refused: the workers run at nice %s only", settings.TRIAGE_WORKER_NICE)


@signals.worker_ready.connect
def _lower_group_priority(**_: object) -> None:
    """The session's group too: against the web pools' groups the threads' own priority counts for
    nothing (triage/priority.py); idle asks for the smallest share a group can have. Only once the
    worker is ready (it starts at full speed however busy the machine) and only when the worker
    leads its own session: under `make run` the session is the caller's terminal, shared with the
    web server and whatever else it started, which must not be lowered with it."""
    from django.conf import settings

    from triage.priority import priority_group_lower

    group_nice = 19 if settings.TRIAGE_WORKER_SCHED == "idle" else settings.TRIAGE_WORKER_NICE
    if group_nice <= 0:
        return
    if os.getsid(0) != os.getpid():
        logger.info("the worker shares its session's group: its group priority is left as it is")
        return
    priority_group_lower(nice=group_nice)


@signals.worker_ready.connect
def _start_heartbeat(sender: object = None, **_: object) -> None:
    """A daemon thread writing this worker's heartbeat per queue (services/workers.py)."""
    from django.conf import settings

    queues = _consumed_queues(sender)
    hostname = str(getattr(sender, "hostname", "") or socket.gethostname())
    every = max(1, int(settings.TRIAGE_HEARTBEAT_EVERY_S))
    threading.Thread(
        target=_heartbeat_loop, args=(queues, hostname, every), name="triage-heartbeat", daemon=True
    ).start()


def _heartbeat_loop(queues: list[str], hostname: str, every: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from triage.services.workers import worker_heartbeat_write

    started_at = timezone.now()
    while True:
        try:
            worker_heartbeat_write(queues=queues, hostname=hostname, pid=os.getpid(), started_at=started_at)
        except Exception:  # the database away for a moment: the next beat tries again
            logger.warning("heartbeat of %s not written", hostname, exc_info=True)
        finally:
            connection.close()  # no connection held between beats (and none for a forked child)
        time.sleep(every)
