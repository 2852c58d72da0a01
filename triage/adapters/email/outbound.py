"""Outbound mail as values: the message to send, how a send failed, and who must never get an
automatic reply (RFC 3834). Pure: no ORM, no settings; the service passes everything in."""

from __future__ import annotations

import re
import smtplib
import socket
from dataclasses import dataclass, field
from email.utils import make_msgid

from django.core.mail import EmailMessage

# A send that may work later: the server is down, slow, or answered 4xx (greylisting, a full queue).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    ConnectionError,
    socket.timeout,
    TimeoutError,
)


@dataclass(frozen=True)
class OutgoingAttachment:
    name: str
    mime: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class OutgoingMail:
    message_id: str  # without angle brackets
    from_email: str
    to: tuple[str, ...]
    subject: str
    body: str
    cc: tuple[str, ...] = ()
    reply_to: str = ""
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    attachments: tuple[OutgoingAttachment, ...] = ()


def message_id_make(*, domain: str) -> str:
    return make_msgid(domain=domain or "triage.local").strip("<>")


def email_message_build(mail: OutgoingMail, *, connection: object | None = None) -> EmailMessage:
    """Django's EmailMessage for the configured backend (SMTP, or an anymail provider)."""
    headers = {"Message-ID": f"<{mail.message_id}>", **mail.headers}
    if mail.in_reply_to:
        headers["In-Reply-To"] = f"<{mail.in_reply_to}>"
    if mail.references:
        headers["References"] = " ".join(f"<{ref}>" for ref in mail.references)
    message = EmailMessage(
        subject=mail.subject,
        body=mail.body,
        from_email=mail.from_email,
        to=list(mail.to),
        cc=list(mail.cc),
        reply_to=[mail.reply_to] if mail.reply_to else None,
        headers=headers,
        connection=connection,
    )
    for item in mail.attachments:
        message.attach(item.name, item.data, item.mime)
    return message


@dataclass(frozen=True)
class SendFailure:
    transient: bool
    reason: str


def send_failure_classify(exc: Exception) -> SendFailure:
    """Whether trying again may help, and a reason an agent can read ("550 mailbox unknown")."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [(code, msg) for code, msg in exc.recipients.values()]
        code, msg = codes[0] if codes else (550, b"recipients refused")
        return SendFailure(transient=400 <= code < 500, reason=f"{code} {_text(msg)} (recipient refused)")
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        return SendFailure(transient=400 <= code < 500, reason=f"{code} {_text(exc.smtp_error)}")
    # any other socket error (refused, reset, unreachable) is the network; SMTP's own are not
    if isinstance(exc, TRANSIENT_ERRORS) or (
        isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException)
    ):
        return SendFailure(transient=True, reason=f"mail server unreachable ({type(exc).__name__}: {exc})")
    return SendFailure(transient=False, reason=f"{type(exc).__name__}: {exc}")


def _text(value: bytes | str) -> str:
    return (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)).strip()[:300]


# RFC 3834 section 2: never answer these automatically.
_NO_REPLY_LOCAL = re.compile(
    r"^(mailer-daemon|postmaster|mail-daemon|listserv|majordomo|owner-.*|.*-request|.*-owner|"
    r"no-?reply|do-?not-?reply|bounces?(\+.*)?|.*-bounces?)$",
    re.IGNORECASE,
)


def ack_refusal(*, sender: str, auto_kind: str, list_reason: str, our_addresses: tuple[str, ...]) -> str:
    """Why this message must get no acknowledgement ('' when it may): auto-replies, bounces and
    loops (the parser's `auto_kind`), list and bulk mail, our own addresses and robots' addresses."""
    if auto_kind:
        return f"automatic mail ({auto_kind})"
    if list_reason:
        return list_reason
    if not sender or "@" not in sender:
        return "no sender address"
    if sender.lower() in {a.lower() for a in our_addresses}:
        return "sent from our own address"
    if _NO_REPLY_LOCAL.match(sender.rpartition("@")[0]):
        return f"{sender} is a robot's address"
    return ""


_VARIABLE = re.compile(r"{{\s*([a-z_]+(?:\.[a-z_]+)?)\s*}}")
_TAG = re.compile(r"{%|%}|{#|#}")


class TemplateInvalid(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def template_check(text: str, *, allowed: frozenset[str]) -> None:
    """Refuse anything but `{{ name }}` / `{{ thing.name }}` among `allowed`: no tags, no filters."""
    if _TAG.search(text):
        raise TemplateInvalid("only variables like {{ ticket.reference }} are allowed, no {% tags %}")
    for opening in re.finditer(r"{{(.*?)}}", text, flags=re.DOTALL):
        name = opening.group(1).strip()
        if not _VARIABLE.fullmatch(opening.group(0)) or name not in allowed:
            known = ", ".join("{{ " + a + " }}" for a in sorted(allowed))
            raise TemplateInvalid(f"unknown variable {{{{ {name} }}}}; use {known}")


def template_render(text: str, *, values: dict[str, str]) -> str:
    """Replace each known `{{ name }}` by its value (plain text, inserted as is). A sandbox by
    construction: the values are strings prepared by the caller, nothing is looked up or called."""
    return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), text)
