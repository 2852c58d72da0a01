"""What a search matched, per ticket: a short passage with the matched words marked, from the
summary, the description or the text read from a screenshot or a recording's frame.

For one page of results (a few dozen tickets): two queries, the rest in Python. The words are the
search's own (websearch syntax: quotes, OR and -excluded words are not words to show).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape

from django.db.models import Q
from django.utils.safestring import SafeString, mark_safe

from triage.models import Attachment, Rendition, RenditionText, Ticket

BEFORE, AFTER = 60, 140


def search_terms(q: str) -> list[str]:
    """The words to look for: not the websearch operators, not an excluded (-word) one."""
    words = []
    for raw in re.findall(r'-?"[^"]*"|-?\S+', q)[:10]:
        if raw.startswith("-") or raw.lower() == "or":
            continue
        words += [w for w in re.findall(r"\w+", raw.strip('"')) if w]
    seen: dict[str, None] = {}
    for w in words:
        seen.setdefault(w.lower(), None)
    return list(seen)[:10]


def _pattern(terms: Sequence[str], *, whole: bool) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)" if whole else f"(?:{alternatives})", re.IGNORECASE)


@lru_cache(maxsize=64)
def _patterns(terms: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(whole words, anywhere) for a search's terms, built once: a page calls snippet_html up to
    three times per row."""
    return _pattern(terms, whole=True), _pattern(terms, whole=False)


def snippet_html(text: str, terms: Sequence[str]) -> str | None:
    """A passage of `text` around its first match, escaped, each match in <mark>; None: no match.
    A whole-word match first, else a match inside a word."""
    if not terms or not text:
        return None
    whole, anywhere = _patterns(tuple(terms))
    # a text without the terms anywhere (most of the texts tried) is read once, not twice
    first = anywhere.search(text)
    if first is None:
        return None
    pattern = anywhere
    if (found := whole.search(text)) is not None:
        pattern, first = whole, found
    start = max(0, first.start() - BEFORE)
    stop = min(len(text), first.end() + AFTER)
    if start > 0 and (space := text.find(" ", start, first.start())) != -1:
        start = space + 1
    if stop < len(text) and (space := text.rfind(" ", first.end(), stop)) != -1:
        stop = space
    passage = " ".join(text[start:stop].split())
    out, at = [], 0  # html.escape: Django's escape is it behind a lazy-string wrapper
    for m in pattern.finditer(passage):
        out += [escape(passage[at : m.start()]), "<mark>", escape(m.group(0)), "</mark>"]
        at = m.end()
    out.append(escape(passage[at:]))
    return ("… " if start > 0 else "") + "".join(out) + (" …" if stop < len(text) else "")


@dataclass(frozen=True)
class Snippet:
    where: str  # "" (the ticket's text) or "in screenshot 'x.png'" / "in recording 'y.mp4' at 0:12"
    html: SafeString

    def __str__(self) -> str:
        return self.html


def _moment(ms: int | None) -> str:
    if ms is None:
        return ""
    s = ms // 1000
    return f" at {s // 60}:{s % 60:02d}"


def search_snippets(*, tickets: Sequence[Ticket], q: str) -> dict[int, Snippet]:
    """For each ticket that matched outside its subject (which the queue shows anyway), a snippet."""
    terms = search_terms(q)
    if not terms or not tickets:
        return {}
    found: dict[int, Snippet] = {}
    rest = []
    for ticket in tickets:
        for text in (ticket.summary, ticket.description):
            html = snippet_html(text, terms)
            if html:
                found[ticket.id] = Snippet("", mark_safe(html))  # noqa: S308 - escaped above
                break
        else:
            rest.append(ticket.id)
    if not rest:
        return found
    any_term = Q()
    for term in terms:
        any_term |= Q(text__icontains=term)
    read = (
        RenditionText.objects.filter(any_term, rendition__attachment__ticket_id__in=rest)
        .exclude(text="")
        .order_by("rendition__attachment_id", "rendition__index")
        .values_list(
            "rendition__attachment__ticket_id",
            "text",
            "rendition__kind",
            "rendition__timestamp_ms",
            "rendition__attachment__original_name",
            "rendition__attachment__kind",
        )
    )
    for ticket_id, text, kind, ms, name, attachment_kind in read:
        if ticket_id in found:
            continue
        html = snippet_html(text, terms)
        if not html:
            continue
        what = "recording" if attachment_kind == Attachment.Kind.VIDEO else "screenshot"
        moment = _moment(ms) if kind == Rendition.Kind.FRAME else ""
        where = f"in {what} '{name or 'unnamed'}'{moment}"
        found[ticket_id] = Snippet(where, mark_safe(html))  # noqa: S308 - escaped above
    return found
