"""deploy/haproxy.cfg run for real: Debian's haproxy (`make /usr/sbin/haproxy`, part of
`make install-test`) in front of two real gunicorn pools of the app, as docker-compose runs them
(`--proxy-protocol v1`), and real HTTP sent through it.

The committed file is run with only its addresses changed (docker's `web:8000` and `web-intake:8000`
become free local ports, `bind :8000` a free local port): every acl and use_backend is the file's own.
Which pool answered is read from each pool's own gunicorn access log; each request carries a marker
in its query string (HAProxy's `path` ignores it). The client connects from 127.0.0.2/127.0.0.3 while
HAProxy connects to gunicorn from 127.0.0.1, so an access-log address or a login throttle that holds
per address shows the client's address came through the PROXY protocol.

Each pool's access log also records the X-Forwarded-Proto the app received (Django's
SECURE_PROXY_SSL_HEADER reads it): the router sets it from its own connection, over plain HTTP and
over TLS (the rendering adds one `ssl crt` bind with a throw-away certificate), whatever the client
sent. A second HAProxy runs the same file with its server names kept and its `resolvers` pointed at a
small local DNS server standing in for Docker's: it starts while a name does not resolve, and follows
a name to its new address while running.

Skipped only when haproxy is missing outside CI (.ci/run sets TRIAGE_TEST_SERVICES=require, CI
services set CI): there it fails instead.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
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


def render_config(*, bind: int, pages: int, intake: int, tls: tuple[int, Path] | None = None,
                  names: str = "", dns: int = 0) -> str:  # fmt: skip
    """The committed config with only its addresses replaced (each must be there once): the servers'
    names become 127.0.0.1, or `<name>.<names>` when `names` is given (resolved by the DNS server on
    port `dns` instead of Docker's); `tls` adds a TLS bind (port, certificate)."""
    text = CONFIG.read_text()
    bind_lines = f"bind 127.0.0.1:{bind}\n"
    if tls:
        bind_lines += f"    bind 127.0.0.1:{tls[0]} ssl crt {tls[1]}\n"
    pages_addr, intake_addr = (f"web.{names}", f"web-intake.{names}") if names else ("127.0.0.1", "127.0.0.1")
    replacements = [("bind :8000\n", bind_lines), (" web:8000 ", f" {pages_addr}:{pages} "),
                    (" web-intake:8000 ", f" {intake_addr}:{intake} ")]  # fmt: skip
    if dns:
        replacements.append((" 127.0.0.11:53\n", f" 127.0.0.1:{dns}\n"))
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} is not once in {CONFIG}: update the test's rendering"
        text = text.replace(old, new)
    return text


def _self_signed(folder: Path) -> Path:
    """A throw-away certificate and key in one PEM file, as HAProxy's `crt` takes them."""
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=localhost", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)  # fmt: skip
    pem = folder / "router.pem"
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    return pem


def _start_haproxy(folder: Path, name: str, config: str, procs: list[subprocess.Popen], port: int) -> str:
    """Checks and starts HAProxy on `config`; its check output (warnings included)."""
    cfg = folder / f"{name}.cfg"
    cfg.write_text(config)
    check = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    out = folder / f"{name}.log"
    with out.open("wb") as sink:
        procs.append(subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stdout=sink, stderr=subprocess.STDOUT,
                                      start_new_session=True))  # fmt: skip
    _wait_listening(port, procs[-1], out)
    return check.stdout + check.stderr


@dataclass
class Router:
    port: int
    logs: dict[str, Path]  # pool -> its gunicorn access log
    tls_port: int = 0
    backends: dict[str, int] | None = None  # pool -> its gunicorn port
    folder: Path | None = None

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

    def forwarded_proto(self, marker: str) -> list[str]:
        """The X-Forwarded-Proto the app received with the request carrying this marker."""
        self.pool_of(marker)  # waits for the line
        return [line.rsplit(" ", 1)[1] for log in self.logs.values() for line in log.read_text().splitlines()
                if marker in line]  # fmt: skip

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
                   "--access-logfile", str(logs[pool]),
                   "--access-logformat", '%(h)s "%(r)s" %(s)s %({x-forwarded-proto}i)s',
                   "--error-logfile", str(err)]  # fmt: skip
            procs.append(subprocess.Popen(cmd, cwd=ROOT, env={**env, "GUNICORN_BIND": f"127.0.0.1:{ports[pool]}"},
                                          start_new_session=True))  # fmt: skip
            _wait_listening(ports[pool], procs[-1], err)
        port, tls_port = _free_port(), _free_port()
        config = render_config(bind=port, pages=ports["pages"], intake=ports["intake"],
                               tls=(tls_port, _self_signed(folder)))  # fmt: skip
        checked = _start_haproxy(folder, "haproxy", config, procs, port)
        assert "[WARNING]" not in checked, checked
        _wait_listening(tls_port, procs[-1], folder / "haproxy.log")
        yield Router(port=port, logs=logs, tls_port=tls_port, backends=ports, folder=folder)
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


@pytest.mark.parametrize("claimed", [None, "https", "https, https", "HTTPS"])
def test_the_app_is_told_plain_http_whatever_the_client_claims(router, claimed):
    """A client on plain HTTP that sends X-Forwarded-Proto: https must not make Django think the
    request is secure (secure cookies, HSTS and the redirect would trust it). Django reads the first
    comma-separated value, so an appended value would not do either: the app sees exactly `http`."""
    marker = f"probe-{uuid.uuid4().hex}"
    headers = {"X-Forwarded-Proto": claimed} if claimed else {}
    status, _, _ = router.request("GET", f"{reverse('login')}?{marker}=1", headers=headers)
    assert status == 200
    assert router.forwarded_proto(marker) == ["http"]


def test_the_app_is_told_https_when_the_router_terminates_tls(router):
    """The same rule is not a constant: on the TLS bind the header says https, and a client's
    `http` there changes nothing either."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    for claimed in (None, "http"):
        marker = f"probe-{uuid.uuid4().hex}"
        conn = http.client.HTTPSConnection("127.0.0.1", router.tls_port, timeout=30, context=context,
                                           source_address=(CLIENT, 0))  # fmt: skip
        try:
            conn.request(
                "GET",
                f"{reverse('login')}?{marker}=1",
                headers={"X-Forwarded-Proto": claimed} if claimed else {},
            )
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200
        finally:
            conn.close()
        assert router.forwarded_proto(marker) == ["https"], claimed
        assert router.pool_of(marker) == [("pages", CLIENT)]


class FakeDns:
    """A DNS server on a local UDP port answering A queries from `names` (a name mapped to None is
    NXDOMAIN; other query types get an empty answer), as Docker's embedded DNS answers a container's
    name with its current address."""

    def __init__(self) -> None:
        self.names: dict[str, str | None] = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.asked: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                packet, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            self.sock.sendto(self.answer(packet), peer)

    def answer(self, packet: bytes) -> bytes:
        query_id, flags = struct.unpack("!HH", packet[:4])
        labels, i = [], 12
        while packet[i]:
            labels.append(packet[i + 1 : i + 1 + packet[i]].decode())
            i += 1 + packet[i]
        qtype = struct.unpack("!H", packet[i + 1 : i + 3])[0]
        question = packet[12 : i + 5]
        name = ".".join(labels).lower()
        self.asked.append(name)
        address = self.names.get(name)
        rcode = 3 if name not in self.names or address is None else 0
        answers = b""
        if rcode == 0 and qtype == 1:
            answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 1, 4) + socket.inet_aton(address)  # type: ignore[arg-type]
        header = struct.pack(
            "!HHHHHH", query_id, 0x8180 | (flags & 0x0100) | rcode, 1, 1 if answers else 0, 0, 0
        )
        return header + question + answers


def _status(port: int, marker: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(CLIENT, 0))
    try:
        conn.request("GET", f"{reverse('login')}?{marker}=1")
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def _until(port: int, want: int, seconds: float = 30) -> str:
    """Polls the router until a request gets `want`; the marker of that request."""
    deadline = time.monotonic() + seconds
    seen = []
    while time.monotonic() < deadline:
        marker = f"probe-{uuid.uuid4().hex}"
        seen.append(_status(port, marker))
        if seen[-1] == want:
            return marker
        time.sleep(0.25)
    raise AssertionError(f"never {want} within {seconds}s: {sorted(set(seen))}")


def test_the_router_starts_before_the_web_containers_and_follows_their_new_addresses(router):
    """docker-compose may start the router before `web` exists, and recreates a container with a
    new address: HAProxy must start anyway (init-addr ... none) and resolve the names again while
    running (the `resolvers` section), not keep the address it found at start."""
    dns = FakeDns()
    procs: list[subprocess.Popen] = []
    domain = "triage-test.invalid"  # never resolved by the system's own resolver (init-addr libc)
    try:
        dns.names = {f"web.{domain}": None, f"web-intake.{domain}": "127.0.0.1"}
        port = _free_port()
        config = render_config(bind=port, pages=router.backends["pages"], intake=router.backends["intake"],
                               names=domain, dns=dns.port)  # fmt: skip
        checked = _start_haproxy(router.folder, "haproxy-dns", config, procs, port)
        assert f"could not resolve address 'web.{domain}'" in checked  # and it starts regardless
        assert _status(port, "not-yet") == 503  # no `web` yet: the pages' server is down

        dns.names[f"web.{domain}"] = "127.0.0.1"  # the container is up
        marker = _until(port, 200)
        assert router.pool_of(marker) == [("pages", CLIENT)]

        dns.names[f"web.{domain}"] = "127.0.0.9"  # recreated elsewhere (nothing listens there)
        _until(port, 503)
        dns.names[f"web.{domain}"] = "127.0.0.1"  # and back
        marker = _until(port, 200)
        assert router.pool_of(marker) == [("pages", CLIENT)]
        assert f"web.{domain}" in dns.asked
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
            proc.wait(timeout=30)
        dns.close()
