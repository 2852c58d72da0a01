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

from triage.templatetags.sla_tags import sla_cell
from triage.templatetags.triage_tags import IN_PROGRESS, ago, confidence_badge, label, status_badge

register = template.Library()

_EMPTY = mark_safe("")  # noqa: S308 - a constant


_MARK = 987654321


def _url(context, name: str, object_id: int) -> str:
    """reverse(name, args=[object_id]), reversing each name once per page (a row has up to four)."""
    cache = context.render_context.setdefault("queue_row_urls", {})
    if name not in cache:
        cache[name] = reverse(name, args=[_MARK]).replace(str(_MARK), "{}")
    return cache[name].format(object_id)


def _subject(text: str) -> str:
    """truncatechars:90 without the Truncator for the (usual) subject that fits."""
    return text if len(text) <= 90 else Truncator(text).chars(90)


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


def _files(context, ticket) -> str:
    thumbs = "".join(
        f'<img class="thumb" src="{_e(_url(context, "triage:rendition-file", thumb.id))}" '
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
    return f'<td class="num files-cell{"" if count else " muted"}">{thumbs}{_e(count)}{rejected_html}</td>'


def _e(value: object) -> str:
    """conditional_escape without its lazy-string wrapper and SafeString: the same text, a plain str
    (a row has ~40 values; Django's escape costs ~3x html.escape through its wrappers)."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return _html_escape(str(value))


def _page_cache(context) -> dict:
    """What every row of one page shares (URLs, labels, badges), computed once per page."""
    return context.render_context.setdefault("queue_row_page", {})


def _cached(cache: dict, key: tuple, make) -> str:
    found = cache.get(key)
    if found is None:
        found = cache[key] = make()
    return found


@register.simple_tag(takes_context=True)
def queue_row(context, ticket) -> SafeString:
    """One <tr> of the queue (the page's rows and the polled single row). The HTML is the one the
    template wrote (tests/templatetags/test_row_tags.py checks it against format_html's)."""
    page = _page_cache(context)
    view: str = context.get("view") or ""
    labels: Mapping[str, Mapping[str, str]] = context.get("labels") or {}
    present: Mapping[int, list] = context.get("present") or {}
    snippets: Mapping[int, object] = context.get("snippets") or {}
    names: Mapping[int, str] = context.get("assignee_names") or {}
    tid = ticket.id
    status = ticket.status
    busy = status in IN_PROGRESS
    ref = _e(ticket.reference)
    if busy:
        queue_url = _cached(page, ("queue-url",), lambda: _e(reverse("triage:review-queue")))
        poll_tail = _cached(
            page,
            ("poll", view),
            lambda: (
                f'{"&" + _e(view) if view else ""}" hx-trigger="every {_e(context.get("poll_s", ""))}s"'
                ' hx-swap="outerHTML"'
            ),
        )
        poll, pick = f' hx-get="{queue_url}?row={tid}{poll_tail}', ""
    else:
        poll = ""
        pick = (
            f'<input type="checkbox" name="ticket" value="{tid}" form="bulk" aria-label="Select {ref}">'
            f'<input type="hidden" name="seen" value="{tid}:{_e(getattr(ticket, "seen_version", ""))}" form="bulk">'
        )
    email = ticket.requester_email
    view_arg = _cached(page, ("view", view), lambda: f"?view={quote(view, safe='')}" if view else "")
    href = _e(_url(context, "triage:ticket-detail", tid) + view_arg)
    subject = ticket.subject
    priority = ticket.priority
    priority_html = (
        _cached(
            page,
            ("priority", priority),
            lambda: (
                f'<span class="prio prio-{_e(priority)}">{_e(label(priority, labels.get("priority")))}</span>'
            ),
        )
        if priority
        else "—"
    )
    assignee_id = ticket.assignee_id
    assignee = _e(names.get(assignee_id) or "(inactive)") if assignee_id else '<span class="muted">—</span>'
    low = getattr(ticket, "low", None)
    low_fields = getattr(ticket, "low_fields", None)
    confidence = _cached(
        page,
        ("confidence", ticket.confidence, low, tuple(low_fields) if low_fields is not None else None),
        lambda: str(confidence_badge(ticket.confidence, low, low_fields, "Lowest field confidence")),
    )
    created = ticket.created_at
    if created:
        local = timezone.localtime(created)
        iso = _e(local.isoformat())  # the date filter's "c"
        exact = _e(f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or ''}")  # "Y-m-d H:i:s T"
    else:
        iso = exact = ""
    category, queue, channel = ticket.category, ticket.queue, ticket.channel
    title = _e(subject) + (_e(f" · {email}") if email else "")
    email_html = f'<div class="sub">{_e(email)}</div>' if email else ""
    badge = _cached(page, ("status", status), lambda: str(status_badge(status, ticket.get_status_display())))
    category_html = _cached(page, ("category", category), lambda: _e(label(category, labels.get("category"))))
    queue_html = _cached(page, ("queue", queue), lambda: _e(label(queue, labels.get("queue"))))
    channel_html = _cached(page, ("channel", channel), lambda: _e(ticket.get_channel_display()))
    return mark_safe(  # noqa: S308 - every value escaped by _e, or built of escaped parts
        f'<tr id="ticket-row-{tid}" class="status-{_e(str(status).lower())}" tabindex="-1" '
        f'data-ticket="{tid}"{poll}>\n'
        f'      <td class="pick">{pick}</td>\n'
        '      <td class="ticket-cell">\n'
        f'        <a href="{href}" title="{title}"><span class="ref">{ref}</span> '
        f'<span class="subject">{_e(_subject(subject))}</span></a>\n'
        f"        {_presence(present.get(tid))}\n"
        f"        {email_html}\n"
        f"        {_snippet(snippets.get(tid))}\n"
        "      </td>\n"
        f"      <td>{badge}</td>\n"
        f'      <td class="nowrap">{category_html}</td>\n'
        f'      <td class="nowrap">{priority_html}</td>\n'
        f'      <td class="nowrap">{queue_html}</td>\n'
        f'      <td class="nowrap assignee-cell">{assignee}</td>\n'
        f"      <td>{confidence}</td>\n"
        f"      {_files(context, ticket)}\n"
        f'      <td class="nowrap"><time datetime="{iso}" title="{exact}">{_e(ago(created))}</time></td>\n'
        f'      <td class="nowrap sla-cell">{_e(sla_cell(ticket))}</td>\n'
        f'      <td class="nowrap">{channel_html}</td>\n'
        "    </tr>"
    )


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
