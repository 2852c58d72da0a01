"""Saved queue views: create, open, live counts, rename, update, delete; who may change which."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from tests.factories import TicketFactory, UserFactory
from triage.models import SavedView, Ticket
from triage.services.saved_views import saved_view_query

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def ana(view_taxonomy):
    return UserFactory(username="ana")


@pytest.fixture
def bo(view_taxonomy):
    return UserFactory(username="bo")


@pytest.fixture
def mona(view_taxonomy):
    user = UserFactory(username="mona")
    user.groups.add(Group.objects.get_or_create(name="managers")[0])
    return user


def _create(client: Client, name: str, query: str, **extra):
    return client.post(
        reverse("triage:saved-views"), {"action": "create", "name": name, "query": query} | extra
    )


def test_the_query_keeps_only_the_queue_parameters_in_order():
    assert saved_view_query("?page=3&sort=due&priority=high&evil=1&view=9") == "priority=high&sort=due"


def test_create_then_open_shows_it_active_with_its_filters(ana):
    c = _client(ana)
    response = _create(
        c, "Urgent billing", "priority=urgent&queue=billing_team&sort=due&page=2", columns=["Status", "Due"]
    )
    view = SavedView.objects.get()
    assert (
        response.status_code == 302
        and response["Location"] == f"/?priority=urgent&queue=billing_team&sort=due&view={view.id}"
    )
    assert (view.owner, view.shared, view.columns) == (ana, False, ["Status", "Due"])
    html = c.get(response["Location"]).content.decode()
    assert "Change “Urgent billing”" in html
    sidebar = c.get(reverse("triage:saved-view-counts") + f"?active={view.id}").content.decode()
    assert 'aria-current="page">Urgent billing</a>' in sidebar
    assert "&quot;Status&quot;, &quot;Due&quot;" in html  # the columns the script keeps
    assert f'name="view" value="{view.id}"' in html  # kept when the filters are applied again


def test_counts_are_live_and_personal_views_stay_personal(ana, bo):
    TicketFactory(priority="urgent", status=Ticket.Status.NEEDS_REVIEW)
    TicketFactory(priority="urgent", status=Ticket.Status.NEEDS_REVIEW)
    TicketFactory(priority="low", status=Ticket.Status.NEEDS_REVIEW)
    _create(_client(ana), "Urgent", "priority=urgent")
    _create(_client(ana), "Everything shared", "", shared="1")
    counts = _client(ana).get(reverse("triage:saved-view-counts"), HTTP_HX_REQUEST="true").content.decode()
    assert (
        '"count">2<span class="visually-hidden"> tickets</span>' in counts
        and '"count">3<span class="visually-hidden"> tickets</span>' in counts
    )
    TicketFactory(priority="urgent", status=Ticket.Status.NEEDS_REVIEW)
    counts = _client(ana).get(reverse("triage:saved-view-counts")).content.decode()
    assert '"count">3<span class="visually-hidden"> tickets</span>' in counts
    theirs = _client(bo).get(reverse("triage:saved-view-counts")).content.decode()
    assert "Everything shared" in theirs and "Urgent<" not in theirs


def test_rename_update_and_delete_by_the_owner(ana):
    c = _client(ana)
    _create(c, "Mine", "priority=low")
    view = SavedView.objects.get()
    c.post(reverse("triage:saved-views"), {"action": "rename", "view": view.id, "name": "  Low   ones "})
    c.post(
        reverse("triage:saved-views"),
        {"action": "update", "view": view.id, "query": "priority=high&sort=newest", "shared": "1"},
    )
    view.refresh_from_db()
    assert (view.name, view.query, view.shared) == ("Low ones", "priority=high&sort=newest", True)
    c.post(reverse("triage:saved-views"), {"action": "delete", "view": view.id})
    assert not SavedView.objects.exists()


def test_a_shared_view_is_changed_only_by_its_owner_or_a_manager(ana, bo, mona):
    _create(_client(ana), "Team", "priority=high", shared="1")
    view = SavedView.objects.get()
    response = _client(bo).post(
        reverse("triage:saved-views"), {"action": "rename", "view": view.id, "name": "Mine now"}
    )
    assert response.status_code == 302
    _client(bo).post(reverse("triage:saved-views"), {"action": "delete", "view": view.id})
    view.refresh_from_db()
    assert view.name == "Team"
    html = _client(bo).get(f"/?priority=high&view={view.id}").content.decode()
    assert "saved-view-edit" not in html  # no change form for someone who may not
    _client(mona).post(
        reverse("triage:saved-views"), {"action": "rename", "view": view.id, "name": "Team (managed)"}
    )
    view.refresh_from_db()
    assert view.name == "Team (managed)"


def test_someone_elses_personal_view_is_not_found(ana, mona):
    _create(_client(ana), "Private", "")
    view = SavedView.objects.get()
    _client(mona).post(reverse("triage:saved-views"), {"action": "delete", "view": view.id})
    assert SavedView.objects.filter(id=view.id).exists()


def test_a_view_needs_a_name(ana):
    response = _create(_client(ana), "   ", "")
    assert response.status_code == 302 and not SavedView.objects.exists()
