"""The person's own account: name and email, change password and password reset in our own pages
(not the Django admin's, whose "Home" agents cannot open), and the header's user menu."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()
ADMIN_MARKS = ("Django administration", "Django site admin", reverse("admin:index"))


def test_the_header_user_menu_offers_account_and_change_password(agent):
    html = agent.get(reverse("triage:review-queue")).content.decode()
    menu = re.search(r'<details class="menu user-menu".*?</details>', html, re.S).group(0)
    assert f'href="{reverse("triage:account")}"' in menu and f'href="{reverse("password_change")}"' in menu
    assert "Change password" in menu


def test_name_and_email_are_editable_on_the_account_page(client):
    ana = UserFactory(username="ana-" + uuid.uuid4().hex[:6])
    client.force_login(ana)
    page = client.get(reverse("triage:account")).content.decode()
    assert 'name="first_name"' in page and 'name="email"' in page and ana.email in page
    response = client.post(
        reverse("triage:account"),
        {"action": "profile", "first_name": " Ana ", "last_name": "Sousa", "email": "ana.s@example.com"},
    )
    assert response.status_code == 302
    ana.refresh_from_db()
    assert (ana.first_name, ana.last_name, ana.email) == ("Ana", "Sousa", "ana.s@example.com")
    assert "Ana Sousa" in client.get(reverse("triage:account")).content.decode()


def test_an_email_another_account_uses_or_a_bad_one_is_refused(client):
    UserFactory(username="other", email="other@example.com")
    me = UserFactory(username="me")
    client.force_login(me)
    taken = client.post(reverse("triage:account"), {"action": "profile", "email": "OTHER@example.com"})
    assert taken.status_code == 400 and "Another account uses that email" in taken.content.decode()
    bad = client.post(reverse("triage:account"), {"action": "profile", "email": "not an address"})
    assert bad.status_code == 400
    me.refresh_from_db()
    assert me.email == "me@example.com"


@pytest.mark.parametrize("role", ["agent", "manager", "admin"])
def test_change_password_is_our_page_for_every_role(client, role):
    user = UserFactory(username=f"{role}-pw", is_superuser=role == "admin", is_staff=role == "admin")
    if role == "manager":
        from django.contrib.auth.models import Group

        user.groups.add(Group.objects.get_or_create(name="managers")[0])
    client.force_login(user)
    page = client.get(reverse("password_change"))
    html = page.content.decode()
    assert page.status_code == 200 and "Change password" in html and 'class="topbar"' in html
    assert "Django administration" not in html and "Django site admin" not in html
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "harbour-kestrel-93",
            "new_password2": "harbour-kestrel-93",
        },
    )
    assert response.status_code == 302
    done = client.get(response.url).content.decode()
    assert "Password changed" in done and "Django administration" not in done
    assert Client().login(username=user.username, password="harbour-kestrel-93")


def test_a_wrong_current_password_is_refused(agent):
    response = agent.post(
        reverse("password_change"),
        {
            "old_password": "nope",
            "new_password1": "harbour-kestrel-93",
            "new_password2": "harbour-kestrel-93",
        },
    )
    assert response.status_code == 200 and "incorrect" in response.content.decode()


def test_password_reset_by_email_in_our_pages(client, mailoutbox):
    user = UserFactory(username="forgetful", email=f"f-{uuid.uuid4().hex[:8]}@example.com")
    login = client.get(reverse("login")).content.decode()
    assert f'href="{reverse("password_reset")}"' in login
    form = client.get(reverse("password_reset")).content.decode()
    assert "Reset your password" in form and not any(mark in form for mark in ADMIN_MARKS)
    response = client.post(reverse("password_reset"), {"email": user.email}, follow=True)
    assert "Check your email" in response.content.decode()
    (mail,) = mailoutbox
    assert mail.subject == "Reset your Triage password" and "forgetful" in mail.body
    path = urlsplit(re.search(r"https?://\S+/accounts/reset/\S+/", mail.body).group(0)).path
    form_url = client.get(path).url
    html = client.get(form_url).content.decode()
    assert "Choose a password" in html and not any(mark in html for mark in ADMIN_MARKS)
    done = client.post(
        form_url, {"new_password1": "harbour-kestrel-93", "new_password2": "harbour-kestrel-93"}
    )
    complete = client.get(done.url).content.decode()
    assert "Password set" in complete and not any(mark in complete for mark in ADMIN_MARKS)
    assert Client().login(username="forgetful", password="harbour-kestrel-93")
