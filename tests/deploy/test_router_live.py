"""deploy/haproxy.cfg run for real: Debian's haproxy (`make /usr/sbin/haproxy`, part of
`make install-test`) in front of two real gunicorn pools of the app, as docker-compose runs them
(`--proxy-protocol v1`), and real HTTP sent through it.

The committed file is run with only its addresses changed (docker's `web:8000` and `web-intake:8000`
become free local ports, `bind :8000` a free local port): every acl and use_backend is the file's own.
Which pool answered is read from each pool's own gunicorn access log; each request carries a marker
in its query string (HAProxy's `path` ignores it). The client connects from 127.0.0.2/127.0.0.3 while
HAProxy connects to gunicorn from 127.0.0.1, so an access-log address or a login throttle that holds
per address shows the client's address came through the PROXY protocol.

Skipped only when haproxy is missing outside CI (.ci/run sets TRIAGE_TEST_SERVICES=require, CI
services set CI): there it fails instead.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from triage.views import inbound_email

ROOT = Path(__file__).resolve().parent.parent.parent
CONFIG = ROOT / "deploy" / "haproxy.cfg"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
IN_CI = os.environ.get("TRIAGE_TEST_SERVICES") == "require" or bool(os.environ.get("CI"))
CLIENT, OTHER_CLIENT = "127.0.0.2", "127.0.0.3"  # HAProxy itself reaches gunicorn from 127.0.0.1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}:\n{log.read_text()}")


def render_config(*, bind: int, pages: int, intake: int) -> str:
    """The committed config with only its three addresses replaced (each must be there once)."""
    text = CONFIG.read_text()
    for old, new in (("bind :8000\n", f"bind 127.0.0.1:{bind}\n"), (" web:8000 ", f" 127.0.0.1:{pages} "),
                     (" web-intake:8000 ", f" 127.0.0.1:{intake} ")):  # fmt: skip
        assert text.count(old) == 1, f"{old!r} is not once in {CONFIG}: update the test's rendering"
        text = text.replace(old, new)
    return text


@dataclass
class Router:
    port: int
    logs: dict[str, Path]  # pool -> its gunicorn access log

    def request(self, method: str, path: str, *, source: str = CLIENT, body: bytes = b"",
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:  # fmt: skip
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=(source, 0))
        try:
            conn.request(method, path, body=body or None, headers=headers or {})
            resp = conn.getresponse()
            return (
                resp.status,
                {k.lower(): v for k, v in resp.getheaders()},
                resp.read().decode(errors="replace"),
            )
        finally:
            conn.close()

    def pool_of(self, marker: str) -> list[tuple[str, str]]:
        """(pool, client address) of every access-log line with this marker, once one is written."""
        deadline = time.monotonic() + 10
        while True:
            found = [
                (pool, line.split(" ", 1)[0])
                for pool, log in self.logs.items()
                for line in log.read_text().splitlines()
                if marker in line
            ]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    if not Path(HAPROXY).exists():
        if IN_CI:
            pytest.fail("haproxy is needed for the router test: make /usr/sbin/haproxy")
        pytest.skip("haproxy is not installed (make /usr/sbin/haproxy)")
    folder = tmp_path_factory.mktemp("router")
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PYTEST_", "GUNICORN_", "DJANGO_SETTINGS"))
        },
        "DJANGO_SETTINGS_MODULE": "triage.settings",
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{folder / 'triage.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",  # so the throttle counts in the (shared) database
        "TRIAGE_LIMITS_REDIS_URL": "",
        "TRIAGE_VAR_DIR": str(folder),
        "MEDIA_ROOT": str(folder / "media"),
        "TRIAGE_PROVIDER": "local",
        "TRIAGE_THROTTLE_KEY_PREFIX": f"router-{uuid.uuid4().hex}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_LOG_LEVEL": "warning",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    procs: list[subprocess.Popen] = []
    try:
        ports: dict[str, int] = {}
        logs: dict[str, Path] = {}
        for pool, module in (("pages", "triage.gunicorn_conf"), ("intake", "triage.gunicorn_intake_conf")):
            ports[pool], logs[pool] = _free_port(), folder / f"{pool}-access.log"
            logs[pool].touch()
            err = folder / f"{pool}-error.log"
            # the flags of docker-compose.yml's `web` / `web-intake` commands
            cmd = [sys.executable, "-m", "gunicorn", "triage.wsgi", "-c", f"python:{module}",
                   "--proxy-protocol", "v1", "--proxy-allow-from", "*",
                   "--access-logfile", str(logs[pool]), "--access-logformat", '%(h)s "%(r)s" %(s)s',
                   "--error-logfile", str(err)]  # fmt: skip
            procs.append(subprocess.Popen(cmd, cwd=ROOT, env={**env, "GUNICORN_BIND": f"127.0.0.1:{ports[pool]}"},
                                          start_new_session=True))  # fmt: skip
            _wait_listening(ports[pool], procs[-1], err)
        port = _free_port()
        cfg = folder / "haproxy.cfg"
        cfg.write_text(render_config(bind=port, pages=ports["pages"], intake=ports["intake"]))
        check = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "[WARNING]" not in check.stdout + check.stderr, check.stdout + check.stderr
        out = folder / "haproxy.log"
        with out.open("wb") as sink:
            procs.append(subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stdout=sink, stderr=subprocess.STDOUT,
                                          start_new_session=True))  # fmt: skip
        _wait_listening(port, procs[-1], out)
        yield Router(port=port, logs=logs)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
        for proc in procs:
            proc.wait(timeout=30)


def _intake_posts() -> list[str]:
    providers = ["/" + str(p.pattern) for p in inbound_email.provider_urlpatterns()]
    assert providers, "no inbound email provider enabled: nothing to check"
    return [reverse("triage:email-inbound-raw"), reverse("triage:ticket-create"), reverse("triage:ticket-upload"),
            reverse("api:ticket_list"), reverse("triage:hook-github"), *providers]  # fmt: skip


def _landed(router: Router, method: str, path: str) -> list[tuple[str, str]]:
    marker = f"probe-{uuid.uuid4().hex}"
    # a header a client could set never stands for its address (only the PROXY protocol does)
    status, _, _ = router.request(method, f"{path}?{marker}=1", body=b"{}" if method == "POST" else b"",
                                  headers={"X-Forwarded-For": "10.9.9.9", "X-Real-IP": "10.9.9.9"})  # fmt: skip
    assert status < 500, (method, path, status)  # the app answered it (a refusal is fine: no secret)
    return router.pool_of(marker)


def test_every_post_that_brings_work_in_reaches_the_intake_pool_with_the_clients_address(router):
    for path in _intake_posts():
        assert _landed(router, "POST", path) == [("intake", CLIENT)], path


def test_each_request_of_one_kept_alive_connection_is_routed_on_its_own(router):
    """A browser reuses its connection: the form's page, then its post, then a page again. HAProxy
    (option http-keep-alive) must route each request, not the connection's first."""
    form = reverse("triage:ticket-create")
    sequence = [("GET", form, "pages"), ("POST", form, "intake"), ("GET", form, "pages"),
                ("POST", reverse("api:ticket_list"), "intake"), ("GET", reverse("login"), "pages")]  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=30, source_address=(CLIENT, 0))
    markers = []
    try:
        for method, path, _ in sequence:
            markers.append(f"probe-{uuid.uuid4().hex}")
            conn.request(method, f"{path}?{markers[-1]}=1", body=b"{}" if method == "POST" else None)
            resp = conn.getresponse()
            resp.read()
            assert resp.status < 500 and not resp.will_close, (method, path, resp.status)
        client_port = conn.sock.getsockname()[1]  # still the first connection: nothing reconnected
    finally:
        conn.close()
    assert client_port
    assert [router.pool_of(m) for m in markers] == [[(pool, CLIENT)] for _, _, pool in sequence]


@pytest.mark.parametrize(
    ("method", "name", "kwargs"),
    [
        ("GET", "triage:review-queue", {}),
        ("GET", "triage:ticket-create", {}),  # the form page; only its post is intake
        ("GET", "triage:ticket-detail", {"ticket_id": 7}),
        ("POST", "triage:ticket-action", {"ticket_id": 7}),
        ("GET", "triage:email-quarantine", {}),
        ("POST", "triage:email-quarantine", {}),  # looks like a provider's path, is a page
        ("POST", "triage:email-retry", {"inbound_email_id": 3}),
        ("GET", "login", {}),
        ("POST", "login", {}),
    ],
)
def test_pages_and_a_persons_actions_reach_the_page_pool(router, method, name, kwargs):
    assert _landed(router, method, reverse(name, kwargs=kwargs)) == [("pages", CLIENT)]


def _login(router: Router, *, source: str, username: str, spoof: str = "") -> tuple[int, str]:
    """One failed sign-in through the router from `source` as a browser makes it: the form's page,
    then its post, on one kept-alive connection. Its status and page."""
    conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=30, source_address=(source, 0))
    try:
        conn.request("GET", reverse("login"))
        resp = conn.getresponse()
        page = resp.read().decode()
        cookie = re.search(r"csrftoken=([^;]+)", resp.getheader("Set-Cookie") or "")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert resp.status == 200 and cookie and token, resp.getheaders()
        body = urlencode({"username": username, "password": "wrong", "csrfmiddlewaretoken": token[1]})
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={cookie[1]}"}
        if spoof:
            headers |= {"X-Forwarded-For": spoof, "X-Real-IP": spoof}
        conn.request("POST", reverse("login"), body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def test_the_login_throttle_counts_by_the_real_clients_address(router):
    """5 failures (TRIAGE_LOGIN_MAX_FAILURES) of one username from one client lock that client out;
    another client behind the same router still gets its password checked. Were the router's own
    address (127.0.0.1) what the app saw, both would share one count."""
    username = f"probe-{uuid.uuid4().hex[:8]}"
    for _ in range(5):
        status, page = _login(router, source=CLIENT, username=username)
        assert (status, "Too many" in page, "correct username and password" in page) == (200, False, True)
    status, page = _login(router, source=CLIENT, username=username)
    assert (status, "Too many" in page) == (429, True)
    status, page = _login(router, source=CLIENT, username=username, spoof=OTHER_CLIENT)
    assert (status, "Too many" in page) == (429, True)  # a header naming another address changes nothing
    status, page = _login(router, source=OTHER_CLIENT, username=username)
    assert (status, "Too many" in page, "correct username and password" in page) == (200, False, True)
