"""Day one through a real worker: unreviewed tickets are stored, the worker fits the day-one queue on
their texts (queued by ticket creation), stores it as a version, and triages the next tickets with it.

Runs once on the embedded broker (filesystem) and, where available, on Redis against PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import joblib
import pytest

from tests.factories import eval_rows
from tests.worker import wait_for
from triage import selectors
from triage.adapters.llm.base import TicketInput
from triage.adapters.llm.local import LocalTriageModel
from triage.celery import app as celery_app
from triage.models import ClassifierVersion, Ticket, TriageRun
from triage.services.tickets import ticket_create

pytestmark = pytest.mark.django_db(transaction=True)

STORED = 45


def _create(row) -> Ticket:  # noqa: ANN001
    return ticket_create(subject=row.subject, description=row.body, requester_email="", acknowledge=False)


def _triaged(ids: list[int]) -> bool:
    return TriageRun.objects.filter(ticket_id__in=ids, status=TriageRun.Status.DONE).values(
        "ticket_id"
    ).distinct().count() == len(ids)


def test_the_worker_fits_day_one_on_stored_tickets_and_triages_with_it(
    start_worker, settings, taxonomy, tmp_path: Path
):
    settings.CELERY_BROKER_URL = celery_app.conf.broker_url
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = dict(celery_app.conf.broker_transport_options or {})
    models = tmp_path / "models"
    settings.TRIAGE_MODEL_DIR = models
    settings.TRIAGE_DAYONE_REFIT_EVERY = 1  # here, every ticket queues the fit; the worker decides
    rows = eval_rows("helpdesk")
    stored = [_create(row).id for row in rows[:STORED]]  # unreviewed: no label is stored anywhere
    start_worker(
        queues="media,llm",
        TRIAGE_MODEL_DIR=str(models),
        TRIAGE_DAYONE_MIN_TICKETS="40",
        TRIAGE_DAYONE_REFIT_EVERY="1000",  # one fit on the 45 stored tickets, the other jobs are no-ops
    )
    dayone = ClassifierVersion.objects.filter(kind=ClassifierVersion.Kind.DAYONE)
    wait_for(lambda: dayone.exists(), timeout=120, message="a day-one version")
    wait_for(lambda: _triaged(stored), timeout=180, message="the stored tickets triaged")
    version = dayone.get()
    assert version.metrics["n_texts"] == STORED and version.n_reviewed == 0

    # Tickets where the fitted model and the taxonomy alone disagree on the queue, found in-process
    # from the stored file: the worker must decide them as the fitted model does.
    fitted = joblib.load(models / version.path)
    tax = selectors.taxonomy_get()
    candidates = rows[200:320]
    inputs = [TicketInput(ticket_id=i, subject=r.subject, body=r.body) for i, r in enumerate(candidates)]
    learned = LocalTriageModel(unlabelled=fitted).triage_many(inputs, tax)
    plain = LocalTriageModel().triage_many(inputs, tax)
    differ = [
        (candidates[i], learned[i].result.queue.value)
        for i in range(len(inputs))
        if learned[i].result.queue.value != plain[i].result.queue.value
    ][:5]
    assert differ, "the day-one model fitted on the stored tickets changes no queue"

    settings.TRIAGE_DAYONE_REFIT_EVERY = 0
    created = [(_create(row).id, queue) for row, queue in differ]
    wait_for(lambda: _triaged([i for i, _ in created]), timeout=120, message="the new tickets triaged")
    for ticket_id, queue in created:
        run = TriageRun.objects.filter(ticket_id=ticket_id, status=TriageRun.Status.DONE).latest("id")
        assert run.model == f"local-tfidf-2+{version.version}"
        assert run.details["decided_by"]["queue"] == version.version
        assert run.result["queue"]["value"] == queue
    assert ClassifierVersion.objects.count() == 1
