"""Every Kimi scenario ends with the ticket in the queue and the right state on its page.

Each case scripts the fake Kimi server (real HTTP, the real openai SDK with one retry), runs the
last task-level try of the triage service, then reads the ticket page as an agent.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import AttachmentFactory, RenditionFactory
from tests.kimi_fake import BILLING_REPLY
from triage.models import Rendition, Ticket, TriageRun
from triage.services import triage

pytestmark = [pytest.mark.django_db]

OVERLOADED = (429, "engine_overloaded_error", "The engine is currently overloaded, please try again later")
DOWN = (500, "server_error", "internal error")
QUOTA = (
    429,
    "exceeded_current_quota_error",
    "Your account is suspended, please check your plan and billing details",
)
FILTER = (400, "content_filter", "The request was rejected because it was considered high risk")
TOO_LONG = (400, "invalid_request_error", "Invalid request: Input token length too long")


def _overloaded_then_ok(fake):
    fake.reply_error(*OVERLOADED, headers={"Retry-After": "0"})
    fake.reply_json(BILLING_REPLY)


def _down(fake):
    for _ in range(2):
        fake.reply_error(*DOWN)


def _timeout(fake):
    for _ in range(2):
        fake.reply_slow(3.0, BILLING_REPLY)


def _quota(fake):
    fake.reply_error(*QUOTA)


def _content_filter(fake):
    fake.reply_error(*FILTER)


def _malformed_then_repaired(fake):
    fake.reply_json("Sure! Here is the triage: {category: billing")
    fake.reply_json(BILLING_REPLY)


def _tool_loop(fake):
    fake.reply_tool_calls([("find_similar_tickets", {"query": "doppelt abgebucht"})])
    fake.reply_json(BILLING_REPLY)


def _too_long_then_smaller(fake):
    fake.reply_error(*TOO_LONG)
    fake.reply_json(BILLING_REPLY)


# scenario, script, ticket status, Kimi requests, what the page says
SCENARIOS = [
    ("429 overloaded, then an answer", _overloaded_then_ok, Ticket.Status.NEEDS_REVIEW, 2, "Needs review"),
    ("5xx until the last try", _down, Ticket.Status.MANUAL_TRIAGE, 2, "Kimi server error"),
    ("timeout until the last try", _timeout, Ticket.Status.MANUAL_TRIAGE, 2, "did not answer within"),
    ("quota exhausted (not retried)", _quota, Ticket.Status.MANUAL_TRIAGE, 1, "top up the account"),
    ("content filter (not retried)", _content_filter, Ticket.Status.MANUAL_TRIAGE, 1, "moderation"),
    (
        "malformed JSON, then repaired",
        _malformed_then_repaired,
        Ticket.Status.NEEDS_REVIEW,
        2,
        "Needs review",
    ),
    ("a tool-call round, then an answer", _tool_loop, Ticket.Status.NEEDS_REVIEW, 2, "Needs review"),
    (
        "input too long, one smaller request",
        _too_long_then_smaller,
        Ticket.Status.NEEDS_REVIEW,
        2,
        "Needs review",
    ),
]


@pytest.mark.parametrize(
    ("name", "script", "status", "requests", "shown"), SCENARIOS, ids=[s[0] for s in SCENARIOS]
)
def test_every_kimi_scenario_ends_in_the_queue_with_its_state_shown(
    agent, view_taxonomy, kimi_fake, settings, name, script, status, requests, shown
):
    settings.TRIAGE_PROVIDER = "kimi"
    settings.KIMI_API_KEY = "sk-test"
    settings.KIMI_BASE_URL = kimi_fake.base_url
    settings.KIMI_MAX_RETRIES = 1
    settings.KIMI_TIMEOUT_S = 0.5
    script(kimi_fake)
    ticket = Ticket.objects.create(
        subject="Rechnung doppelt abgebucht",
        description="Die Rechnung wurde zweimal abgebucht.",
        status=Ticket.Status.TRIAGING,
    )
    recording = AttachmentFactory(ticket=ticket, video=True, metadata={"representation": "frames"})
    for i in range(3):  # three frames: something a smaller request can drop
        RenditionFactory(attachment=recording, kind=Rendition.Kind.FRAME, index=i, timestamp_ms=i * 1000)
    triage.ticket_triage(ticket_id=ticket.id, attempt=settings.KIMI_TASK_RETRIES)
    ticket.refresh_from_db()
    assert ticket.status == status
    assert len(kimi_fake.requests) == requests
    kimi_run = ticket.runs.get(provider="kimi")
    if status == Ticket.Status.MANUAL_TRIAGE:
        assert kimi_run.status == TriageRun.Status.FAILED
        assert ticket.latest_run.provisional is True and ticket.category  # a proposal to check
    else:
        assert ticket.latest_run == kimi_run and kimi_run.status == TriageRun.Status.DONE
    html = agent.get(reverse("triage:ticket-detail", args=[ticket.id])).content.decode()
    assert shown in html
    queue = agent.get(reverse("triage:review-queue")).content.decode()
    assert ticket.reference in queue  # in the queue, whatever happened
