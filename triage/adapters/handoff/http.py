"""One HTTP request to an outside service, through the same address check as the webhooks: the
connection goes to the checked address, redirects are not followed, at most 1 MB is read."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import urllib3

from triage.adapters import webhooks as wire
from triage.adapters.handoff import Request, Response, Unreachable

MAX_RESPONSE_BYTES = 1024 * 1024


def send(
    request: Request, *, allow_private: bool, connect_timeout_s: float, read_timeout_s: float
) -> Response:
    """Raises Unreachable (time-out, refused connection) or wire.AddressRefused."""
    target = wire.target_resolve(request.url, allow_private=allow_private)
    parts = urlsplit(request.url)
    timeout = urllib3.Timeout(connect=connect_timeout_s, read=read_timeout_s)
    host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    kwargs: dict = {"timeout": timeout, "retries": False}
    cls: type[urllib3.HTTPConnectionPool]
    if parts.scheme == "https":
        kwargs.update(server_hostname=target.host, assert_hostname=target.host)
        cls = urllib3.HTTPSConnectionPool
    else:
        cls = urllib3.HTTPConnectionPool
    connection = cls(target.address, target.port, maxsize=1, **kwargs)
    started = time.monotonic()
    try:
        response = connection.urlopen(
            request.method,
            target.path,
            body=request.body,
            headers={**request.headers, "host": host_header},
            redirect=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            data = response.read(MAX_RESPONSE_BYTES)
        finally:
            response.release_conn()
        return Response(
            status=response.status, headers={k.lower(): v for k, v in response.headers.items()}, body=data
        )
    except wire.TRANSIENT_ERRORS as exc:
        refused = isinstance(exc, urllib3.exceptions.NewConnectionError)
        kind = (
            "timed out"
            if isinstance(exc, urllib3.exceptions.TimeoutError) and not refused
            else "connection failed"
        )
        waited = time.monotonic() - started
        raise Unreachable(f"{kind} after {waited:.1f} s") from None
    finally:
        connection.close()
