"""Hand-off end to end through a real `handoff` worker (Redis broker, PostgreSQL): a reviewed ticket
becomes one Jira issue, and a worker SIGKILLed in the middle of the create (Jira has made the issue,
the worker never heard back) is replaced by one that finds that issue instead of making a second."""

from __future__ import annotations

import os
import signal

import pytest

from tests.factories import triaged_ticket
from tests.handoff_fakes import JIRA_EMAIL, JIRA_PROJECT, JIRA_TOKEN, HandoffFakes
from tests.security.conftest import role_user
from tests.worker import wait_for
from triage.models import Handoff, RoutingRule, TicketEvent
from triage.services.handoff import destination_save
from triage.services.review import review_record, ticket_version

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

# Redis redelivers a killed worker's unacknowledged job after this (tests/resilience does the same)
WORKER_ENV = {
    "TRIAGE_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    "CELERY_VISIBILITY_TIMEOUT_S": "10",
    "CELERY_UNACKED_RESTORE_INTERVAL_S": "2",
    "CELERY_UNACKED_RESTORE_THROTTLE": "1",
}


def _jira_rule(fakes: HandoffFakes) -> None:
    destination = destination_save(
        destination_id=None, kind="jira", name="Jira WEB", base_url=fakes.base_url + "/jira",
        project=JIRA_PROJECT, account=JIRA_EMAIL, options={"issue_type": "Bug"}, secret=JIRA_TOKEN,
    )  # fmt: skip
    rule = RoutingRule.objects.create(name="bugs to Jira", category="bug")
    rule.destinations.set([destination])


def _review() -> int:
    ticket = triaged_ticket()
    review_record(
        ticket_id=ticket.id, user=role_user("agent"), values={}, seen_version=ticket_version(ticket=ticket)
    )
    return ticket.id


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_a_reviewed_ticket_becomes_one_jira_issue_through_a_real_worker(
    broker, start_worker, threaded_handoff_fakes, taxonomy
):
    fakes = threaded_handoff_fakes
    _jira_rule(fakes)
    start_worker(queues="handoff", **WORKER_ENV)
    ticket_id = _review()
    wait_for(
        lambda: Handoff.objects.filter(ticket_id=ticket_id, status="sent").exists(),
        timeout=60,
        message="the hand-off to be sent",
    )
    row = Handoff.objects.get(ticket_id=ticket_id)
    assert row.external_id == "WEB-1" and row.attempts == 1 and fakes.jira.creates == 1
    assert TicketEvent.objects.filter(ticket_id=ticket_id, kind="HANDOFF").count() == 1


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_a_worker_killed_during_the_jira_create_leaves_exactly_one_issue(
    broker, start_worker, threaded_handoff_fakes, taxonomy
):
    fakes = threaded_handoff_fakes
    fakes.jira.create_delay_s = 120  # Jira stores the issue, then holds the answer
    _jira_rule(fakes)
    worker = start_worker(queues="handoff", **WORKER_ENV)
    ticket_id = _review()
    wait_for(lambda: fakes.jira.creates == 1, timeout=60, message="the worker to be inside the create")
    os.killpg(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait(timeout=10)
    fakes.jira.release.set()  # the held answer goes nowhere: its caller is gone
    row = Handoff.objects.get(ticket_id=ticket_id)
    assert row.status == "intent" and row.external_id == "" and row.attempts == 1

    fakes.jira.create_delay_s = 0
    start_worker(queues="handoff", **WORKER_ENV)
    wait_for(
        lambda: Handoff.objects.filter(ticket_id=ticket_id, status="sent").exists(),
        timeout=90,
        message="the redelivered hand-off to finish",
    )
    row.refresh_from_db()
    assert fakes.jira.creates == 1 and list(fakes.jira.issues) == ["WEB-1"]
    assert row.external_id == "WEB-1" and row.attempts == 2
    searches = [r for r in fakes.jira.requests if r == ("POST", "/rest/api/3/search/jql")]
    assert len(searches) == 2  # the second worker looked before it would have created
