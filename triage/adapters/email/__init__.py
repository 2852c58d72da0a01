"""Email adapters: pure functions over raw MIME bytes. No ORM, no settings reads.

- headers.header_peek(raw) -> HeaderPeek          the cheap look the webhook takes before answering
- parse.email_parse(raw, our_addresses=...)       -> ParsedEmail   raises EmailUnparseable
- html.html_to_text(html)                          -> safe plain text
- threading.reply_token_make / reply_token_find / subject_refs   pure helpers for threading
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# The parser works on bytes already in memory; nothing here talks to the network.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = ()


def nul_free(value: str) -> str:
    """Text without NUL characters: PostgreSQL text and jsonb refuse them (a DataError that took
    the intake job down on a message with a NUL in a header or a body, found by tests/hostile)."""
    return value.replace("\x00", "") if "\x00" in value else value


class EmailUnparseable(Exception):
    """The bytes are not an email we can read. `reason` is shown to the agent as is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class HeaderPeek:
    message_id: str  # normalized, without angle brackets; "" when absent
    content_sha256: str  # hash of the normalized content, the key without a Message-ID ("" with one)
    subject: str
    from_email: str


@dataclass(frozen=True)
class EmailPart:
    """An attachment, an inline image or a part of a forwarded message that is not its text."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)
    content_id: str = ""
    inline: bool = False
    drop_reason: str = ""  # non-empty: not worth a media job (tracking pixel, …)


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str
    from_email: str
    from_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    delivered_to: tuple[str, ...]
    date: datetime | None
    text: str  # the whole readable body: plain text preferred, HTML turned into text
    new_text: str  # what the sender wrote in this message: quotes and signature removed
    quoted_text: str  # what was removed
    body_source: str  # "plain" | "html" | "none"
    parts: tuple[EmailPart, ...]
    auto_kind: str  # "" | "auto_reply" | "bounce" | "loop"
    auto_reason: str
    defects: tuple[str, ...]
    # mail from a list or a bulk sender: triaged like any mail, but never auto-answered (RFC 3834)
    list_reason: str = ""

    @property
    def recipients(self) -> tuple[str, ...]:
        return self.to + self.cc + self.delivered_to
