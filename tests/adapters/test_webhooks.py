from __future__ import annotations

import json
import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError
from werkzeug import Response

from triage.adapters import webhooks as wire

BODY = json.dumps({"type": "ticket.created", "data": {"ticket": {"id": 1}}}).encode()


def test_signature_verifies_with_the_reference_implementation():
    secret = wire.secret_new()
    assert secret.startswith("whsec_")
    now = int(time.time())
    headers = wire.signed_headers(secrets_=[secret], msg_id="msg_1", timestamp=now, body=BODY)
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(BODY, headers)["type"] == "ticket.created"
    with pytest.raises(WebhookVerificationError):
        Webhook(wire.secret_new()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY + b" ", headers)


def test_during_a_rotation_both_secrets_sign_space_separated():
    old, new = wire.secret_new(), wire.secret_new()
    headers = wire.signed_headers(secrets_=[new, old], msg_id="msg_2", timestamp=int(time.time()), body=BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(BODY, headers) and Webhook(new).verify(BODY, headers)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://metadata.google.internal/computeMetadata/v1/",
        "ftp://example.com/hook",
        "http://user:pass@example.com/hook",
    ],
)
def test_private_loopback_link_local_and_metadata_addresses_are_refused(url):
    with pytest.raises(wire.AddressRefused):
        wire.target_resolve(url, allow_private=False)


def test_a_public_address_passes_and_the_setting_allows_local_ones():
    target = wire.target_resolve("https://93.184.216.34:8443/in?x=1", allow_private=False)
    assert (target.address, target.port, target.path) == ("93.184.216.34", 8443, "/in?x=1")
    assert wire.target_resolve("http://127.0.0.1:9/hook", allow_private=True).address == "127.0.0.1"


def test_post_reads_at_most_64_kb_and_keeps_an_excerpt(httpserver):
    httpserver.expect_request("/big", method="POST").respond_with_data("x" * 1_000_000, status=200)
    target = wire.target_resolve(httpserver.url_for("/big"), allow_private=True)
    result = wire.post(target, headers={}, body=b"{}", connect_timeout_s=2, read_timeout_s=2, max_bytes=65536)
    assert result.ok and len(result.excerpt) == wire.EXCERPT_CHARS


def test_post_times_out_and_says_so(httpserver):
    def slow(request):
        time.sleep(0.6)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    target = wire.target_resolve(httpserver.url_for("/slow"), allow_private=True)
    result = wire.post(target, headers={}, body=b"{}", connect_timeout_s=1, read_timeout_s=0.3)
    assert not result.ok and result.status_code is None and "timed out" in result.error
    time.sleep(0.5)  # the test server is single-threaded: let the slow answer finish first


def test_post_does_not_follow_redirects(httpserver):
    httpserver.expect_request("/moved").respond_with_data(
        "", status=302, headers={"Location": "http://169.254.169.254/"}
    )
    target = wire.target_resolve(httpserver.url_for("/moved"), allow_private=True)
    result = wire.post(target, headers={}, body=b"{}", connect_timeout_s=1, read_timeout_s=1)
    assert result.status_code == 302 and not result.ok


def test_connection_refused_is_an_error_not_an_exception():
    target = wire.Target(scheme="http", host="127.0.0.1", port=9, path="/", address="127.0.0.1")
    result = wire.post(target, headers={}, body=b"{}", connect_timeout_s=0.5, read_timeout_s=0.5)
    assert result.status_code is None and "connection failed" in result.error


@pytest.fixture
def keepalive_server():
    """An HTTP/1.1 receiver that records the client port of each request (one port: one
    connection); /big answers more than the read cap."""
    import contextlib
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    ports: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length", 0)))
            if self.path == "/drop-second" and self.client_address[1] in ports:
                # a receiver closing its idle keep-alive connection just as the next POST arrives
                self.close_connection = True
                return
            ports.append(self.client_address[1])
            body = b"x" * (wire.MAX_RESPONSE_BYTES * 2) if self.path == "/big" else b"ok"
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client stopped reading at its cap and closed
                self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    wire.pools_clear()
    yield f"http://127.0.0.1:{server.server_port}", ports
    wire.pools_clear()
    server.shutdown()


def test_posts_to_one_receiver_reuse_a_kept_alive_connection(keepalive_server):
    base, ports = keepalive_server
    target = wire.target_resolve(f"{base}/hook", allow_private=True)
    for _ in range(3):
        assert wire.post(target, headers={}, body=b"{}", connect_timeout_s=1, read_timeout_s=1).ok
    assert len(ports) == 3 and len(set(ports)) == 1, "one connection for the three"


def test_a_connection_whose_answer_was_cut_at_the_cap_is_not_reused(keepalive_server):
    base, ports = keepalive_server
    big = wire.target_resolve(f"{base}/big", allow_private=True)
    small = wire.target_resolve(f"{base}/hook", allow_private=True)
    result = wire.post(big, headers={}, body=b"{}", connect_timeout_s=1, read_timeout_s=1)
    assert result.ok and len(result.excerpt) == wire.EXCERPT_CHARS
    assert wire.post(small, headers={}, body=b"{}", connect_timeout_s=1, read_timeout_s=1).ok
    assert len(ports) == 2 and ports[0] != ports[1], "the unread rest never reaches the next answer"


def test_a_kept_alive_connection_the_receiver_closed_is_retried_once_on_a_new_one(keepalive_server):
    base, ports = keepalive_server
    target = wire.target_resolve(f"{base}/drop-second", allow_private=True)
    assert wire.post(target, headers={}, body=b"{}", connect_timeout_s=1, read_timeout_s=1).ok
    second = wire.post(target, headers={}, body=b"{}", connect_timeout_s=1, read_timeout_s=1)
    assert second.ok, second.error
    assert len(ports) == 2 and ports[0] != ports[1], "answered on a second connection"
