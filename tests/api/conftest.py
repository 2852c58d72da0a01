"""API clients: the test client with a personal token of a given role and scope."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.security.conftest import role_user
from triage.services.api_tokens import api_token_create


class ApiClient(Client):
    """A Client that sends `Authorization: Bearer <token>` and JSON bodies by default."""

    def __init__(self, token: str | None) -> None:
        super().__init__()
        self.token = token
        self.defaults_auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def api(self, method: str, path: str, data=None, **extra):
        extra = {**self.defaults_auth, **extra}
        if method == "get":
            return self.get(path, data or {}, **extra)
        if data is not None and "content_type" not in extra and not isinstance(data, dict | list):
            return getattr(self, method)(path, data, content_type="application/json", **extra)
        if "content_type" not in extra and data is not None and extra.pop("multipart", False) is False:
            return getattr(self, method)(path, data, content_type="application/json", **extra)
        return getattr(self, method)(path, data, **extra)


@pytest.fixture
def api_client(db, taxonomy):
    """api_client(role="agent", scope="write") -> ApiClient signed with a fresh token of that user."""
    made: dict[str, object] = {}

    def make(role: str = "agent", scope: str = "write") -> ApiClient:
        user = made.get(role) or role_user(role, username=f"api-{role}")
        made[role] = user
        created = api_token_create(user=user, name=f"{role} {scope}", scope=scope)
        client = ApiClient(created.plaintext)
        client.user = user
        client.token_row = created.token
        return client

    return make
