from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from django.urls import reverse

from tests.factories import StaffUserFactory, UserFactory
from triage.models import Ticket

pytestmark = pytest.mark.django_db

PROTECTED = [
    ("triage:review-queue", {}),
    ("triage:ticket-create", {}),
    ("triage:ticket-detail", {"ticket_id": 1}),
    ("triage:attachment-file", {"attachment_id": 1}),
    ("triage:rendition-file", {"rendition_id": 1}),
]


@pytest.mark.parametrize(("name", "kwargs"), PROTECTED)
def test_anonymous_visitors_are_sent_to_the_login_page(client, name, kwargs):
    url = reverse(name, kwargs=kwargs)
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={quote(url)}"


def test_anonymous_posts_create_nothing(client):
    response = client.post(reverse("triage:ticket-create"), {"subject": "spam"})
    assert response.status_code == 302 and reverse("login") in response.url
    assert not Ticket.objects.exists()


def test_the_login_page_is_styled_and_logs_in(client):
    UserFactory(username="ana")
    page = client.get(reverse("login"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "triage/css/app.css" in html and 'name="password"' in html

    response = client.post(reverse("login"), {"username": "ana", "password": "correct-horse-battery"})
    assert response.status_code == 302 and response.url == reverse("triage:review-queue")


def test_a_wrong_password_is_refused_with_a_message(client):
    UserFactory(username="ana")
    response = client.post(reverse("login"), {"username": "ana", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_the_header_shows_the_user_and_a_logout_form(client):
    user = UserFactory(username="ana", first_name="Ana", last_name="Lima")
    client.force_login(user)
    html = client.get(reverse("triage:review-queue")).content.decode()
    assert "Ana Lima" in html
    assert f'action="{reverse("logout")}"' in html and 'method="post"' in html
    assert reverse("admin:index") not in html  # not staff

    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("triage:review-queue")).status_code == 302


def test_administrators_see_the_admin_link_and_staff_alone_do_not(client):
    client.force_login(StaffUserFactory())
    html = client.get(reverse("triage:review-queue")).content.decode()
    assert f'href="{reverse("admin:index")}"' not in html  # staff is not a role (triage/roles.py)
    client.force_login(StaffUserFactory(is_superuser=True))
    html = client.get(reverse("triage:review-queue")).content.decode()
    assert f'href="{reverse("admin:index")}"' in html


def test_pages_load_vendored_htmx_and_send_the_csrf_token_from_the_body(client):
    client.force_login(UserFactory())
    html = client.get(reverse("triage:review-queue")).content.decode()
    assert "/static/triage/vendor/htmx.min.js" in html
    assert '<body hx-headers=\'{"X-CSRFToken": "' in html
    # every script and stylesheet comes from our own static files: no CDN, no other host (checked on
    # the tags' addresses, not the whole page, where a random CSRF token can spell "cdn")
    assets = re.findall(r"<(?:script|link)\b[^>]*?\b(?:src|href)=\"([^\"]*)\"", html)
    assert "/static/triage/vendor/htmx.min.js" in assets
    assert all(url.startswith("/static/") and "//" not in url for url in assets), assets
