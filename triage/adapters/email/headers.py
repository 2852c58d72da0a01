"""The cheap look at a message taken before answering the webhook: its Message-ID and a content hash."""

from __future__ import annotations

import hashlib
import re
from email import policy as email_policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses

from triage.adapters.email import HeaderPeek, nul_free
from triage.adapters.email.threading import message_id_normalize

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_WS = re.compile(r"\s+")
_MAX_HEADER_CHARS = 65_536
_TRAILING_WS = re.compile(rb"[ \t\r\f\v]+\n")
# Headers that are the same in every copy of one message; transport headers (Received, DKIM,
# Delivered-To, X-…) differ between deliveries and are left out of the content key.
_IDENTITY_HEADERS = ("from", "to", "cc", "subject", "date")


def header_decode(value: object) -> str:
    """A header as text whatever its encoding: RFC 2047 words decoded, unknown charsets replaced."""
    if value is None:
        return ""
    # The stdlib's decode_header pops from the front of a list once per encoded word: quadratic.
    # A 1 MB Subject of "=?utf-8?B?" words took 1.5 s of CPU (12 s on the loaded machine) and
    # 40 MB would take hours (bench/fuzz.py). No header we keep needs more than this.
    raw = str(value)[:_MAX_HEADER_CHARS]
    try:
        return _WS.sub(" ", str(make_header(decode_header(raw)))).strip()
    except Exception:  # unknown charset or broken encoded word: keep what can be read
        parts = []
        try:
            chunks = decode_header(raw) if "=?" in raw else [(raw, None)]
        except Exception:  # a broken base64 word ("HeaderParseError", tests/hostile): the raw text
            chunks = [(raw, None)]
        for chunk, charset in chunks:
            if isinstance(chunk, bytes):
                from triage.adapters.email.parse import text_decode

                parts.append(text_decode(chunk, charset))
            else:
                parts.append(chunk)
        return _WS.sub(" ", " ".join(parts)).strip()


def headers_parse(raw: bytes) -> Message:
    """The header block only (compat32: never raises on malformed headers)."""
    match = _HEADER_END.search(raw)
    head = raw[: match.end()] if match else raw
    # headersonly: a multipart Content-Type would otherwise make the parser compile a regex for
    # the (absent) body's boundary on every call
    return BytesParser(policy=email_policy.compat32).parsebytes(head, headersonly=True)


def content_hash(raw: bytes, headers: Message | None = None) -> str:
    """sha256 of the identity headers and the body, with line endings and trailing spaces normalized.

    Two deliveries of one message through different relays get the same hash.
    """
    headers = headers if headers is not None else headers_parse(raw)
    match = _HEADER_END.search(raw)
    body = raw[match.end() :] if match else b""
    digest = hashlib.sha256()
    for name in _IDENTITY_HEADERS:
        for value in headers.get_all(name) or []:
            digest.update(f"{name}:{_WS.sub(' ', str(value)).strip()}\n".encode("utf-8", "replace"))
    # one regex pass instead of a Python loop over lines: this runs in the webhook's request
    digest.update(b"\n" + _TRAILING_WS.sub(b"\n", body.replace(b"\r\n", b"\n") + b"\n").rstrip())
    return digest.hexdigest()


def header_peek(raw: bytes) -> HeaderPeek:
    headers = headers_parse(raw)
    addresses = getaddresses([header_decode(v) for v in headers.get_all("from") or []])
    message_id = message_id_normalize(str(headers.get("message-id") or ""))
    return HeaderPeek(
        message_id=nul_free(message_id),
        # only needed (and only computed) when there is no Message-ID to key the message by
        content_sha256="" if message_id else content_hash(raw, headers),
        subject=nul_free(header_decode(headers.get("subject")))[:300],
        from_email=nul_free(addresses[0][1] if addresses else "")[:254],
    )
