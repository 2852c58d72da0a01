"""Display helpers for the triage pages: ages, confidences, timestamps, taxonomy labels."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from functools import lru_cache

from django import template
from django.utils import dateformat, timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from triage.fields import REVIEWED_FIELDS
from triage.models import Attachment, ReviewDecision, Ticket

register = template.Library()

IN_PROGRESS = (Ticket.Status.PROCESSING, Ticket.Status.TRIAGING)
LOW_CONFIDENCE = 0.6


@register.filter
def ago(
    value: datetime | None,
    *,
    now: datetime | None = None,
    tz: tzinfo | None = None,
    language: str | None = None,
) -> str:
    """A compact relative age: 'just now', '3 min ago', '5 h ago', '2 d ago', then the date.
    `now`, `tz` and `language` (the current ones): a page of rows reads them once, not per row."""
    if value is None:
        return ""
    seconds = int(((now or timezone.now()) - value).total_seconds())
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    if seconds < 30 * 86400:
        return f"{seconds // 86400} d ago"
    return _day(timezone.localtime(value, tz).date(), language or get_language())


@register.filter
def ago_s(value: datetime | None) -> str:
    """`ago` to the second under a minute: a heartbeat every 15 s is '12 s ago', and one 40 s old
    (two beats missed) must not read 'just now'."""
    if value is None:
        return ""
    seconds = int((timezone.now() - value).total_seconds())
    return f"{max(0, seconds)} s ago" if seconds < 60 else ago(value)


@lru_cache(maxsize=512)
def _day(day: date, language: str | None) -> str:
    """ "j M Y" of a day in a language: a queue page shows up to 100 of them, most the same few days."""
    return dateformat.format(day, "j M Y")


@register.filter
def pct(confidence: float | None) -> str:
    if confidence is None:
        return "—"
    return f"{round(float(confidence) * 100)}%"


@register.filter
def one_of(value: str | None, names: str) -> bool:
    """`url_name|one_of:"macros,sla"`: whether the value is one of the comma-separated names
    (the template language's `in` on a string would also match a part of a name)."""
    return value is not None and value in names.split(",")


@register.filter
def low_confidence(confidence: float | None) -> bool:
    return confidence is not None and float(confidence) < LOW_CONFIDENCE


@register.filter
def timecode(milliseconds: int | None) -> str:
    """A moment of a recording to the tenth of a second ("00:01.5", "1:02:03.4"): frames sampled
    from a short recording are under a second apart, and whole seconds named two of them alike."""
    tenths = int(milliseconds or 0) // 100
    seconds, tenth = divmod(tenths, 10)
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{tenth}"
    return f"{seconds // 60:02d}:{seconds % 60:02d}.{tenth}"


@register.filter
def label(value: str, labels: Mapping[str, str] | None) -> str:
    """The taxonomy label of a stored value; the value itself if it has none; a dash if empty."""
    if not value:
        return "—"
    return (labels or {}).get(value, value)


@register.filter
def in_progress(ticket: Ticket) -> bool:
    """Still being worked on by the workers: its row / section keeps polling."""
    return ticket.status in IN_PROGRESS


@register.filter
def renditions_of(attachment: Attachment, kind: str) -> list:
    """Renditions of one kind, from the prefetched set (no query)."""
    return [r for r in attachment.renditions.all() if r.kind == kind]


@register.filter
def decision_changes(decision: ReviewDecision) -> list[tuple[str, str, str]]:
    """(field, before, after) for every reviewed field the decision changed."""
    return [
        (name, str(decision.before.get(name, "")), str(decision.after.get(name, "")))
        for name in REVIEWED_FIELDS
        if decision.before.get(name, "") != decision.after.get(name, "")
    ]


@register.filter
def get(mapping: Mapping | None, key: str):
    return (mapping or {}).get(key)


@register.filter
def lcfirst(text: str) -> str:
    """'Model API timed out' -> 'model API timed out', to continue a sentence."""
    text = str(text)
    return text[:1].lower() + text[1:]


@register.filter
def latency(milliseconds: int | None) -> str:
    """'42 ms' below a second, '3.4 s' above."""
    if milliseconds is None:
        return "—"
    if milliseconds < 1000:
        return f"{milliseconds} ms"
    return f"{milliseconds / 1000:.1f} s"


@register.filter
def note_format(text: str) -> SafeString:
    """A note's simple formatting as HTML; the text itself is escaped (adapters/notes.py)."""
    from django.contrib.auth import get_user_model

    from triage.adapters.notes import mentions_find, note_html

    names = mentions_find(text)
    User = get_user_model()
    known = (
        frozenset(
            User.objects.filter(**{f"{User.USERNAME_FIELD}__in": names}).values_list(
                User.USERNAME_FIELD, flat=True
            )
        )
        if names
        else frozenset()
    )
    return mark_safe(note_html(text, known_usernames=known))  # noqa: S308 - escaped by note_html


@register.inclusion_tag("triage/partials/_mention_badge.html", takes_context=True)
def mention_badge(context: dict) -> dict:
    """The header's count of unread @mentions of the signed-in user."""
    from triage.services.conversation import mentions_unread_count

    user = context.get("user")
    count = mentions_unread_count(user=user) if user is not None and user.is_authenticated else 0
    return {"count": count}


@register.filter
def status_label(value: str) -> str:
    try:
        return str(Ticket.Status(value).label)
    except ValueError:
        return value or "—"


_LOW_TITLE_CALIBRATED = (
    ": below the level where this model's held-out accuracy fell under 70% (60% before calibration)"
)


@register.simple_tag
def confidence_badge(
    value: float | None, low: bool | None = None, low_fields: list[str] | None = None, title: str = ""
) -> SafeString:
    """A confidence bar with its value and the LOW flag: partials/_confidence.html in one call (a
    queue page has one per row). `low` True/False is the calibrated flag; None falls back to 60%."""
    if value is None:
        return mark_safe('<span class="muted">—</span>')  # noqa: S308 - a constant
    flagged = low is True or (low is not False and low_confidence(value))
    shown = pct(value)
    # the partial's literal words unescaped, its variables (the fields, the title) escaped
    tip = ""
    if flagged:
        tip = "Low confidence" + (
            f" ({conditional_escape(', '.join(str(f) for f in low_fields))})" if low_fields else ""
        )
        tip += (_LOW_TITLE_CALIBRATED if low is True or low is False else ": below 60%") + ". "
    tip += conditional_escape(title or "Model confidence")
    return format_html(
        '<span class="conf{}" title="{}"><span class="conf-bar" aria-hidden="true"><span style="width: {}">'
        '</span></span><span class="conf-value">{}</span>{}</span>',
        " conf-low" if flagged else "",
        mark_safe(tip),  # noqa: S308 - escaped above
        shown,
        shown,
        mark_safe('<span class="conf-flag" aria-label="low confidence">low</span>') if flagged else "",  # noqa: S308
    )


@register.simple_tag
def status_badge(status: str, text: str) -> SafeString:
    """partials/_status_badge.html for a queue row (no id, no out-of-band swap)."""
    spinner = mark_safe('<span class="spinner" aria-hidden="true"></span>') if status in IN_PROGRESS else ""  # noqa: S308
    return format_html('<span class="badge badge-{}">{}{}</span>', str(status).lower(), spinner, text)
