from __future__ import annotations

import re

import pytest
from django.test import Client

from triage.models import ApiToken

pytestmark = pytest.mark.django_db


def test_a_token_is_shown_once_works_and_can_be_revoked(agent):
    page = agent.post("/account/", {"name": "helpdesk sync", "scope": "write"})
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"] or "max-age=0" in page["Cache-Control"]
    secret = re.search(r'<code id="token-secret">(tri_[^<]+)</code>', page.content.decode())[1]
    row = ApiToken.objects.get(name="helpdesk sync")
    assert row.scope == "write"
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/v1/taxonomy").status_code == 200
    again = agent.get("/account/").content.decode()
    assert secret not in again and f"tri_{row.prefix}_" in again  # listed, never shown again
    agent.post("/account/", {"action": "revoke", "token": row.id})
    assert api.get("/api/v1/taxonomy").status_code == 401


def test_someone_elses_token_cannot_be_revoked(agent, db):
    from tests.security.conftest import role_user
    from triage.services.api_tokens import api_token_create

    other = api_token_create(user=role_user("manager"), name="theirs", scope="read")
    agent.post("/account/", {"action": "revoke", "token": other.token.id})
    other.token.refresh_from_db()
    assert other.token.revoked_at is None
