from __future__ import annotations

import functools
import logging
import os

from celery import Celery
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
