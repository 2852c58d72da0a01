"""The queue's service-level cell: time left or overdue, in words and colour."""

from __future__ import annotations

from datetime import datetime, tzinfo

from django import template
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from triage.selectors.sla_ticket import ticket_sla_targets

register = template.Library()

SOON_S = 3600  # under an hour left: amber


def _span(seconds: int) -> str:
    seconds = abs(seconds)
    if seconds < 60:
        return "<1m"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m" if minutes and hours < 10 else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def sla_state(due: datetime | None, *, now: datetime | None = None) -> tuple[str, str]:
    """(css state, words): ("overdue", "Overdue 2h"), ("soon", "45m left"), ("ok", "3d left")."""
    if due is None:
        return "none", ""
    left = int((due - (now or timezone.now())).total_seconds())
    if left < 0:
        return "overdue", f"Overdue {_span(left)}"
    return ("soon" if left < SOON_S else "ok"), f"{_span(left)} left"


_PAUSED = format_html(
    '<span class="sla sla-paused" title="{}">Paused</span>',
    "Pending: waiting on the customer, the service-level clock is stopped",
)
_NOTHING_DUE = format_html('<span class="muted" title="{}">—</span>', "No target due")


@register.simple_tag
def sla_cell(ticket, *, now: datetime | None = None, tz: tzinfo | None = None) -> SafeString:
    """The cell's content: which target is next, its time left, the exact due time on hover.
    `now` and `tz` (the current time zone): a page of rows reads them once, not once per row."""
    due = getattr(ticket, "sla_due_at", None)
    if due is None:
        return _PAUSED if getattr(ticket, "sla_paused_at", None) is not None else _NOTHING_DUE
    state, words = sla_state(due, now=now)
    target = (
        "First decision" if ticket.reviewed_at is None and ticket.sla_first_due_at == due else "Resolution"
    )
    local = timezone.localtime(due, tz)
    # dateformat's "Y-m-d H:i T" without parsing the format on every row (a queue page has 100)
    when = f"{local:%Y-%m-%d %H:%M} {dateformat.DateFormat(local).T()}"
    return format_html(
        '<span class="sla sla-{}" title="{} due {}"><time datetime="{}">{}</time></span>',
        state,
        target,
        when,
        due.isoformat(),
        words,
    )


@register.simple_tag
def ticket_sla(ticket) -> list:
    """The ticket page's targets (selectors.sla_ticket), each with its words: "due in 3h",
    "overdue 2h", "met", "missed by 1h"."""
    rows = []
    for target in ticket_sla_targets(ticket):
        if target.state == "met":
            words = "met"
        elif target.state == "missed":
            assert target.done_at is not None
            words = f"missed by {_span(int((target.done_at - target.due_at).total_seconds()))}"
        elif target.state == "paused":
            words = f"paused, {_span(target.seconds_left or 0)} left"
        elif target.state == "overdue":
            words = f"overdue {_span(target.seconds_left or 0)}"
        else:
            words = f"due in {_span(target.seconds_left or 0)}"
        when = dateformat.format(timezone.localtime(target.due_at), "Y-m-d H:i T")
        rows.append({"target": target, "words": words, "when": when})
    return rows
