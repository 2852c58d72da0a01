"""Outbound webhooks, the pure part: Standard Webhooks signatures, the address check, one POST.

Signing (https://www.standardwebhooks.com): the secret is `whsec_` + base64 of random bytes; the
signature is `v1,` + base64(HMAC-SHA256(secret bytes, f"{id}.{timestamp}.{body}")); several
signatures (a rotation's old and new secret) are separated by spaces.

The POST connects to the address that passed the check, not to a second DNS answer (a name that
resolves to a public address for the check and to 127.0.0.1 for the connection is refused), reads
at most `max_bytes` of the answer and never follows a redirect.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's marker, not a secret
MAX_RESPONSE_BYTES = 64 * 1024
EXCERPT_CHARS = 500

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (urllib3.exceptions.HTTPError, OSError)

# cloud metadata services answer on link-local (169.254.169.254) and these, refused by name too
_METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})


def secret_new() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(*, secrets_: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "Triage-Webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret=s, msg_id=msg_id, timestamp=timestamp, body=body) for s in secrets_
        ),
    }


class AddressRefused(Exception):
    """The URL may not be called: bad scheme, or it resolves to a private or local address."""


def _refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"))
    )


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the checked IP to connect to


def target_resolve(url: str, *, allow_private: bool) -> Target:
    """Where a POST to `url` goes. Raises AddressRefused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AddressRefused("only http and https URLs with a host name can receive webhooks")
    if parts.username or parts.password:
        raise AddressRefused("credentials in the URL are not allowed")
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if not allow_private and host.lower().rstrip(".") in _METADATA_HOSTS:
        raise AddressRefused(f"{host} is a cloud metadata service")
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"{host} does not resolve ({exc})") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not allow_private:
        bad = [str(a) for a in addresses if _refused(a)]
        if bad:
            raise AddressRefused(
                f"{host} resolves to a loopback, private, link-local or metadata address ({bad[0]})"
            )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=parts.scheme, host=host, port=port, path=path, address=str(addresses[0]))


@dataclass(frozen=True)
class PostResult:
    status_code: int | None
    latency_ms: int
    excerpt: str
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


# Keep-alive pools, one per checked address, port and host name (the TLS name): a connection is
# only ever reused for the address that passed the check. Bounded; the oldest is closed first.
POOL_LIMIT = 64
POOL_CONNECTIONS = 16
_pools: dict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = {}
_pools_lock = threading.Lock()


def _pool(target: Target) -> urllib3.HTTPConnectionPool:
    key = (target.scheme, target.address, target.port, target.host)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            if len(_pools) >= POOL_LIMIT:
                _pools.pop(next(iter(_pools))).close()
            kwargs: dict = {"maxsize": POOL_CONNECTIONS, "block": False, "retries": False}
            if target.scheme == "https":
                kwargs.update(server_hostname=target.host, assert_hostname=target.host)
                pool = urllib3.HTTPSConnectionPool(target.address, target.port, **kwargs)
            else:
                pool = urllib3.HTTPConnectionPool(target.address, target.port, **kwargs)
            _pools[key] = pool
        return pool


def pools_clear() -> None:
    """Close every kept-alive connection (tests; a worker after a fork)."""
    with _pools_lock:
        while _pools:
            _pools.popitem()[1].close()


def post(
    target: Target,
    *,
    headers: dict[str, str],
    body: bytes,
    connect_timeout_s: float,
    read_timeout_s: float,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> PostResult:
    """POST once, on a kept-alive connection to the checked address when there is one; never
    raises for network trouble (it is in `error`)."""
    timeout = urllib3.Timeout(connect=connect_timeout_s, read=read_timeout_s)
    host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    started = time.monotonic()
    try:
        for attempt in (1, 2):
            try:
                response = _pool(target).urlopen(
                    "POST",
                    target.path,
                    body=body,
                    headers={**headers, "host": host_header},
                    timeout=timeout,
                    retries=False,
                    redirect=False,
                    preload_content=False,
                    assert_same_host=False,
                )
                break
            except urllib3.exceptions.ProtocolError:
                # the receiver closed a kept-alive connection as this POST went out (it answered
                # nothing): once more on a new connection, as browsers do; the same webhook-id
                # lets a receiver that did see the first drop it
                if attempt == 2:
                    raise
        try:
            data = response.read(max_bytes)
            if response.length_remaining != 0:
                # more than max_bytes, or no length given: not read to its end, so the connection
                # cannot carry another request; closed, never drained
                response.close()
        finally:
            response.release_conn()
        latency = int((time.monotonic() - started) * 1000)
        return PostResult(
            status_code=response.status,
            latency_ms=latency,
            excerpt=data[: EXCERPT_CHARS * 4].decode("utf-8", "replace")[:EXCERPT_CHARS],
        )
    except TRANSIENT_ERRORS as exc:
        latency = int((time.monotonic() - started) * 1000)
        # NewConnectionError is a ConnectTimeoutError subclass in urllib3 2: test it first
        refused = isinstance(exc, urllib3.exceptions.NewConnectionError)
        kind = (
            "timed out"
            if isinstance(exc, urllib3.exceptions.TimeoutError) and not refused
            else "connection failed"
        )
        return PostResult(status_code=None, latency_ms=latency, excerpt="", error=f"{kind}: {exc}"[:300])
