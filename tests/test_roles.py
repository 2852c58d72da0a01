from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory

from tests.factories import UserFactory
from triage.roles import (
    Role,
    admin_required,
    agent_required,
    manager_required,
    user_is_admin,
    user_is_agent,
    user_is_manager,
    user_role,
)

pytestmark = pytest.mark.django_db


def _manager():
    member = UserFactory()
    member.groups.add(Group.objects.get_or_create(name="managers")[0])
    return member


def test_managers_group_members_and_superusers_are_managers():
    assert user_is_manager(_manager())
    assert user_is_manager(UserFactory(is_superuser=True))


def test_agents_staff_and_anonymous_users_are_not():
    agent = UserFactory()
    agent.groups.add(Group.objects.create(name="agents"))
    assert not user_is_manager(agent)
    assert not user_is_manager(UserFactory(is_staff=True))
    assert not user_is_manager(AnonymousUser())
    assert not user_is_manager(None)


def test_each_role_includes_the_ones_below_it():
    agent, manager, admin = UserFactory(), _manager(), UserFactory(is_superuser=True)
    assert [user_role(u) for u in (agent, manager, admin)] == [Role.AGENT, Role.MANAGER, Role.ADMIN]
    assert [user_is_agent(u) for u in (agent, manager, admin)] == [True, True, True]
    assert [user_is_manager(u) for u in (agent, manager, admin)] == [False, True, True]
    assert [user_is_admin(u) for u in (agent, manager, admin)] == [False, False, True]


def test_staff_alone_is_not_admin_and_deactivated_users_have_no_role():
    assert user_role(UserFactory(is_staff=True)) == Role.AGENT
    assert user_role(UserFactory(is_superuser=True, is_active=False)) is None
    assert user_role(AnonymousUser()) is None


@pytest.mark.parametrize(
    ("decorator", "allowed"),
    [
        (agent_required, {"agent", "manager", "admin"}),
        (manager_required, {"manager", "admin"}),
        (admin_required, {"admin"}),
    ],
)
def test_the_role_decorators_refuse_everyone_below_their_role(decorator, allowed):
    view = decorator(lambda request: HttpResponse("ok"))
    users = {
        "anonymous": AnonymousUser(),
        "agent": UserFactory(),
        "manager": _manager(),
        "admin": UserFactory(is_superuser=True),
    }
    for role, user in users.items():
        request = RequestFactory().get("/")
        request.user = user
        if role in allowed:
            assert view(request).content == b"ok", role
        else:
            with pytest.raises(PermissionDenied):
                view(request)


def test_being_an_agent_needs_no_group_query_and_a_deactivated_user_is_none(django_assert_num_queries):
    """Every active signed-in user is at least an agent: agent_required (the new-ticket post and most
    pages) decides without asking which groups the user is in."""
    agent, manager, gone = UserFactory(), _manager(), UserFactory(is_active=False)
    with django_assert_num_queries(0):
        assert [user_is_agent(u) for u in (agent, manager, gone, AnonymousUser(), None)] == [
            True, True, False, False, False,
        ]  # fmt: skip
