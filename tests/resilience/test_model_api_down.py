"""The model API down for a while, with a real worker: tickets go to manual triage with the
offline model's provisional proposal, and when the API is back the sweep (the beat task, run in
the worker) triages them again with Kimi. Nothing waits for ever and nothing is lost.
"""

from __future__ import annotations

import time

import pytest

from tests.kimi_fake import BILLING_REPLY
from tests.worker import wait_for
from triage.models import Ticket, TriageRun
from triage.services.tickets import ticket_create
from triage.tasks import triage_sweep_task

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

COUNT = 3


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_tickets_flow_to_manual_triage_while_kimi_is_down_and_catch_up_when_it_returns(
    start_worker, taxonomy, broker, kimi_fake
):
    # no scripted answer: the fake answers every request 500 server_error, as Kimi does when down
    start_worker(
        queues="llm",
        TRIAGE_PROVIDER="kimi",
        KIMI_API_KEY="sk-test",
        KIMI_BASE_URL=kimi_fake.base_url,
        KIMI_MAX_RETRIES="0",
        KIMI_TASK_RETRIES="1",
        KIMI_TASK_RETRY_BACKOFF_S="1",
        TRIAGE_STALE_AFTER_S="2",
    )
    tickets = [
        ticket_create(
            subject=f"Rechnung doppelt abgebucht {n}",
            description="Die Rechnung wurde zweimal von der Kreditkarte abgebucht. Bitte erstatten.",
            requester_email=f"kunde{n}@example.com",
        )
        for n in range(COUNT)
    ]
    ids = [t.id for t in tickets]
    wait_for(
        lambda: Ticket.objects.filter(id__in=ids, status=Ticket.Status.MANUAL_TRIAGE).count() == COUNT,
        timeout=120,
        message="every ticket to reach manual triage",
    )
    assert len(kimi_fake.requests) == 2 * COUNT  # the first try and the task's one retry each
    for ticket in Ticket.objects.filter(id__in=ids):
        run = ticket.latest_run
        assert run.provider == "local" and run.status == TriageRun.Status.DONE
        assert run.provisional is True and run.catch_up is True
        assert ticket.category  # the provisional proposal is there for the person
    assert TriageRun.objects.filter(provider="kimi", status=TriageRun.Status.FAILED).count() == 2 * COUNT

    for _ in range(COUNT):  # Kimi is back
        kimi_fake.reply_json(BILLING_REPLY)
    time.sleep(2.5)  # the provisional runs are now older than TRIAGE_STALE_AFTER_S
    triage_sweep_task.delay()  # what beat sends every TRIAGE_SWEEP_EVERY_S
    wait_for(
        lambda: Ticket.objects.filter(id__in=ids, status=Ticket.Status.NEEDS_REVIEW).count() == COUNT,
        timeout=120,
        message="the sweep's catch-up to triage every ticket with Kimi",
    )
    for ticket in Ticket.objects.filter(id__in=ids):
        assert ticket.latest_run.provider == "kimi" and ticket.latest_run.status == TriageRun.Status.DONE
        assert ticket.category == "billing"
    assert len(kimi_fake.requests) == 3 * COUNT and kimi_fake.pending == 0
    assert not TriageRun.objects.filter(status=TriageRun.Status.RUNNING).exists()
    # once only: another sweep does not send them to Kimi again
    triage_sweep_task.delay()
    time.sleep(3)
    assert len(kimi_fake.requests) == 3 * COUNT
