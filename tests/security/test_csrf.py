"""CSRF: every URL refuses a POST without the token, except the webhooks, which are signed instead."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.security.conftest import MESSAGE
from tests.security.test_crawl import _url, url_patterns
from triage.models import InboundEmail, TaxonomyChange, Ticket

pytestmark = pytest.mark.django_db

# csrf_exempt on purpose: posted by mail relays and providers, which authenticate with signatures
WEBHOOKS = {key for key, _ in url_patterns() if key.startswith(("triage:email-inbound-", "triage:hook-"))}
# the REST API: authenticated by a bearer token only, never by the session cookie, so a forged
# cross-site request (which carries only cookies) cannot act; see the test at the end
TOKEN_AUTH = {key for key, _ in url_patterns() if key.startswith("api:")}
CSRF_REFUSED = "This form has expired"  # templates/403_csrf.html


@pytest.fixture
def strict(role_users) -> Client:
    """An administrator (no role check can be the reason for a 403) whose client checks CSRF."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(role_users["admin"])
    return client


def test_every_form_posted_without_the_token_is_refused_403(world, strict):
    tickets_before = Ticket.objects.count()
    accepted = []
    for key, pattern in url_patterns():
        if key in WEBHOOKS or key in TOKEN_AUTH:
            continue
        response = strict.post(_url(key, pattern, world.kwargs.get(key, {})), {"subject": "x", "label": "x"})
        if response.status_code != 403 or CSRF_REFUSED not in response.content.decode():
            accepted.append(f"{key}: {response.status_code}")
    assert not accepted, f"POST without a CSRF token not refused: {accepted}"
    assert Ticket.objects.count() == tickets_before and not TaxonomyChange.objects.exists()


def test_the_same_form_with_the_token_goes_through(world, strict):
    """The refusal above is CSRF's and nothing else: with the token the taxonomy rename works."""
    page = strict.get(reverse("triage:taxonomy"))
    token = page.cookies[settings.CSRF_COOKIE_NAME].value
    url = reverse("triage:taxonomy-value", kwargs=world.kwargs["triage:taxonomy-value"])
    response = strict.post(url, {"action": "rename", "label": "Renamed", "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and TaxonomyChange.objects.get().after == "Renamed"


def test_webhooks_need_no_token_but_a_signature(strict):
    anonymous = Client(enforce_csrf_checks=True)
    url = reverse("triage:email-inbound-raw")
    unsigned = anonymous.post(url, MESSAGE, content_type="message/rfc822")
    assert unsigned.status_code == 403 and CSRF_REFUSED not in unsigned.content.decode()
    ts = str(int(time.time()))
    mac = hmac.new(settings.INBOUND_EMAIL_SECRET.encode(), f"{ts}.".encode() + MESSAGE, hashlib.sha256)
    headers = {"X-Triage-Timestamp": ts, "X-Triage-Signature": f"sha256={mac.hexdigest()}"}
    signed = anonymous.post(url, MESSAGE, content_type="message/rfc822", headers=headers)
    assert signed.status_code == 202 and InboundEmail.objects.count() == 1
    for key in WEBHOOKS - {"triage:email-inbound-raw"}:
        response = anonymous.post(reverse(key), {})
        # anymail's own check, or the hand-off status hooks' signatures: not CSRF's 403
        assert response.status_code in (400, 401), key


def test_the_api_ignores_the_session_cookie_so_a_forged_post_cannot_act(world, strict):
    before = Ticket.objects.count()
    response = strict.post("/api/v1/tickets", {"subject": "forged"}, content_type="application/json")
    assert response.status_code == 401
    assert Ticket.objects.count() == before
