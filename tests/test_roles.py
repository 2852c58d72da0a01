from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Group

from tests.factories import UserFactory
from triage.roles import user_is_manager

pytestmark = pytest.mark.django_db


def test_managers_group_members_and_superusers_are_managers():
    member = UserFactory()
    member.groups.add(Group.objects.create(name="managers"))
    assert user_is_manager(member)
    assert user_is_manager(UserFactory(is_superuser=True))


def test_agents_staff_and_anonymous_users_are_not():
    agent = UserFactory()
    agent.groups.add(Group.objects.create(name="agents"))
    assert not user_is_manager(agent)
    assert not user_is_manager(UserFactory(is_staff=True))
    assert not user_is_manager(AnonymousUser())
    assert not user_is_manager(None)
