"""Two reviewers on one ticket: presence, and a conflicting save that keeps only what this reviewer
changed, shows both sides, and never silently undoes the colleague's correction."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory, triaged_ticket
from triage.fields import TAXONOMY_FIELDS
from triage.models import Ticket
from triage.services.presence import presence_for_tickets, presence_touch

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("view_taxonomy")]


def form_values(html: str) -> dict[str, str]:
    """The review form as the browser would post it: seen, orig_*, and the fields' values."""
    form = html[html.index('id="review-form"') :]
    form = form[: form.index("</form>")]
    values = dict(re.findall(r'<input type="hidden" name="(seen|orig_\w+)" value="([^"]*)"', form))
    for name in TAXONOMY_FIELDS:
        select = re.search(rf'<select name="{name}".*?</select>', form, re.S).group(0)
        values[name] = re.search(r'<option value="([^"]*)"[^>]*selected', select).group(1)
    values["language"] = re.search(r'name="language" value="([^"]*)"', form).group(1)
    values["summary"] = re.search(r"<textarea[^>]*>\n?(.*?)</textarea>", form, re.S).group(1)
    return values


def logged_in(username: str) -> Client:
    client = Client()
    client.force_login(UserFactory(username=username, first_name=username.title(), last_name=""))
    return client


def test_saving_again_after_a_conflict_never_undoes_a_colleagues_correction():
    ticket = triaged_ticket()
    url = reverse("triage:ticket-detail", args=[ticket.id])
    ana, bob = logged_in("ana"), logged_in("bob")
    ana_form = form_values(ana.get(url).content.decode())
    bob_form = form_values(bob.get(url).content.decode())
    assert ana_form["priority"] == "high" and ana_form["orig_priority"] == "high"

    # Bob corrects the priority and saves first
    assert bob.post(url, {**bob_form, "priority": "urgent", "action": "save"}).status_code == 302
    # Ana, on her stale page, corrects the category only
    page = ana.post(url, {**ana_form, "category": "billing", "action": "save"}).content.decode()
    assert "This ticket changed while you were reviewing it" in page
    assert "The form keeps only what you changed (Category)" in page
    table = page[page.index('class="table conflict-table"') :]
    assert re.search(r"Priority</th><td>High</td><td>\(unchanged\)</td><td>Urgent</td>", table)
    assert re.search(
        r"Category</th><td>Bug / error</td><td>Billing &amp; payments</td><td>\(unchanged\)</td>", table
    )
    again = form_values(page)
    assert again["category"] == "billing" and again["priority"] == "urgent"  # hers, and his kept
    assert Ticket.objects.get(id=ticket.id).category == "bug"  # nothing saved yet

    assert ana.post(url, {**again, "action": "save"}).status_code == 302
    ticket.refresh_from_db()
    assert (ticket.category, ticket.priority) == ("billing", "urgent")


def test_presence_shows_who_is_viewing_and_editing():
    ticket = triaged_ticket()
    url = reverse("triage:ticket-detail", args=[ticket.id])
    ana, bob = logged_in("ana"), logged_in("bob")
    ana.get(url)
    page = bob.get(url).content.decode()
    assert "<strong>Ana</strong> is viewing this ticket" in page
    presence = reverse("triage:ticket-presence", args=[ticket.id])
    ana.post(presence, {"editing": "1"})
    answer = bob.post(presence, {"editing": "0"}).content.decode()
    assert "<strong>Ana</strong> is editing this ticket" in answer
    queue = bob.get(reverse("triage:review-queue")).content.decode()
    row = queue[queue.index(f'id="ticket-row-{ticket.id}"') :]
    assert "Ana editing" in row[: row.index("</tr>")]
    assert "Bob" not in bob.post(presence).content.decode()  # never yourself


def test_presence_expires(monkeypatch):
    from django.core.cache import cache

    import triage.services.presence as presence

    cache.clear()
    # a ticket id no other test opens: reports live in Redis, which outlives each test's database
    ticket_id = 987_654_321
    presence_touch(ticket_id=ticket_id, user_id=1, name="Ana", editing=False)
    assert [p.name for p in presence_for_tickets(ticket_ids=[ticket_id])[ticket_id]] == ["Ana"]
    later = presence.time.time() + presence.PRESENCE_TTL_S + 1
    monkeypatch.setattr(presence.time, "time", lambda: later)
    assert presence_for_tickets(ticket_ids=[ticket_id]) == {}
