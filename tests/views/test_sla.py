"""The managers' SLA page, and the queue's due-time column and sort."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import TicketFactory, UserFactory
from triage.models import BusinessHours, SlaPolicy, Ticket
from triage.templatetags.sla_tags import sla_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(view_taxonomy) -> Client:
    user = UserFactory(username="mona")
    user.groups.add(Group.objects.get_or_create(name="managers")[0])
    client = Client()
    client.force_login(user)
    return client


def _add(client: Client, **fields: str):
    data = {"action": "save", "priority": "", "queue": "", "first_decision": "", "resolution": ""} | fields
    return client.post(reverse("triage:sla"), data)


def test_a_manager_adds_edits_and_deletes_a_policy(manager):
    response = _add(manager, priority="urgent", first_decision="30m", resolution="4h")
    assert response.status_code == 302
    policy = SlaPolicy.objects.get()
    assert (policy.priority, policy.first_decision_minutes, policy.resolution_minutes) == ("urgent", 30, 240)
    html = manager.get(reverse("triage:sla")).content.decode()
    assert "Urgent" in html and "30m" in html and "4h" in html
    edit = manager.get(reverse("triage:sla") + f"?edit={policy.id}").content.decode()
    assert 'value="30m"' in edit
    _add(manager, policy=str(policy.id), priority="urgent", first_decision="1.5h", business_hours="on")
    policy.refresh_from_db()
    assert policy.first_decision_minutes == 90 and policy.resolution_minutes is None and policy.business_hours
    manager.post(reverse("triage:sla"), {"action": "delete", "policy": policy.id})
    assert not SlaPolicy.objects.exists()


def test_bad_durations_and_duplicates_are_refused_with_reasons(manager):
    response = _add(manager, first_decision="soon")
    assert response.status_code == 400 and "like 30m, 4h or 2d" in response.content.decode()
    response = _add(manager)
    assert response.status_code == 400 and "Set a time to first decision" in response.content.decode()
    _add(manager, priority="high", first_decision="1h")
    response = _add(manager, priority="high", first_decision="2h")
    assert response.status_code == 400 and "exists already" in response.content.decode()
    assert SlaPolicy.objects.count() == 1


def test_a_manager_sets_business_hours(manager):
    response = manager.post(
        reverse("triage:sla"),
        {
            "action": "hours",
            "timezone": "Europe/Paris",
            "weekdays": ["0", "2"],
            "start": "08:00",
            "end": "12:30",
        },
    )
    assert response.status_code == 302
    row = BusinessHours.objects.get(id=1)
    assert (row.timezone, row.weekdays, row.start, row.end) == (
        "Europe/Paris",
        "02",
        dt.time(8),
        dt.time(12, 30),
    )
    bad = manager.post(
        reverse("triage:sla"),
        {"action": "hours", "timezone": "Mars/Olympus", "weekdays": ["0"], "start": "18:00", "end": "09:00"},
    )
    assert bad.status_code == 400 and "Not a time zone" in bad.content.decode()


def test_agents_cannot_see_or_change_policies(client, view_taxonomy):
    client.force_login(UserFactory())
    assert client.get(reverse("triage:sla")).status_code == 403
    assert _add(client, first_decision="1h").status_code == 403
    assert not SlaPolicy.objects.exists()


def test_sla_state_words_and_colours():
    now = timezone.now()
    assert sla_state(now - dt.timedelta(hours=2, minutes=5), now=now) == ("overdue", "Overdue 2h 5m")
    assert sla_state(now + dt.timedelta(minutes=45), now=now) == ("soon", "45m left")
    assert sla_state(now + dt.timedelta(days=3, hours=1), now=now) == ("ok", "3d 1h left")
    assert sla_state(None) == ("none", "")


def test_the_queue_shows_time_left_and_overdue_and_sorts_by_due(manager):
    _add(manager, first_decision="1h")
    late = TicketFactory(status=Ticket.Status.NEEDS_REVIEW, subject="late one")
    Ticket.objects.filter(id=late.id).update(created_at=timezone.now() - dt.timedelta(hours=3))
    late.refresh_from_db()
    late.save()
    soon = TicketFactory(status=Ticket.Status.NEEDS_REVIEW, subject="soon one")
    SlaPolicy.objects.all().delete()  # a ticket with no target sorts last
    none = TicketFactory(status=Ticket.Status.NEEDS_REVIEW, subject="no target")
    html = manager.get(reverse("triage:review-queue") + "?sort=due").content.decode()
    assert "sla-overdue" in html and "Overdue 2h" in html
    assert "sla-soon" in html and "left" in html
    assert html.index("late one") < html.index("soon one") < html.index("no target")
    assert none.sla_due_at is None and soon.id
