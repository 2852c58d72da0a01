"""Internal notes as text: who they mention, and their simple formatting as safe HTML. Pure.

The formatting is deliberately small: **bold**, *italic*, `code`, lines starting with "- " as a
list, links for http(s) URLs, and @username highlighted. Everything else is escaped text.
"""

from __future__ import annotations

import html
import re

_MENTION = re.compile(r"(?<![\w.@])@([\w.+-]{1,150})")
_URL = re.compile(r"https?://[^\s<>\"']+")


def mentions_find(text: str) -> tuple[str, ...]:
    """Usernames named as @username, in order, without duplicates (a trailing dot is punctuation)."""
    names = (m.group(1).rstrip(".") for m in _MENTION.finditer(text or ""))
    return tuple(dict.fromkeys(n for n in names if n))


def _inline(line: str, known: frozenset[str]) -> str:
    escaped = html.escape(line, quote=True)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    escaped = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)
    escaped = re.sub(r"(?<!\*)\*([^*\s][^*]*)\*(?!\*)", r"<em>\1</em>", escaped)
    escaped = _URL.sub(
        lambda m: f'<a href="{m.group(0)}" rel="noopener noreferrer">{m.group(0)}</a>', escaped
    )

    def mention(m: re.Match[str]) -> str:
        name = m.group(1).rstrip(".")
        rest = m.group(1)[len(name) :]
        if name not in known:
            return m.group(0)
        return f'<span class="mention">@{name}</span>{rest}'

    return _MENTION.sub(mention, escaped)


def note_html(text: str, *, known_usernames: frozenset[str] = frozenset()) -> str:
    """Safe HTML for a note: the text is escaped first, then the few markers become tags."""
    blocks: list[str] = []
    items: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if items:
            blocks.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()
        if paragraph:
            blocks.append("<p>" + "<br>".join(paragraph) + "</p>")
            paragraph.clear()

    for raw in (text or "").splitlines():
        line = raw.rstrip()
        if line.lstrip().startswith(("- ", "* ")):
            if paragraph:
                flush()
            items.append(_inline(line.lstrip()[2:], known_usernames))
        elif not line.strip():
            flush()
        else:
            if items:
                flush()
            paragraph.append(_inline(line, known_usernames))
    flush()
    return "".join(blocks)
