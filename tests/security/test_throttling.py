"""Sign-in and password-reset throttling (services/login_throttle.py).

The concurrency tests post over real HTTP to the live server from many threads at once, and count
the password checks with an authentication backend that takes as long as a real hash (so the
requests really overlap). The per-username test connects from different loopback addresses: the
app takes the client address from the socket (REMOTE_ADDR), never from a header.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
import urllib.parse
import uuid

import pytest
from django.contrib.auth.backends import ModelBackend
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory

TOO_MANY = "Too many failed sign-ins. Try again in"
CHECK_S = 0.3  # about what a real PBKDF2 check costs; the tests use MD5 for speed


class CountingBackend(ModelBackend):
    """ModelBackend that counts its password checks and takes CHECK_S for each."""

    checks = 0
    lock = threading.Lock()

    def authenticate(self, request, username=None, password=None, **kwargs):  # noqa: ANN001, ANN201
        with CountingBackend.lock:
            CountingBackend.checks += 1
        time.sleep(CHECK_S)
        return super().authenticate(request, username=username, password=password, **kwargs)


@pytest.fixture
def counting_backend(settings):
    settings.AUTHENTICATION_BACKENDS = ["tests.security.test_throttling.CountingBackend"]
    CountingBackend.checks = 0
    return CountingBackend


@pytest.fixture(params=["redis", "database"])
def counter_store(request, settings) -> str:
    """Every throttle test runs on both stores: Redis (production) and the database (embedded)."""
    if request.param == "redis":
        if not settings.SERVICES_AVAILABLE:
            pytest.skip("Redis not reachable")
        settings.TRIAGE_LIMITS_REDIS_URL = settings.CELERY_BROKER_URL
    else:
        settings.TRIAGE_LIMITS_REDIS_URL = ""
    return request.param


def _username() -> str:
    # Redis keeps counters across test runs: a fresh name per test
    return f"ana-{uuid.uuid4().hex[:8]}"


class Browser:
    """One client over real HTTP from a chosen local address: GET the form, then POST it."""

    def __init__(self, base_url: str, *, source_ip: str = "127.0.0.1") -> None:
        parsed = urllib.parse.urlsplit(base_url)
        self.host, self.port, self.source_ip = parsed.hostname, parsed.port, source_ip
        self.cookie = ""
        self.token = ""

    def _conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(
            self.host, self.port, timeout=30, source_address=(self.source_ip, 0)
        )

    def open(self, path: str) -> None:
        conn = self._conn()
        conn.request("GET", path)
        response = conn.getresponse()
        page = response.read().decode()
        cookie = response.getheader("Set-Cookie") or ""
        self.cookie = cookie.split(";", 1)[0]
        self.token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
        conn.close()

    def post(self, path: str, fields: dict[str, str]) -> int:
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": self.token, **fields})
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": self.cookie}
        conn = self._conn()
        conn.request("POST", path, body=body, headers=headers)
        status = conn.getresponse().status
        conn.close()
        return status


def _parallel_sign_ins(base_url: str, path: str, username: str, passwords: list[str]) -> list[int]:
    """Every attempt fetches its form first, then all post at the same moment."""
    browsers = [Browser(base_url) for _ in passwords]
    for browser in browsers:
        browser.open(path)
    barrier = threading.Barrier(len(passwords))
    statuses: list[int] = [0] * len(passwords)

    def attempt(i: int) -> None:
        barrier.wait()
        statuses[i] = browsers[i].post(path, {"username": username, "password": passwords[i]})

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(passwords))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


@pytest.mark.parametrize("page", ["login", "admin:login"])
@override_settings(TRIAGE_LOGIN_MAX_FAILURES=5, TRIAGE_LOGIN_WINDOW_S=600)
def test_twenty_parallel_sign_ins_from_one_address_check_at_most_five_passwords(
    page, counter_store, counting_backend, live_server, transactional_db
):
    username = _username()
    UserFactory(username=username, is_staff=True, is_superuser=True)
    passwords = ["wrong"] * 19 + [PASSWORD]
    passwords.insert(7, passwords.pop())  # the right one among the others, not last

    statuses = _parallel_sign_ins(live_server.url, reverse(page), username, passwords)

    assert counting_backend.checks <= 5, f"{counting_backend.checks} passwords checked"
    assert statuses.count(429 if page == "login" else 200) >= 15  # the admin page answers 200 with the error
    assert statuses.count(302) <= 1


@override_settings(
    TRIAGE_LOGIN_MAX_FAILURES=5, TRIAGE_LOGIN_MAX_FAILURES_PER_USER=6, TRIAGE_LOGIN_WINDOW_S=600
)
def test_the_per_username_limit_holds_across_addresses(
    counter_store, counting_backend, live_server, transactional_db
):
    username, other = _username(), _username()
    UserFactory(username=username)
    UserFactory(username=other)
    path = reverse("login")
    for n in range(3):  # three addresses, two guesses each: no single address reaches its 5
        browser = Browser(live_server.url, source_ip=f"127.0.0.{10 + n}")
        for _ in range(2):
            browser.open(path)
            assert browser.post(path, {"username": username, "password": "wrong"}) == 200
    checks = counting_backend.checks
    fresh = Browser(live_server.url, source_ip="127.0.0.20")
    fresh.open(path)
    assert fresh.post(path, {"username": username, "password": PASSWORD}) == 429
    assert counting_backend.checks == checks  # refused without checking the password
    fresh.open(path)
    assert fresh.post(path, {"username": other, "password": PASSWORD}) == 302  # other users are unaffected


def _login(client: Client, username: str, password: str, *, ip: str = "10.0.0.1", url: str = ""):
    return client.post(url or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.mark.django_db
@override_settings(TRIAGE_LOGIN_MAX_FAILURES=3, TRIAGE_LOGIN_WINDOW_S=600)
def test_after_n_failures_even_the_right_password_is_refused_with_the_wait(client, counter_store):
    username = _username()
    UserFactory(username=username)
    for _ in range(3):
        response = _login(client, username, "wrong")
        assert response.status_code == 200 and TOO_MANY not in response.content.decode()
    response = _login(client, username, PASSWORD)
    page = response.content.decode()
    assert response.status_code == 429 and f"{TOO_MANY} 10 minutes." in page
    assert 590 <= int(response["Retry-After"]) <= 600
    assert "_auth_user_id" not in client.session
    # another address, and another user from the same address, still sign in
    assert _login(Client(), username, PASSWORD, ip="10.0.0.2").status_code == 302
    other = _username()
    UserFactory(username=other)
    assert _login(Client(), other, PASSWORD).status_code == 302


@pytest.mark.django_db
@override_settings(TRIAGE_LOGIN_MAX_FAILURES=3, TRIAGE_LOGIN_WINDOW_S=600)
def test_a_success_before_the_limit_clears_the_count(client, counter_store):
    username = _username()
    UserFactory(username=username)
    for _ in range(2):
        _login(client, username, "wrong")
    assert _login(client, username, PASSWORD).status_code == 302
    for _ in range(2):
        _login(Client(), username, "wrong")
    assert _login(Client(), username, PASSWORD).status_code == 302  # 2 new failures, not 4


@pytest.mark.django_db
@override_settings(
    TRIAGE_LOGIN_MAX_FAILURES=2, TRIAGE_LOGIN_MAX_ATTEMPTS_PER_ADDRESS=4, TRIAGE_LOGIN_WINDOW_S=600
)
def test_one_address_trying_many_usernames_is_refused(client, counter_store):
    names = [_username() for _ in range(5)]
    for name in names[:4]:
        assert _login(Client(), name, "wrong", ip="10.9.9.9").status_code == 200
    assert _login(Client(), names[4], "wrong", ip="10.9.9.9").status_code == 429


@pytest.mark.django_db
@override_settings(TRIAGE_LOGIN_MAX_FAILURES=2, TRIAGE_LOGIN_WINDOW_S=120)
def test_the_admin_login_is_throttled_too(client, counter_store):
    username = _username()
    UserFactory(username=username, is_staff=True, is_superuser=True)
    for _ in range(2):
        _login(client, username, "wrong", url=reverse("admin:login"))
    response = _login(client, username, PASSWORD, url=reverse("admin:login"))
    assert response.status_code == 200 and f"{TOO_MANY} 2 minutes." in response.content.decode()


@pytest.mark.django_db
@override_settings(TRIAGE_PASSWORD_RESET_MAX_PER_EMAIL=2, TRIAGE_PASSWORD_RESET_WINDOW_S=3600)
def test_password_reset_requests_are_counted_before_any_email_goes_out(client, counter_store):
    user = UserFactory(username=_username(), email=f"{uuid.uuid4().hex[:8]}@example.com")
    for n in range(2):
        response = client.post(reverse("password_reset"), {"email": user.email}, REMOTE_ADDR=f"10.1.0.{n}")
        assert response.status_code == 302
    assert len(mail.outbox) == 2
    response = client.post(reverse("password_reset"), {"email": user.email.upper()}, REMOTE_ADDR="10.1.0.9")
    assert response.status_code == 429 and "Too many password-reset requests" in response.content.decode()
    assert len(mail.outbox) == 2


@pytest.mark.django_db
@override_settings(TRIAGE_PASSWORD_RESET_MAX_PER_ADDRESS=3, TRIAGE_PASSWORD_RESET_WINDOW_S=3600)
def test_password_reset_from_one_address_for_many_emails_is_refused(client, counter_store):
    for n in range(3):
        response = client.post(reverse("password_reset"), {"email": f"n{n}-{uuid.uuid4().hex}@x.com"})
        assert response.status_code == 302
    response = client.post(reverse("password_reset"), {"email": f"last-{uuid.uuid4().hex}@x.com"})
    assert response.status_code == 429
