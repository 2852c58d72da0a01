"""Redis restarted while tickets are queued, and down while tickets are submitted.

A throwaway redis-server (append-only file, fsync always, in a temp folder) on a free port; the
shared :6379 is never touched. Tickets come in through real HTTP (the upload form and the signed
email webhook) with no worker running; Redis is killed and started again; a worker then completes
every one. Tickets submitted while Redis is down are saved (the user is told so, not shown an
error) and the sweep enqueues them once Redis is back: nothing is lost.
"""

from __future__ import annotations

import signal
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from tests.factories import png_bytes
from tests.test_email_e2e import mail_with_image, post_signed
from tests.test_pipeline_e2e import http_create_ticket, http_login
from tests.worker import broker_use, wait_for
from triage.models import Attachment, InboundEmail, Rendition, Ticket, TriageRun
from triage.services.sweep import sweep_run

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

DONE_STATES = (Ticket.Status.NEEDS_REVIEW, Ticket.Status.MANUAL_TRIAGE)


def _submit(base: str, session, n: int) -> float:
    """One ticket through the form and one through the webhook; returns the slower answer (s)."""
    started = time.monotonic()
    form = http_create_ticket(
        base, session, files=[(f"s{n}.png", png_bytes(90, 60, (n * 40 % 255, 80, 160)), "image/png")],
        subject=f"Export button broken {n}", description="Clicking export does nothing.",
    )  # fmt: skip
    assert form.status_code == 200 and f"Export button broken {n}" in form.text, form.text[:500]
    form_s = time.monotonic() - started
    started = time.monotonic()
    assert post_signed(base, mail_with_image(100 + n)).status_code == 202
    return max(form_s, time.monotonic() - started)


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_queued_tickets_survive_a_redis_restart_and_tickets_sent_while_it_is_down_are_kept(
    live_server, redis_server, start_worker, taxonomy, broker
):
    broker_use(url=redis_server.url, transport_options={"visibility_timeout": 3600})
    get_user_model().objects.create_user("redis-agent", password="redis-pass-123")
    session = http_login(live_server.url, "redis-agent", "redis-pass-123")

    for n in range(3):  # queued, no worker yet
        _submit(live_server.url, session, n)
    redis_server.stop(signal.SIGKILL)  # a crash: only what the append-only file holds survives

    # Redis down: the tickets are saved and the answers are normal, and quick
    for n in range(3, 5):
        assert _submit(live_server.url, session, n) < 10
    assert Ticket.objects.count() == 3 + 2 * 2 - 2  # 3 form tickets so far + 2 down; mails not parsed yet
    assert InboundEmail.objects.count() == 5

    redis_server.start()
    worker = start_worker(CELERY_BROKER_URL=redis_server.url)
    wait_for(
        lambda: Ticket.objects.filter(status__in=DONE_STATES).count() == 6,
        timeout=180,
        message="the 3 form and 3 mail tickets queued before the restart to complete",
    )
    # the 2 form tickets and 2 mails sent while Redis was down never reached the queue ...
    assert Ticket.objects.exclude(status__in=DONE_STATES).count() == 2
    assert InboundEmail.objects.filter(status=InboundEmail.Status.RECEIVED).count() == 2
    # ... the sweep (beat, every TRIAGE_SWEEP_EVERY_S) finds them once they are stale
    done = sweep_run(now=timezone.now() + timedelta(hours=1))
    assert done["attachments"] == 2 and done["emails"] == 2
    wait_for(
        lambda: Ticket.objects.filter(status__in=DONE_STATES).count() == 10,
        timeout=180,
        message="every ticket to complete",
    )
    assert "the sweep will requeue it" not in worker.log()  # the worker itself never lost a message
    subjects = sorted(Ticket.objects.values_list("subject", flat=True))
    assert subjects == sorted(
        [f"Export button broken {n}" for n in range(5)]
        + [f"Checkout fails for order {100 + n}" for n in range(5)]
    )
    assert InboundEmail.objects.filter(status=InboundEmail.Status.TICKETED).count() == 5
    assert Attachment.objects.filter(status=Attachment.Status.DONE).count() == 10
    assert (
        TriageRun.objects.count() == 10
        and TriageRun.objects.exclude(status=TriageRun.Status.DONE).count() == 0
    )
    # no duplicate renditions: one normalized image and one thumbnail per attachment
    assert sorted(Rendition.objects.values_list("kind", flat=True)) == ["IMAGE"] * 10 + ["THUMB"] * 10
