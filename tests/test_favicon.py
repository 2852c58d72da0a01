"""/favicon.ico no longer answers 404: it redirects to the vendored icon, which pages also link."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db


def test_favicon_redirects_to_the_vendored_icon_without_login(client: Client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("/triage/favicon.svg")
    assert finders.find("triage/favicon.svg"), "the icon is vendored under static/"


def test_the_login_page_links_the_icon(client: Client):
    html = client.get("/accounts/login/").content.decode()
    assert 'rel="icon"' in html and "triage/favicon.svg" in html
