"""The administrators' users page: create, set the role, deactivate; no way to lock everyone out."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory
from triage.roles import Role, user_role

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def admin_user():
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def admin(client, admin_user):
    client.force_login(admin_user)
    return client


def _fresh(user):
    return User.objects.get(pk=user.pk)


def test_the_page_lists_users_with_their_roles(admin):
    UserFactory(username="ana")
    html = admin.get(reverse("triage:users")).content.decode()
    assert "ana" in html and "root" in html and "Set role" in html


def test_creating_a_manager_who_can_then_sign_in(admin):
    response = admin.post(
        reverse("triage:users"),
        {
            "username": "mona",
            "email": "mona@example.com",
            "role": "manager",
            "password": "lighthouse-otter-42",
        },
    )
    assert response.status_code == 302
    mona = User.objects.get(username="mona")
    assert user_role(mona) == Role.MANAGER
    assert (
        Client().post(reverse("login"), {"username": "mona", "password": "lighthouse-otter-42"}).status_code
        == 302
    )


def test_a_weak_password_or_a_taken_name_is_refused(admin):
    weak = admin.post(reverse("triage:users"), {"username": "x1", "role": "agent", "password": "password"})
    assert weak.status_code == 400 and "too common" in weak.content.decode()
    taken = admin.post(
        reverse("triage:users"), {"username": "ROOT", "role": "agent", "password": "lighthouse-otter-42"}
    )
    assert taken.status_code == 400 and "is taken" in taken.content.decode()
    assert not User.objects.filter(username__in=["x1", "ROOT"]).exists()


def test_setting_roles_up_and_down(admin):
    ana = UserFactory(username="ana")
    url = reverse("triage:user-edit", args=[ana.pk])
    admin.post(url, {"action": "role", "role": "admin"})
    assert user_role(_fresh(ana)) == Role.ADMIN and _fresh(ana).is_staff
    admin.post(url, {"action": "role", "role": "manager"})
    assert user_role(_fresh(ana)) == Role.MANAGER and not _fresh(ana).is_superuser
    admin.post(url, {"action": "role", "role": "agent"})
    assert user_role(_fresh(ana)) == Role.AGENT


def test_a_deactivated_user_is_signed_out_and_cannot_sign_in(admin):
    ana = UserFactory(username="ana")
    session = Client()
    session.force_login(ana)
    assert session.get(reverse("triage:review-queue")).status_code == 200
    admin.post(reverse("triage:user-edit", args=[ana.pk]), {"action": "deactivate"})
    assert not _fresh(ana).is_active
    assert session.get(reverse("triage:review-queue")).status_code == 302  # to the login
    assert (
        Client().post(reverse("login"), {"username": "ana", "password": "correct-horse-battery"}).status_code
        == 200
    )
    admin.post(reverse("triage:user-edit", args=[ana.pk]), {"action": "activate"})
    assert _fresh(ana).is_active


def test_an_admin_cannot_demote_or_deactivate_themselves(admin, admin_user):
    url = reverse("triage:user-edit", args=[admin_user.pk])
    admin.post(url, {"action": "role", "role": "agent"})
    admin.post(url, {"action": "deactivate"})
    assert user_role(_fresh(admin_user)) == Role.ADMIN
    page = admin.get(reverse("triage:users")).content.decode()
    assert "cannot deactivate your own account" in page


def test_managers_and_agents_cannot_manage_users(client):
    from django.contrib.auth.models import Group

    manager = UserFactory(username="mona")
    manager.groups.add(Group.objects.get_or_create(name="managers")[0])
    client.force_login(manager)
    assert client.get(reverse("triage:users")).status_code == 403
    response = client.post(
        reverse("triage:user-edit", args=[manager.pk]), {"action": "role", "role": "admin"}
    )
    assert response.status_code == 403 and not _fresh(manager).is_superuser
