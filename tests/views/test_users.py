"""The administrators' users page: create, set the role, deactivate; no way to lock everyone out."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

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


def test_inviting_a_manager_who_chooses_a_password_from_the_email_then_signs_in(admin, mailoutbox):
    response = admin.post(
        reverse("triage:users"), {"username": "mona", "email": "mona@example.com", "role": "manager"}
    )
    assert response.status_code == 302
    mona = User.objects.get(username="mona")
    assert user_role(mona) == Role.MANAGER and not mona.has_usable_password()
    (mail,) = mailoutbox
    assert mail.to == ["mona@example.com"] and "mona" in mail.body
    link = re.search(r"https?://\S+/accounts/reset/\S+/", mail.body).group(0)
    assert "invited" in admin.get(reverse("triage:users")).content.decode()  # and a Resend button

    person = Client()
    form_url = person.get(urlsplit(link).path).url  # Django swaps the token for a session marker
    page = person.get(form_url)
    assert page.status_code == 200 and "Choose a password" in page.content.decode()
    done = person.post(
        form_url, {"new_password1": "lighthouse-otter-42", "new_password2": "lighthouse-otter-42"}
    )
    assert done.status_code == 302
    assert (
        Client().post(reverse("login"), {"username": "mona", "password": "lighthouse-otter-42"}).status_code
        == 302
    )
    # the link is spent: setting the password changed what its token hashes
    again = Client().get(urlsplit(link).path, follow=True)
    assert "This link no longer works" in again.content.decode()


def test_an_invitation_can_be_resent_until_a_password_is_set(admin, mailoutbox):
    admin.post(reverse("triage:users"), {"username": "ivo", "email": "ivo@example.com", "role": "agent"})
    ivo = User.objects.get(username="ivo")
    admin.post(reverse("triage:user-edit", args=[ivo.pk]), {"action": "invite"})
    assert len(mailoutbox) == 2 and mailoutbox[1].to == ["ivo@example.com"]
    set_up = UserFactory(username="has-password")
    response = admin.post(reverse("triage:user-edit", args=[set_up.pk]), {"action": "invite"}, follow=True)
    assert "has a password already" in response.content.decode() and len(mailoutbox) == 2


def test_a_missing_email_or_a_taken_name_or_email_is_refused(admin, mailoutbox):
    UserFactory(username="taken", email="taken@example.com")
    no_email = admin.post(reverse("triage:users"), {"username": "x1", "role": "agent"})
    assert no_email.status_code == 400
    taken = admin.post(
        reverse("triage:users"), {"username": "ROOT", "email": "r@example.com", "role": "agent"}
    )
    assert taken.status_code == 400 and "is taken" in taken.content.decode()
    same_email = admin.post(
        reverse("triage:users"), {"username": "x2", "email": "TAKEN@example.com", "role": "agent"}
    )
    assert same_email.status_code == 400 and "Another account uses that email" in same_email.content.decode()
    assert not User.objects.filter(username__in=["x1", "ROOT", "x2"]).exists() and not mailoutbox


def test_a_failed_invitation_keeps_the_account_and_says_so(admin, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens
    response = admin.post(
        reverse("triage:users"), {"username": "zoe", "email": "zoe@example.com", "role": "agent"}, follow=True
    )
    html = response.content.decode()
    assert "the invitation was not sent" in html and "Resend invitation" in html
    assert User.objects.filter(username="zoe").exists()


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
