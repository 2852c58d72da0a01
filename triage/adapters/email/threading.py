"""Pure threading helpers: Message-ID lists, the plus-addressed reply token, ticket refs in subjects."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

_MSG_ID = re.compile(r"<([^<>\s]+)>")
_SUBJECT_REF = re.compile(r"\bTRI-(\d{1,12})\b", re.IGNORECASE)
_TOKEN = re.compile(r"^t(\d{1,12})-([0-9a-f]{10})$")


def message_id_normalize(value: str) -> str:
    """`<Abc@host>` -> `Abc@host`. Case is kept: the local part of a Message-ID is case-sensitive."""
    value = (value or "").strip()
    found = _MSG_ID.search(value)
    if found:
        return found.group(1)[:900]
    return value.strip("<> \t\r\n").split()[0][:900] if value.strip("<> \t\r\n") else ""


def message_ids_parse(value: str) -> tuple[str, ...]:
    """Every Message-ID in an In-Reply-To or References header, in order, without duplicates."""
    found = _MSG_ID.findall(value or "")
    if not found and value and value.strip():
        found = [part for part in re.split(r"[\s,]+", value.strip()) if "@" in part]
    seen: dict[str, None] = {}
    for item in found:
        seen.setdefault(item.strip("<>")[:900], None)
    return tuple(seen)


def _signature(ticket_id: int, secret: str) -> str:
    return hmac.new(secret.encode(), f"reply:{ticket_id}".encode(), hashlib.sha256).hexdigest()[:10]


def reply_token_make(*, ticket_id: int, secret: str) -> str:
    """The tag put after `+` in the Reply-To address of mail we send about a ticket.

    Signed, so the token cannot be made up from a ticket's number. A ticket's reference in a subject
    (`subject_refs`) is such a made-up claim: it joins a ticket only when the sender already takes
    part in its conversation (services/conversation.py); anyone else's mail opens a new ticket.
    """
    return f"t{ticket_id}-{_signature(ticket_id, secret)}"


def reply_address_make(*, address: str, ticket_id: int, secret: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local.split('+')[0]}+{reply_token_make(ticket_id=ticket_id, secret=secret)}@{domain}"


def reply_token_find(addresses: Iterable[str], *, secret: str) -> int | None:
    """The ticket id of the first address that carries a valid reply token."""
    for address in addresses:
        local = address.rpartition("@")[0]
        if "+" not in local:
            continue
        match = _TOKEN.match(local.split("+", 1)[1].lower())
        if match and hmac.compare_digest(match.group(2), _signature(int(match.group(1)), secret)):
            return int(match.group(1))
    return None


def subject_refs(subject: str) -> tuple[int, ...]:
    """Ticket ids referenced as TRI-<n> in a subject, in order. Unauthenticated: a hint, not proof."""
    return tuple(dict.fromkeys(int(n) for n in _SUBJECT_REF.findall(subject or "")))
