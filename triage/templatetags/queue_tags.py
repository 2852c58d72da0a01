"""The review queue's row in one Python call.

A queue page has up to 100 rows of 13 cells; rendered by the template engine each row costs ~50
variable lookups, filters and tags (most of the page's CPU at 100 rows, bench/queue.py). This tag
writes the same HTML with format_html, escaping every value as the template did."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape as _html_escape
from urllib.parse import quote

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import get_language

from triage.templatetags.sla_tags import sla_cell
from triage.templatetags.triage_tags import (
    IN_PROGRESS,
    ago,
    confidence_badge,
    label,
    low_confidence,
    pct,
    status_badge,
)

register = template.Library()

_EMPTY = mark_safe("")  # noqa: S308 - a constant


_MARK = 987654321


def _url_pattern(name: str) -> str:
    """reverse(name, args=[<id>]) as a format string: reversed once per page, not once per row."""
    return reverse(name, args=[_MARK]).replace(str(_MARK), "{}")


def _subject_html(text: str, escaped: str) -> str:
    """truncatechars:90, escaped; `escaped` is `text` escaped already (the usual subject fits)."""
    return escaped if len(text) <= 90 else _e(Truncator(text).chars(90))


def _presence(people: list | None) -> SafeString:
    if not people:
        return _EMPTY
    parts = []
    for n, person in enumerate(people):
        parts.append(
            format_html(
                '<span class="presence-dot{}" aria-hidden="true">●</span> {} {}{}',
                " presence-editing" if person.editing else "",
                person.name,
                "editing" if person.editing else "viewing",
                ", " if n < len(people) - 1 else "",
            )
        )
    return format_html('<div class="sub presence-marker">{}</div>', mark_safe("".join(parts)))  # noqa: S308


def _snippet(snippet: object | None) -> SafeString:
    if not snippet:
        return _EMPTY
    where = getattr(snippet, "where", "")
    return format_html(
        '<div class="snippet">{}{}</div>',
        format_html('<span class="muted">{}:</span> ', where) if where else "",
        snippet.html,  # type: ignore[attr-defined]
    )


def _e(value: object) -> str:
    """conditional_escape without its lazy-string wrapper and SafeString: the same text, a plain str
    (a row has ~40 values; Django's escape costs ~3x html.escape through its wrappers)."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return _html_escape(str(value))


class _Rows:
    """Writes a page's rows: what every row shares (the context's mappings, URLs, the time and time
    zone, labels and badges seen before) is read once per page, not once per row."""

    def __init__(self, context) -> None:
        self.context = context
        self.view: str = context.get("view") or ""
        self.labels: Mapping[str, Mapping[str, str]] = context.get("labels") or {}
        self.present: Mapping[int, list] = context.get("present") or {}
        self.snippets: Mapping[int, object] = context.get("snippets") or {}
        self.names: Mapping[int, str] = context.get("assignee_names") or {}
        self.now = timezone.now()
        self.tz = timezone.get_current_timezone()
        self.language = get_language()
        self.view_arg = f"?view={quote(self.view, safe='')}" if self.view else ""
        self.detail_url = _url_pattern("triage:ticket-detail")
        self.thumb_url = _url_pattern("triage:rendition-file")
        self.cache: dict[tuple, str] = {}

    def _cached(self, key: tuple, make) -> str:
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = make()
        return found

    def _poll(self, tid: int) -> str:
        queue_url = self._cached(("queue-url",), lambda: _e(reverse("triage:review-queue")))
        tail = self._cached(
            ("poll",),
            lambda: (
                f'{"&" + _e(self.view) if self.view else ""}" '
                f'hx-trigger="every {_e(self.context.get("poll_s", ""))}s" hx-swap="outerHTML"'
            ),
        )
        return f' hx-get="{queue_url}?row={tid}{tail}'

    def _files(self, ticket) -> str:
        thumb_url = self.thumb_url
        thumbs = "".join(
            f'<img class="thumb" src="{_e(thumb_url.format(thumb.id))}" '
            f'width="{thumb.width}" height="{thumb.height}" alt="" loading="lazy">'
            for thumb in getattr(ticket, "thumbs", ())  # selectors.review_queue_rows (width, height: ints)
        )
        count = getattr(ticket, "attachment_count", 0) or 0
        rejected = getattr(ticket, "rejected_count", 0) or 0
        rejected_html = (
            f' <span class="rejected-count" title="{rejected} could not be used">({rejected} rejected)</span>'
            if rejected
            else ""
        )
        return (
            f'<td class="num files-cell{"" if count else " muted"}">{thumbs}{_e(count)}{rejected_html}</td>'
        )

    def row(self, ticket) -> str:
        """One <tr> of the queue. The HTML is the one the template wrote
        (tests/templatetags/test_row_tags.py checks the shared badges against their partials)."""
        cached, labels = self._cached, self.labels
        tid = ticket.id
        status = ticket.status
        ref = _e(ticket.reference)
        if status in IN_PROGRESS:
            poll, pick = self._poll(tid), ""
        else:
            poll = ""
            pick = (
                f'<input type="checkbox" name="ticket" value="{tid}" form="bulk" aria-label="Select {ref}">'
                f'<input type="hidden" name="seen" value="{tid}:{_e(getattr(ticket, "seen_version", ""))}" form="bulk">'
            )
        email = ticket.requester_email
        href = _e(self.detail_url.format(tid) + self.view_arg)
        subject = ticket.subject
        priority = ticket.priority
        priority_html = (
            cached(
                ("priority", priority),
                lambda: (
                    f'<span class="prio prio-{_e(priority)}">{_e(label(priority, labels.get("priority")))}</span>'
                ),
            )
            if priority
            else "—"
        )
        assignee_id = ticket.assignee_id
        assignee = (
            _e(self.names.get(assignee_id) or "(inactive)") if assignee_id else '<span class="muted">—</span>'
        )
        low = getattr(ticket, "low", None)
        low_fields = getattr(ticket, "low_fields", None)
        value = ticket.confidence
        # keyed by what the badge shows (its percentage, and the fixed level's flag when no
        # calibrated one), not the raw float: a page's 100 confidences draw a few dozen badges
        confidence = cached(
            (
                "confidence",
                None if value is None else pct(value),
                low if low is not None else low_confidence(value),
                low is None,
                tuple(low_fields) if low_fields is not None else None,
            ),
            lambda: str(confidence_badge(value, low, low_fields, "Lowest field confidence")),
        )
        created = ticket.created_at
        if created:
            local = timezone.localtime(created, self.tz)
            iso = _e(local.isoformat())  # the date filter's "c"
            exact = _e(f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or ''}")  # "Y-m-d H:i:s T"
        else:
            iso = exact = ""
        category, queue, channel = ticket.category, ticket.queue, ticket.channel
        subject_html = _e(subject)
        title = subject_html + (_e(f" · {email}") if email else "")
        email_html = f'<div class="sub">{_e(email)}</div>' if email else ""
        badge = cached(("status", status), lambda: str(status_badge(status, ticket.get_status_display())))
        category_html = cached(("category", category), lambda: _e(label(category, labels.get("category"))))
        queue_html = cached(("queue", queue), lambda: _e(label(queue, labels.get("queue"))))
        channel_html = cached(("channel", channel), lambda: _e(ticket.get_channel_display()))
        return (
            f'<tr id="ticket-row-{tid}" class="status-{cached(("class", status), lambda: _e(str(status).lower()))}" tabindex="-1" '
            f'data-ticket="{tid}"{poll}>\n'
            f'      <td class="pick">{pick}</td>\n'
            '      <td class="ticket-cell">\n'
            f'        <a href="{href}" title="{title}"><span class="ref">{ref}</span> '
            f'<span class="subject">{_subject_html(subject, subject_html)}</span></a>\n'
            f"        {_presence(self.present.get(tid))}\n"
            f"        {email_html}\n"
            f"        {_snippet(self.snippets.get(tid))}\n"
            "      </td>\n"
            f"      <td>{badge}</td>\n"
            f'      <td class="nowrap">{category_html}</td>\n'
            f'      <td class="nowrap">{priority_html}</td>\n'
            f'      <td class="nowrap">{queue_html}</td>\n'
            f'      <td class="nowrap assignee-cell">{assignee}</td>\n'
            f"      <td>{confidence}</td>\n"
            f"      {self._files(ticket)}\n"
            f'      <td class="nowrap"><time datetime="{iso}" title="{exact}">'
            f"{_e(ago(created, now=self.now, tz=self.tz, language=self.language))}</time></td>\n"
            f'      <td class="nowrap sla-cell">{_e(sla_cell(ticket, now=self.now, tz=self.tz))}</td>\n'
            f'      <td class="nowrap">{channel_html}</td>\n'
            "    </tr>"
        )


@register.simple_tag(takes_context=True)
def queue_row(context, ticket) -> SafeString:
    """One <tr> of the queue: the row a processing ticket polls for (views.queue._row)."""
    return mark_safe(_Rows(context).row(ticket))  # noqa: S308 - every value escaped by _e, or built of escaped parts


@register.simple_tag(takes_context=True)
def queue_rows(context, tickets) -> SafeString:
    """Every <tr> of a page, in one call: a template loop costs a page of 100 rows ~2 ms of
    context pushes and node renders around the rows themselves."""
    rows = _Rows(context)
    return mark_safe("\n    ".join(rows.row(ticket) for ticket in tickets))  # noqa: S308 - as queue_row


# The filter form's fields as rendered, per distinct field, value and choices (bounded: cleared when
# full). Django draws a <select> through a template per option: the form's ~40 options cost a
# page ~4 ms, for the same few filter states drawn again and again.
_FIELD_HTML: dict[tuple, SafeString] = {}
_FIELD_HTML_MAX = 1024


@register.simple_tag
def queue_filter_field(field) -> SafeString:
    """`{{ field }}` of the queue's filter form (forms.QueueFilterForm), drawn once per distinct
    state in this process: everything the widget's HTML depends on is in the key."""
    widget = field.field.widget
    key = (
        field.html_name,
        field.auto_id,
        type(widget),
        repr(field.value()),
        tuple(getattr(field.field, "choices", ()) or ()),
        tuple(sorted((k, repr(v)) for k, v in widget.attrs.items())),
        field.field.required,
        field.field.disabled,
        bool(field.errors),
        str(field.help_text),
    )
    found = _FIELD_HTML.get(key)
    if found is None:
        if len(_FIELD_HTML) >= _FIELD_HTML_MAX:
            _FIELD_HTML.clear()
        found = _FIELD_HTML[key] = SafeString(str(field))
    return found
