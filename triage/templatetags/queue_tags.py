"""The review queue's row in one Python call.

A queue page has up to 100 rows of 13 cells; rendered by the template engine each row costs ~50
variable lookups, filters and tags (most of the page's CPU at 100 rows, bench/queue.py). This tag
writes the same HTML with format_html, escaping every value as the template did."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
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


def _files(context, ticket) -> SafeString:
    thumbs = format_html_join(
        "",
        '<img class="thumb" src="{}" width="{}" height="{}" alt="" loading="lazy">',
        (
            (_url(context, "triage:rendition-file", thumb.id), thumb.width, thumb.height)
            for attachment in list(getattr(ticket, "thumb_attachments", []))[:3]
            for thumb in attachment.thumbs
        ),
    )
    count = getattr(ticket, "attachment_count", 0) or 0
    rejected = getattr(ticket, "rejected_count", 0) or 0
    return format_html(
        '<td class="num files-cell{}">{}{}{}</td>',
        "" if count else " muted",
        thumbs,
        count,
        format_html(
            ' <span class="rejected-count" title="{} could not be used">({} rejected)</span>',
            rejected,
            rejected,
        )
        if rejected
        else "",
    )


@register.simple_tag(takes_context=True)
def queue_row(context, ticket) -> SafeString:
    """One <tr> of the queue (the page's rows and the polled single row)."""
    view: str = context.get("view") or ""
    labels: Mapping[str, Mapping[str, str]] = context.get("labels") or {}
    present: Mapping[int, list] = context.get("present") or {}
    snippets: Mapping[int, object] = context.get("snippets") or {}
    names: Mapping[int, str] = context.get("assignee_names") or {}
    busy = ticket.status in IN_PROGRESS
    poll = (
        format_html(
            ' hx-get="{}?row={}{}" hx-trigger="every {}s" hx-swap="outerHTML"',
            reverse("triage:review-queue"),
            ticket.id,
            format_html("&{}", view) if view else "",
            context.get("poll_s", ""),
        )
        if busy
        else ""
    )
    pick = (
        ""
        if busy
        else format_html(
            '<input type="checkbox" name="ticket" value="{}" form="bulk" aria-label="Select {}">'
            '<input type="hidden" name="seen" value="{}:{}" form="bulk">',
            ticket.id,
            ticket.reference,
            ticket.id,
            getattr(ticket, "seen_version", ""),
        )
    )
    email = ticket.requester_email
    href = _url(context, "triage:ticket-detail", ticket.id) + (
        f"?view={quote(view, safe='')}" if view else ""
    )
    priority = (
        format_html(
            '<span class="prio prio-{}">{}</span>',
            ticket.priority,
            label(ticket.priority, labels.get("priority")),
        )
        if ticket.priority
        else "—"
    )
    assignee = (
        format_html("{}", names.get(ticket.assignee_id) or "(inactive)")
        if ticket.assignee_id
        else mark_safe('<span class="muted">—</span>')  # noqa: S308 - a constant
    )
    created = ticket.created_at
    local = timezone.localtime(created) if created else None
    return format_html(
        '<tr id="ticket-row-{id}" class="status-{status}" tabindex="-1" data-ticket="{id}"{poll}>\n'
        '      <td class="pick">{pick}</td>\n'
        '      <td class="ticket-cell">\n'
        '        <a href="{href}" title="{subject}{email_tip}"><span class="ref">{ref}</span> '
        '<span class="subject">{short}</span></a>\n'
        "        {presence}\n"
        "        {email}\n"
        "        {snippet}\n"
        "      </td>\n"
        "      <td>{badge}</td>\n"
        '      <td class="nowrap">{category}</td>\n'
        '      <td class="nowrap">{priority}</td>\n'
        '      <td class="nowrap">{queue}</td>\n'
        '      <td class="nowrap assignee-cell">{assignee}</td>\n'
        "      <td>{confidence}</td>\n"
        "      {files}\n"
        '      <td class="nowrap"><time datetime="{iso}" title="{exact}">{ago}</time></td>\n'
        '      <td class="nowrap sla-cell">{sla}</td>\n'
        '      <td class="nowrap">{channel}</td>\n'
        "    </tr>",
        id=ticket.id,
        status=str(ticket.status).lower(),
        poll=poll,
        pick=pick,
        href=href,
        subject=ticket.subject,
        email_tip=f" · {email}" if email else "",
        ref=ticket.reference,
        short=_subject(ticket.subject),
        presence=_presence(present.get(ticket.id)),
        email=format_html('<div class="sub">{}</div>', email) if email else "",
        snippet=_snippet(snippets.get(ticket.id)),
        badge=status_badge(ticket.status, ticket.get_status_display()),
        category=label(ticket.category, labels.get("category")),
        priority=priority,
        queue=label(ticket.queue, labels.get("queue")),
        assignee=assignee,
        confidence=confidence_badge(
            ticket.confidence,
            getattr(ticket, "low", None),
            getattr(ticket, "low_fields", None),
            "Lowest field confidence",
        ),
        files=_files(context, ticket),
        iso=local.isoformat() if local else "",  # the date filter's "c"
        exact=f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or ''}" if local else "",  # "Y-m-d H:i:s T"
        ago=ago(created),
        sla=sla_cell(ticket),
        channel=ticket.get_channel_display(),
    )
