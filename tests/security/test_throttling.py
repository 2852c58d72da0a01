"""Login throttling: after N failures for one username from one address, the login refuses even the
right password for a while and says so; other addresses and other users are not affected."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory
from triage.services.login_throttle import login_failure_record, login_throttle_wait_s

pytestmark = pytest.mark.django_db

TOO_MANY = "Too many failed sign-ins. Try again in"


def _username() -> str:
    # the throttle lives in Redis across test runs: a fresh name per test
    return f"ana-{uuid.uuid4().hex[:8]}"


def _login(client: Client, username: str, password: str, *, ip: str = "10.0.0.1", url: str = ""):
    return client.post(url or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


@override_settings(TRIAGE_LOGIN_MAX_FAILURES=3, TRIAGE_LOGIN_WINDOW_S=600)
def test_after_n_failures_even_the_right_password_is_refused_with_the_wait(client):
    username = _username()
    UserFactory(username=username)
    for _ in range(3):
        response = _login(client, username, "wrong")
        assert response.status_code == 200 and TOO_MANY not in response.content.decode()
    response = _login(client, username, PASSWORD)
    page = response.content.decode()
    assert response.status_code == 429 and f"{TOO_MANY} 10 minutes." in page
    assert response["Retry-After"] == "600"
    assert "_auth_user_id" not in client.session
    # another address, and another user from the same address, still sign in
    assert _login(Client(), username, PASSWORD, ip="10.0.0.2").status_code == 302
    other = _username()
    UserFactory(username=other)
    assert _login(Client(), other, PASSWORD).status_code == 302


@override_settings(TRIAGE_LOGIN_MAX_FAILURES=3, TRIAGE_LOGIN_WINDOW_S=600)
def test_a_success_before_the_limit_clears_the_count(client):
    username = _username()
    UserFactory(username=username)
    for _ in range(2):
        _login(client, username, "wrong")
    assert _login(client, username, PASSWORD).status_code == 302
    for _ in range(2):
        _login(Client(), username, "wrong")
    assert _login(Client(), username, PASSWORD).status_code == 302  # 2 new failures, not 4


@override_settings(TRIAGE_LOGIN_MAX_FAILURES=2, TRIAGE_LOGIN_WINDOW_S=300)
def test_the_wait_ends_when_the_oldest_failure_leaves_the_window():
    username, ip = _username(), "10.0.0.9"
    login_failure_record(username=username, ip=ip, now=1000.0)
    assert login_throttle_wait_s(username=username, ip=ip, now=1001.0) == 0
    login_failure_record(username=username, ip=ip, now=1100.0)
    assert login_throttle_wait_s(username=username, ip=ip, now=1101.0) == 199
    assert login_throttle_wait_s(username=username.upper(), ip=ip, now=1101.0) == 199  # case-blind
    assert login_throttle_wait_s(username=username, ip=ip, now=1300.0) == 0


@override_settings(TRIAGE_LOGIN_MAX_FAILURES=2, TRIAGE_LOGIN_WINDOW_S=120)
def test_the_admin_login_is_throttled_too(client):
    username = _username()
    UserFactory(username=username, is_staff=True, is_superuser=True)
    for _ in range(2):
        _login(client, username, "wrong", url=reverse("admin:login"))
    response = _login(client, username, PASSWORD, url=reverse("admin:login"))
    assert response.status_code == 200 and f"{TOO_MANY} 2 minutes." in response.content.decode()
