"""The REST API under arbitrary parameters: wrong types, unknown fields, odd unicode, huge numbers,
malformed cursors and bodies. Every answer is a 2xx or a 4xx problem, never a 5xx."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import ApiClient
from tests.factories import triaged_ticket
from tests.security.conftest import role_user
from triage.services.api_tokens import api_token_create

pytestmark = pytest.mark.django_db

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
_keys = st.sampled_from(
    [
        "subject",
        "description",
        "requester_email",
        "uploads",
        "action",
        "version",
        "values",
        "assignee",
        "queue",
        "provider",
        "thinking",
        "format",
        "date_from",
        "x",
    ]
)
_bodies = st.one_of(_json, st.dictionaries(_keys, _json, max_size=5))
_params = st.dictionaries(
    st.sampled_from(
        [
            "status",
            "category",
            "priority",
            "queue",
            "channel",
            "confidence_below",
            "created_from",
            "created_to",
            "q",
            "sort",
            "mine",
            "cursor",
            "limit",
            "x",
        ]
    ),
    st.text(max_size=30),
    max_size=5,
)

_SLOW = settings(
    max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@pytest.fixture
def client(db, taxonomy):
    user = role_user("manager", username="fuzz")
    return ApiClient(api_token_create(user=user, name="fuzz", scope="write").plaintext), triaged_ticket()


def _check(response) -> None:
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/problem+json", response.content[:200]
        assert json.loads(response.content)["detail"]


@_SLOW
@given(
    body=_bodies,
    path=st.sampled_from(
        ["/tickets", "/tickets/{id}/review", "/tickets/{id}/assign", "/tickets/{id}/retriage", "/exports"]
    ),
)
def test_any_json_body_is_answered_without_a_server_error(client, body, path):
    api, ticket = client
    raw = json.dumps(body, allow_nan=True)
    _check(api.api("post", "/api/v1" + path.format(id=ticket.id), raw, content_type="application/json"))


@_SLOW
@given(params=_params)
def test_any_list_query_is_answered_without_a_server_error(client, params):
    api, _ = client
    _check(api.api("get", "/api/v1/tickets", params))


@_SLOW
@given(raw=st.binary(max_size=200), ident=st.text(max_size=12))
def test_raw_bytes_and_odd_ids_are_answered_without_a_server_error(client, raw, ident):
    api, _ = client
    _check(api.api("post", "/api/v1/tickets", raw, content_type="application/json"))
    response = api.api("get", "/api/v1/tickets/" + ident.replace("/", "").replace("?", "").replace("#", ""))
    assert response.status_code < 500
