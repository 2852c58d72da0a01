from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from tests.adapters.llm.test_kimi_account import BALANCE, _serve
from tests.factories import UserFactory
from triage.models import Ticket, TriageRun

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("view_taxonomy")]
HEALTH = reverse("triage:health")
QUEUE = reverse("triage:review-queue")
BANNER = "Daily Kimi spend cap of $1.00 reached: new tickets use the offline model until midnight UTC."


@pytest.fixture
def manager(client):
    user = UserFactory(username="boss")
    user.groups.add(Group.objects.get_or_create(name="managers")[0])
    client.force_login(user)
    return client


def _spend(cost: str, provider: str = "kimi") -> TriageRun:
    ticket = Ticket.objects.create(subject="spent")
    return TriageRun.objects.create(
        ticket=ticket, provider=provider, model="kimi-k2.6", cost_usd=Decimal(cost)
    )


def test_agents_get_403_and_no_health_link(agent):
    assert agent.get(HEALTH).status_code == 403
    assert HEALTH not in agent.get(QUEUE).content.decode()


def test_superusers_count_as_managers(client):
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    assert client.get(HEALTH).status_code == 200


def test_health_shows_the_offline_model_and_todays_runs(manager, settings):
    settings.TRIAGE_PROVIDER = "local"
    _spend("0", provider="local")
    _spend("0.012345")
    html = manager.get(HEALTH).content.decode()
    assert "the offline model has no account" in html
    assert "$0.0123 (no daily cap set: KIMI_DAILY_SPEND_CAP_USD)" in html
    assert "2 (1 on Kimi)" in html
    assert f'href="{HEALTH}"' in manager.get(QUEUE).content.decode()


def test_health_shows_the_kimi_balance_and_spend_against_the_cap(manager, settings, kimi_fake):
    seen = _serve(kimi_fake)
    settings.TRIAGE_PROVIDER = "kimi"
    settings.KIMI_API_KEY = "sk-test"
    settings.KIMI_BASE_URL = kimi_fake.base_url
    settings.KIMI_DAILY_SPEND_CAP_USD = Decimal("5")
    _spend("1.5")
    html = manager.get(HEALTH).content.decode()
    assert str(BALANCE["data"]["available_balance"]) + " USD available" in html
    assert "$1.5000 of $5" in html and "reached" not in html.split('id="health-spend"')[1].split("</td>")[0]
    assert seen and seen[0]["Authorization"] == "Bearer sk-test"


def test_health_says_why_the_balance_could_not_be_read(manager, settings, kimi_fake):
    _serve(
        kimi_fake, status=401, body={"error": {"type": "invalid_authentication_error", "message": "bad key"}}
    )
    settings.TRIAGE_PROVIDER = "kimi"
    settings.KIMI_API_KEY = "sk-wrong"
    settings.KIMI_BASE_URL = kimi_fake.base_url
    html = manager.get(HEALTH).content.decode()
    assert "could not be read: HTTP 401: invalid_authentication_error: bad key" in html


def test_cap_banner_shows_to_managers_only_while_reached(manager, client, settings):
    settings.KIMI_DAILY_SPEND_CAP_USD = Decimal("1.00")
    _spend("0.99")
    assert BANNER not in manager.get(QUEUE).content.decode()
    _spend("0.01")
    assert BANNER in manager.get(QUEUE).content.decode()
    assert BANNER in manager.get(reverse("triage:ticket-create")).content.decode()
    client.force_login(UserFactory(username="agent-x"))
    assert BANNER not in client.get(QUEUE).content.decode()
    settings.KIMI_DAILY_SPEND_CAP_USD = Decimal("0")
    client.force_login(UserFactory(username="boss"))
    assert BANNER not in client.get(QUEUE).content.decode()


def test_health_shows_every_queue_with_its_depth_oldest_job_and_worker_liveness(manager, settings, tmp_path):
    import os
    import time
    from datetime import timedelta

    from django.utils import timezone

    from triage.services.workers import worker_heartbeat_write

    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path)}
    message = tmp_path / "123_abc.reports.msg"
    message.write_text("{}")
    os.utime(message, (time.time() - 150, time.time() - 150))
    now = timezone.now()
    worker_heartbeat_write(queues=["media", "reports"], hostname="media@h", pid=1, started_at=now, now=now)
    worker_heartbeat_write(
        queues=["llm"], hostname="llm@h", pid=2, started_at=now, now=now - timedelta(minutes=5)
    )
    html = manager.get(HEALTH).content.decode()
    for queue in settings.TRIAGE_QUEUES:
        assert f'id="queue-{queue}"' in html
    row = lambda q: html.split(f'id="queue-{q}"')[1].split("</tr>")[0]  # noqa: E731
    assert "1 alive" in row("media") and "no live worker" in row("llm") and "never" in row("handoff")
    assert ">1<" in row("reports") and "2m 3" in row("reports")
    # a beat is aged to the second under a minute (Django's timesince said "0 minutes ago")
    assert re.search(r">\d{1,2} s ago</time>", row("media")), row("media")
    assert "5 min ago</time>" in row("llm"), row("llm")
