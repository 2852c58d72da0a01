"""Raw MIME bytes -> ParsedEmail. Never crashes on what the world sends: every charset is decoded
or replaced, malformed parts are kept as defects, and only bytes that are not an email at all raise
EmailUnparseable.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from email import message_from_bytes
from email import policy as email_policy
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from email_reply_parser import EmailReplyParser

from triage.adapters.email import EmailPart, EmailUnparseable, ParsedEmail, nul_free
from triage.adapters.email.headers import header_decode
from triage.adapters.email.html import html_to_text
from triage.adapters.email.threading import message_id_normalize, message_ids_parse
from triage.adapters.mail_quotes import ATTRIBUTION, ORIGINAL_MESSAGE

# Labels seen in the wild that Python's codecs do not know, mapped to what senders meant.
_CHARSET_ALIASES = {
    "utf8mb4": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
    "x-user-defined": "cp1252",
    "ks_c_5601-1987": "cp949",
    "gb2312": "gb18030",  # a superset: mail labelled gb2312 often holds GBK characters
    "gbk": "gb18030",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "x-mac-roman": "mac_roman",
    "ascii": "utf-8",  # 8-bit bytes in "us-ascii" mail are common; utf-8 first, then cp1252
    "us-ascii": "utf-8",
}
_FORWARD_SUBJECT = re.compile(r"^\s*(fwd?|fw|wg|tr|rv)\s*:", re.IGNORECASE)
# Reply separators and attribution lines (mail_quotes.py), before email-reply-parser reads the rest.
_QUOTE_START = re.compile(rf"^(?:{ORIGINAL_MESSAGE}|{ATTRIBUTION})\s*$", re.IGNORECASE | re.MULTILINE)
# RFC 3676 signature separator ("-- "), the bare "--" many clients write, and phone footers.
_SIGNATURE_START = re.compile(r"^(-- ?|Sent from my [\w ]{1,30}|Get Outlook for \w+)$", re.MULTILINE)
_AUTO_PRECEDENCE = {"bulk", "junk", "list", "auto_reply", "auto-reply"}
_DAEMON = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|noreply-dmarc-support)@", re.IGNORECASE)
_TRACKING_PIXEL_MAX_SIDE = 3
# Codecs Python finds by name that are not text charsets a mail could be written in.
_NOT_CHARSETS = {"idna", "punycode", "raw-unicode-escape", "unicode-escape"}


def text_decode(data: bytes, charset: str | None) -> str:
    """Bytes of a text part as str: the declared charset, then UTF-8, then a lossy fallback."""
    label = (charset or "").strip().strip('"').lower()
    label = _CHARSET_ALIASES.get(label, label)
    candidates = []
    if label:
        # ValueError: a label with a NUL in it; the check drops codecs that are not charsets
        # (rot13, base64, zlib) and the IDNA ones, which reject errors="replace" (tests/hostile).
        with contextlib.suppress(LookupError, ValueError):
            info = codecs.lookup(label)
            if getattr(info, "_is_text_encoding", True) and info.name not in _NOT_CHARSETS:
                candidates.append(info.name)
    for name in (*candidates, "utf-8"):
        try:
            return data.decode(name)
        except (UnicodeError, LookupError, ValueError):
            continue
    if not candidates or candidates[0] == "utf-8":
        # mislabelled Latin-1/Windows-1252 is the usual culprit behind invalid "UTF-8"
        with contextlib.suppress(UnicodeDecodeError):
            return data.decode("cp1252")
    try:
        return data.decode(candidates[0] if candidates else "utf-8", errors="replace")
    except (UnicodeError, LookupError, ValueError):
        return data.decode("utf-8", errors="replace")


def _safe_filename(name: str) -> str:
    name = header_decode(name) if name else ""
    name = PureWindowsPath(PurePosixPath(name).name).name  # no folders from either world
    return "".join(ch for ch in name if ch.isprintable())[:255]


def _is_tracking_pixel(data: bytes) -> bool:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Exception:
        return False
    return width <= _TRACKING_PIXEL_MAX_SIDE and height <= _TRACKING_PIXEL_MAX_SIDE


@dataclass
class _Collected:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    forwarded: list[str] = field(default_factory=list)
    parts: list[EmailPart] = field(default_factory=list)
    report: list[str] = field(default_factory=list)


def _is_body_text(part: Message) -> bool:
    return (
        part.get_content_type() in ("text/plain", "text/html")
        and part.get_content_disposition() != "attachment"
        and not part.get_filename()
    )


def _leaf_text(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        data = str(part.get_payload() or "").encode("utf-8", "replace")
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    return text_decode(data, charset).replace("\r\n", "\n").replace("\r", "\n")


def _collect(part: Message, acc: _Collected, *, depth: int = 0) -> None:
    ctype = part.get_content_type()
    if depth > 20:  # a hostile nesting depth: stop descending
        return
    if ctype == "message/rfc822" and part.is_multipart():
        inner = part.get_payload(0)
        if isinstance(inner, Message):
            sub = _Collected()
            _collect(inner, sub, depth=depth + 1)
            head = "\n".join(
                f"{name}: {header_decode(inner.get(name))}"
                for name in ("From", "Date", "Subject", "To")
                if inner.get(name)
            )
            body = _choose_text(sub)[0]
            acc.forwarded.append(f"---------- Forwarded message ----------\n{head}\n\n{body}".strip())
            acc.forwarded.extend(sub.forwarded)
            acc.parts.extend(sub.parts)
        return
    if part.is_multipart():
        children = [c for c in part.get_payload() if isinstance(c, Message)]
        if ctype == "multipart/alternative":
            # Text from one alternative only (plain preferred), images from all of them: a screenshot
            # pasted into the HTML version exists only there.
            plain = [c for c in children if c.get_content_type() == "text/plain" and _is_body_text(c)]
            chosen = plain[0] if plain else (children[-1] if children else None)
            for child in children:
                if child is chosen:
                    _collect(child, acc, depth=depth + 1)
                else:
                    sub = _Collected()
                    _collect(child, sub, depth=depth + 1)
                    acc.parts.extend(sub.parts)
                    acc.forwarded.extend(sub.forwarded)
            return
        for child in children:
            _collect(child, acc, depth=depth + 1)
        return
    if _is_body_text(part):
        (acc.plain if ctype == "text/plain" else acc.html).append(_leaf_text(part))
        return
    if ctype in ("message/delivery-status", "message/feedback-report", "text/rfc822-headers"):
        acc.report.append(_leaf_text(part))
        return
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes) or not data:
        return
    content_id = message_id_normalize(str(part.get("content-id") or ""))
    disposition = part.get_content_disposition()
    name = part.get_filename() or part.get_param("name") or ""
    filename = _safe_filename(str(name)) if name else ""
    is_image = ctype.startswith("image/")
    acc.parts.append(
        EmailPart(
            # a Content-ID may hold "/" or "..": it names the file only through _safe_filename
            filename=filename
            or (
                _safe_filename(f"inline-{content_id or len(acc.parts) + 1}".replace("/", "_"))
                if is_image
                else "attachment"
            ),
            content_type=ctype,
            data=data,
            content_id=content_id,
            inline=disposition == "inline" or (disposition is None and bool(content_id)),
            drop_reason="tracking pixel" if is_image and _is_tracking_pixel(data) else "",
        )
    )


def _choose_text(acc: _Collected) -> tuple[str, str]:
    if any(t.strip() for t in acc.plain):
        return "\n\n".join(t.strip() for t in acc.plain if t.strip()), "plain"
    if acc.html:
        return "\n\n".join(html_to_text(h) for h in acc.html).strip(), "html"
    return "", "none"


def reply_split(text: str) -> tuple[str, str]:
    """(new text, quoted text and signature). Falls back to the whole text when nothing is new."""
    head, quoted_tail = text, ""
    marker = _QUOTE_START.search(text)
    if marker:
        head, quoted_tail = text[: marker.start()], text[marker.start() :]
    try:
        fragments = EmailReplyParser.read(head.replace("\r\n", "\n")).fragments
        new = "\n".join(f.content for f in fragments if not f.hidden).strip()
        hidden = "\n".join(f.content for f in fragments if f.hidden).strip()
    except Exception:  # the library is regex-based; never let it take a message down
        new, hidden = head.strip(), ""
    signature = _SIGNATURE_START.search(new)
    if signature and signature.start() > 0:
        new, hidden = (
            new[: signature.start()].rstrip(),
            "\n".join(p for p in (new[signature.start() :], hidden) if p),
        )
    quoted = "\n\n".join(p for p in (hidden, quoted_tail.strip()) if p)
    if not new:
        return text.strip(), ""
    return new, quoted


def _addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    values = [header_decode(v) for v in msg.get_all(name) or []]
    try:
        pairs = getaddresses(values)
    except Exception:
        return []
    return [(n, a.strip().lower()[:254]) for n, a in pairs if a and "@" in a]


def _date(msg: Message) -> datetime | None:
    value = msg.get("date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None


def auto_detect(msg: Message, *, from_email: str, our_addresses: Sequence[str]) -> tuple[str, str]:
    """("auto_reply" | "bounce" | "loop" | "", why): mail that is stored but never triaged."""
    ours = {a.lower() for a in our_addresses}
    if msg.get("x-triage-loop") or (from_email and from_email.lower() in ours):
        return "loop", "sent by Triage itself"
    ctype = msg.get_content_type()
    report_type = msg.get_param("report-type")  # a str, or a (charset, language, value) RFC 2231 tuple
    if (
        ctype == "multipart/report"
        and isinstance(report_type, str)
        and report_type.lower() == "delivery-status"
    ):
        return "bounce", "delivery status report"
    if _DAEMON.match(from_email or ""):
        return "bounce", f"sent by {from_email}"
    if str(msg.get("return-path") or "").strip() == "<>" and ctype == "multipart/report":
        return "bounce", "null return path"
    auto = str(msg.get("auto-submitted") or "").strip().lower()
    if auto and auto != "no":
        return "auto_reply", f"Auto-Submitted: {auto.split(';')[0]}"
    precedence = str(msg.get("precedence") or "").strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return "auto_reply", f"Precedence: {precedence}"
    suppress = str(msg.get("x-auto-response-suppress") or "").strip().lower()
    if suppress and any(word in suppress for word in ("all", "oof", "autoreply")):
        return "auto_reply", f"X-Auto-Response-Suppress: {suppress}"
    if msg.get("x-autoreply") or msg.get("x-autorespond"):
        return "auto_reply", "X-Autoreply"
    return "", ""


def list_detect(msg: Message) -> str:
    """Why this is list or bulk mail ('' if it is not): List-* headers or a bulk Precedence."""
    for name in ("list-id", "list-unsubscribe", "list-post"):
        if msg.get(name):
            return f"mailing list ({name.title()})"
    precedence = str(msg.get("precedence") or "").strip().lower()
    if precedence in ("bulk", "list", "junk"):
        return f"Precedence: {precedence}"
    return ""


def email_parse(raw: bytes, *, our_addresses: Sequence[str] = ()) -> ParsedEmail:
    if not raw or not raw.strip():
        raise EmailUnparseable("the message is empty")
    try:
        msg = message_from_bytes(raw, policy=email_policy.compat32)
    except RecursionError:
        # the stdlib parser recurses once per multipart level (tests/hostile: 3,000 levels)
        raise EmailUnparseable("the message's parts are nested too deeply to read") from None
    if not any(msg.get(name) for name in ("from", "to", "subject", "date", "message-id")):
        raise EmailUnparseable(
            "no mail headers found (From, To, Subject, Date, Message-ID): this is not an email message"
        )
    acc = _Collected()
    _collect(msg, acc)
    text, source = _choose_text(acc)
    subject = header_decode(msg.get("subject"))[:300]
    if acc.forwarded:
        text = "\n\n".join(p for p in (text, *acc.forwarded) if p)
    if not text and acc.report:
        text = "\n\n".join(r.strip() for r in acc.report)[:20000]
    from_pairs = _addresses(msg, "from")
    from_name, from_email = from_pairs[0] if from_pairs else ("", "")
    auto_kind, auto_reason = auto_detect(msg, from_email=from_email, our_addresses=our_addresses)
    if acc.forwarded or _FORWARD_SUBJECT.match(subject):
        new_text, quoted = text, ""  # a forward's quoted mail is the content
    else:
        new_text, quoted = reply_split(text)
    defects = [type(d).__name__ for d in msg.defects]
    for part in msg.walk():
        defects.extend(type(d).__name__ for d in getattr(part, "defects", []) if part is not msg)
    parsed = ParsedEmail(
        message_id=message_id_normalize(str(msg.get("message-id") or "")),
        in_reply_to=message_ids_parse(str(msg.get("in-reply-to") or "")),
        references=message_ids_parse(" ".join(str(v) for v in msg.get_all("references") or [])),
        subject=subject,
        from_email=from_email,
        from_name=from_name[:200],
        to=tuple(a for _, a in _addresses(msg, "to")),
        cc=tuple(a for _, a in _addresses(msg, "cc")),
        delivered_to=tuple(a for _, a in _addresses(msg, "delivered-to") + _addresses(msg, "x-original-to")),
        date=_date(msg),
        text=text,
        new_text=new_text,
        quoted_text=quoted,
        body_source=source,
        parts=tuple(acc.parts),
        list_reason=list_detect(msg),
        auto_kind=auto_kind,
        auto_reason=auto_reason,
        defects=tuple(dict.fromkeys(defects)),
    )
    return _nul_free(parsed)


def _nul_free(value: Any) -> Any:
    """Every str of a ParsedEmail (and of its parts) without NUL characters; bytes untouched."""
    if isinstance(value, str):
        return nul_free(value)
    if isinstance(value, tuple):
        return tuple(_nul_free(v) for v in value)
    if isinstance(value, ParsedEmail | EmailPart):
        return replace(value, **{f.name: _nul_free(getattr(value, f.name)) for f in fields(value)})
    return value
