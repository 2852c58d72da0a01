from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from triage.models import ApiToken, ReportExport

pytestmark = pytest.mark.django_db


def test_no_token_or_a_wrong_one_is_a_401_problem(api_client):
    api_client()
    for header in ({}, {"HTTP_AUTHORIZATION": "Bearer tri_nope_nope"}, {"HTTP_AUTHORIZATION": "Basic eDp5"}):
        response = Client().get("/api/v1/tickets", **header)
        assert response.status_code == 401
        assert response["Content-Type"] == "application/problem+json"
        assert "account page" in json.loads(response.content)["detail"]


def test_a_tampered_secret_with_a_real_prefix_is_refused(api_client):
    client = api_client()
    forged = client.token[:-4] + ("AAAA" if not client.token.endswith("AAAA") else "BBBB")
    assert Client().get("/api/v1/tickets", HTTP_AUTHORIZATION=f"Bearer {forged}").status_code == 401


def test_revoked_token_and_deactivated_owner_are_refused(api_client):
    client = api_client()
    assert client.api("get", "/api/v1/taxonomy").status_code == 200
    ApiToken.objects.filter(id=client.token_row.id).update(revoked_at=timezone.now())
    assert client.api("get", "/api/v1/taxonomy").status_code == 401
    other = api_client("manager")
    other.user.is_active = False
    other.user.save()
    assert other.api("get", "/api/v1/taxonomy").status_code == 401


def test_only_the_hash_is_stored_and_last_use_is_stamped(api_client):
    client = api_client()
    row = ApiToken.objects.get(id=client.token_row.id)
    secret = client.token.rsplit("_", 1)[1]
    assert secret not in row.secret_sha256 and len(row.secret_sha256) == 64
    assert row.last_used_at is None
    client.api("get", "/api/v1/taxonomy")
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_a_read_token_cannot_write(api_client):
    client = api_client(scope="read")
    assert client.api("get", "/api/v1/tickets").status_code == 200
    response = client.api("post", "/api/v1/tickets", {"subject": "x"})
    assert response.status_code == 403 and "read-only" in json.loads(response.content)["detail"]


def test_the_owners_role_applies(api_client):
    agent, manager = api_client("agent"), api_client("manager")
    assert agent.api("post", "/api/v1/exports", {"format": "csv"}).status_code == 403
    response = manager.api("post", "/api/v1/exports", {"format": "csv"})
    assert response.status_code == 202, response.content
    export = ReportExport.objects.get(id=json.loads(response.content)["id"])
    assert export.requested_by == manager.user


def test_rate_limit_per_token_is_a_429_with_retry_after(api_client, settings):
    settings.TRIAGE_API_RATE_PER_MINUTE = 3
    client, other = api_client(), api_client("manager")
    codes = [client.api("get", "/api/v1/taxonomy").status_code for _ in range(4)]
    assert codes[:3] == [200, 200, 200]
    if codes[3] == 200:  # the minute turned over between calls: the next one must be limited
        codes += [client.api("get", "/api/v1/taxonomy").status_code for _ in range(3)]
    limited = client.api("get", "/api/v1/taxonomy")
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited["Content-Type"] == "application/problem+json"
    assert other.api("get", "/api/v1/taxonomy").status_code == 200, "another token has its own budget"
