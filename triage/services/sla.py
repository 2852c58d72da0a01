"""Service levels: when a ticket's first decision and its resolution are due.

Managers set an SlaPolicy per priority (and optionally per queue) on /sla/: minutes to the first
human decision (reviewed_at) and to resolution (solved_at), counted on the wall clock or only in
the weekly business hours (BusinessHours, one row). Every ticket save recomputes its due times
(a post_save receiver, connected in apps.py, so the intake, triage, review and lifecycle services
need no call of their own); a policy change recomputes every open ticket. The clock stops while a
ticket is Pending (waiting on the customer): sla_paused_at and sla_paused_s, kept by the same
receiver, move its due times on by the time it stood still, as Zendesk does. Code that moves a ticket
with QuerySet.update() and changes its priority, queue, reviewed_at or solved_at must call
sla_ticket_refresh itself (update() sends no signal).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection, transaction
from django.db.models import Case, DateTimeField, Expression, ExpressionWrapper, F, Q, QuerySet, Value, When
from django.utils import timezone

from triage.models import BusinessHours, SlaPolicy, Ticket

# a ticket in these has nothing left due
_DONE = (Ticket.Status.SOLVED, Ticket.Status.CLOSED)


@dataclass(frozen=True)
class Calendar:
    """Weekly business hours in a time zone: the same window on each listed weekday (Monday=0)."""

    tz: str = "UTC"
    weekdays: frozenset[int] = frozenset(range(5))
    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(17, 0)

    @property
    def usable(self) -> bool:
        return bool(self.weekdays) and self.start < self.end


@dataclass(frozen=True)
class Policy:
    priority: str
    queue: str
    first_minutes: int | None
    resolve_minutes: int | None
    business_hours: bool


def _zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def sla_add(*, start: dt.datetime, minutes: int, calendar: Calendar | None) -> dt.datetime:
    """`start` plus `minutes`, on the wall clock (no calendar) or counting only business hours."""
    if calendar is None or not calendar.usable:
        return start + dt.timedelta(minutes=minutes)
    zone = _zone(calendar.tz)
    local = start.astimezone(zone)
    left = dt.timedelta(minutes=minutes)
    day = local.date()
    for _ in range(366 * 10):  # a bounded walk: ten years of days
        if day.weekday() in calendar.weekdays:
            opens = dt.datetime.combine(day, calendar.start, tzinfo=zone)
            closes = dt.datetime.combine(day, calendar.end, tzinfo=zone)
            at = max(local, opens)
            if at < closes:
                if at + left <= closes:
                    return (at + left).astimezone(start.tzinfo or dt.UTC)
                left -= closes - at
        day += dt.timedelta(days=1)
        local = dt.datetime.combine(day, dt.time(0, 0), tzinfo=zone)
    return start + dt.timedelta(minutes=minutes)


def sla_policy_for(*, priority: str, queue: str, policies: Sequence[Policy]) -> Policy | None:
    """The most specific policy: priority and queue, then priority, then queue, then the default."""
    for want_priority, want_queue in ((priority, queue), (priority, ""), ("", queue), ("", "")):
        for policy in policies:
            if policy.priority == want_priority and policy.queue == want_queue:
                return policy
    return None


@dataclass(frozen=True)
class Due:
    first: dt.datetime | None
    resolve: dt.datetime | None
    next: dt.datetime | None


def sla_due(
    *,
    created_at: dt.datetime,
    priority: str,
    queue: str,
    status: str,
    reviewed_at: dt.datetime | None,
    solved_at: dt.datetime | None,
    policies: Sequence[Policy],
    calendar: Calendar | None,
    paused_s: int = 0,
    paused: bool = False,
) -> Due:
    """A ticket's due times: both targets from its creation, moved on by the `paused_s` seconds the
    clock stood still (Pending), and the next one still open (none while `paused`)."""
    policy = sla_policy_for(priority=priority, queue=queue, policies=policies)
    if policy is None:
        return Due(None, None, None)
    cal = calendar if policy.business_hours else None
    first = (
        sla_add(start=created_at, minutes=policy.first_minutes, calendar=cal)
        if policy.first_minutes is not None
        else None
    )
    resolve = (
        sla_add(start=created_at, minutes=policy.resolve_minutes, calendar=cal)
        if policy.resolve_minutes is not None
        else None
    )
    if paused_s:
        shift = dt.timedelta(seconds=paused_s)
        first = first + shift if first is not None else None
        resolve = resolve + shift if resolve is not None else None
    if status in _DONE or solved_at is not None or paused:
        nxt = None
    elif reviewed_at is None and first is not None:
        nxt = first
    else:
        nxt = resolve
    return Due(first, resolve, nxt)


def sla_policies_load() -> tuple[list[Policy], Calendar | None]:
    policies = [
        Policy(p.priority, p.queue, p.first_decision_minutes, p.resolution_minutes, p.business_hours)
        for p in SlaPolicy.objects.all()
    ]
    calendar = None
    if any(p.business_hours for p in policies):
        calendar = sla_calendar_get()
    return policies, calendar


def sla_calendar_get() -> Calendar:
    row = BusinessHours.objects.filter(id=1).first() or BusinessHours()
    return Calendar(
        tz=row.timezone,
        weekdays=frozenset(int(c) for c in row.weekdays if c.isdigit() and int(c) < 7),
        start=row.start,
        end=row.end,
    )


def sla_pause_step(
    *, status: str, paused_at: dt.datetime | None, paused_s: int, now: dt.datetime
) -> tuple[dt.datetime | None, int]:
    """The clock's (paused_at, paused_s) after a save: it stops when the ticket enters Pending and
    runs again, counting the seconds it stood still, when it leaves it."""
    if status == Ticket.Status.PENDING:
        return (paused_at or now), paused_s
    if paused_at is not None:
        return None, paused_s + max(0, int((now - paused_at).total_seconds()))
    return None, paused_s


def _due_for(ticket: Ticket, policies: Sequence[Policy], calendar: Calendar | None) -> Due:
    return sla_due(
        created_at=ticket.created_at,
        priority=ticket.priority,
        queue=ticket.queue,
        status=ticket.status,
        reviewed_at=ticket.reviewed_at,
        solved_at=ticket.solved_at,
        policies=policies,
        calendar=calendar,
        paused_s=ticket.sla_paused_s or 0,
        paused=ticket.sla_paused_at is not None,
    )


def _changed(ticket: Ticket, due: Due) -> bool:
    return (ticket.sla_first_due_at, ticket.sla_resolve_due_at, ticket.sla_due_at) != (
        due.first,
        due.resolve,
        due.next,
    )


def _set(ticket: Ticket, due: Due) -> None:
    ticket.sla_first_due_at, ticket.sla_resolve_due_at, ticket.sla_due_at = due.first, due.resolve, due.next


def sla_ticket_refresh(*, ticket: Ticket) -> Due:
    """Recompute one ticket's due times and store them if they changed (one UPDATE, no signal)."""
    policies, calendar = sla_policies_load()
    paused_at, paused_s = sla_pause_step(
        status=ticket.status,
        paused_at=ticket.sla_paused_at,
        paused_s=ticket.sla_paused_s or 0,
        now=timezone.now(),
    )
    clock_changed = (paused_at, paused_s) != (ticket.sla_paused_at, ticket.sla_paused_s or 0)
    ticket.sla_paused_at, ticket.sla_paused_s = paused_at, paused_s or None
    due = _due_for(ticket, policies, calendar)
    if ticket.created_at is not None and (clock_changed or _changed(ticket, due)):
        Ticket.objects.filter(id=ticket.id).update(
            sla_first_due_at=due.first,
            sla_resolve_due_at=due.resolve,
            sla_due_at=due.next,
            sla_paused_at=paused_at,
            sla_paused_s=paused_s or None,
        )
        _set(ticket, due)
    return due


def ticket_saved(sender: type, instance: Ticket, raw: bool = False, **kwargs: object) -> None:
    """post_save receiver (apps.py): every ticket save keeps its due times current."""
    if raw:  # loaddata
        return
    sla_ticket_refresh(ticket=instance)


_FIELDS = (
    "id",
    "created_at",
    "priority",
    "queue",
    "status",
    "reviewed_at",
    "solved_at",
    "sla_paused_at",
    "sla_paused_s",
)
_DUE_FIELDS = ("sla_first_due_at", "sla_resolve_due_at", "sla_due_at")


def _plus(minutes: int | None) -> Expression:
    if minutes is None:
        return Value(None, output_field=DateTimeField())
    return ExpressionWrapper(
        F("created_at") + Value(dt.timedelta(minutes=minutes)), output_field=DateTimeField()
    )


def sla_recompute(*, batch: int = 1000) -> int:
    """Recompute the due times of every ticket not yet solved, after a policy or the business hours
    changed. Returns how many tickets were written.

    One UPDATE per (priority, queue) pair the open tickets have, computed by the database, for the
    policies on the wall clock; only the tickets of a
    business-hours policy are walked in Python (the calendar is not SQL)."""
    policies, calendar = sla_policies_load()
    open_tickets = Ticket.objects.exclude(status__in=_DONE).order_by()
    pairs = set(open_tickets.values_list("priority", "queue").distinct())
    written = 0
    # tickets whose clock stopped (Pending now, or before): walked in Python, the SQL below counts
    # from the creation alone
    stopped = Q(sla_paused_at__isnull=False) | Q(sla_paused_s__gt=0)
    written += _recompute_in_python(open_tickets.filter(stopped), policies, calendar, batch=batch)
    open_tickets = open_tickets.exclude(stopped)
    for priority, queue in sorted(pairs):
        rows = open_tickets.filter(priority=priority, queue=queue)
        policy = sla_policy_for(priority=priority, queue=queue, policies=policies)
        if policy is not None and policy.business_hours and calendar is not None and calendar.usable:
            written += _recompute_in_python(rows, policies, calendar, batch=batch)
            continue
        if policy is None:
            none = Value(None, output_field=DateTimeField())
            written += rows.exclude(sla_first_due_at=None, sla_resolve_due_at=None, sla_due_at=None).update(
                sla_first_due_at=none, sla_resolve_due_at=none, sla_due_at=none
            )
            continue
        first, resolve = _plus(policy.first_minutes), _plus(policy.resolve_minutes)
        whens = [When(solved_at__isnull=False, then=Value(None, output_field=DateTimeField()))]
        if policy.first_minutes is not None:
            whens.append(When(reviewed_at__isnull=True, then=first))
        written += rows.update(
            sla_first_due_at=first,
            sla_resolve_due_at=resolve,
            sla_due_at=Case(*whens, default=resolve, output_field=DateTimeField()),
        )
    return written


def _recompute_in_python(
    rows: QuerySet[Ticket], policies: Sequence[Policy], calendar: Calendar | None, *, batch: int
) -> int:
    changed = 0
    pending: list[Ticket] = []
    for ticket in rows.order_by("id").only(*_FIELDS, *_DUE_FIELDS).iterator(chunk_size=batch):
        due = _due_for(ticket, policies, calendar)
        if _changed(ticket, due):
            _set(ticket, due)
            pending.append(ticket)
        if len(pending) >= batch:
            changed += _flush(pending)
    return changed + _flush(pending)


def _flush(pending: list[Ticket]) -> int:
    """Write the due times of `pending`: one UPDATE ... FROM (VALUES ...) on PostgreSQL (bulk_update's
    CASE per row grows with the square of the batch), bulk_update elsewhere."""
    n = len(pending)
    if not n:
        return 0
    if connection.vendor == "postgresql":
        table = Ticket._meta.db_table
        values = ", ".join(["(%s::bigint, %s::timestamptz, %s::timestamptz, %s::timestamptz)"] * n)
        params: list[int | dt.datetime | None] = []
        for t in pending:
            params += [t.id, t.sla_first_due_at, t.sla_resolve_due_at, t.sla_due_at]
        sql = (
            f"UPDATE {table} SET sla_first_due_at = v.f, sla_resolve_due_at = v.r, sla_due_at = v.d "  # noqa: S608
            f"FROM (VALUES {values}) AS v(id, f, r, d) WHERE {table}.id = v.id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    else:
        Ticket.objects.bulk_update(pending, list(_DUE_FIELDS))
    pending.clear()
    return n


class SlaPolicyError(Exception):
    pass


@transaction.atomic
def sla_policy_save(
    *,
    priority: str,
    queue: str,
    first_decision_minutes: int | None,
    resolution_minutes: int | None,
    business_hours: bool,
    policy_id: int | None = None,
) -> SlaPolicy:
    """Add or change a policy (one per priority and queue), then recompute the open tickets."""
    if first_decision_minutes is None and resolution_minutes is None:
        raise SlaPolicyError("Set a time to first decision, a time to resolution, or both.")
    clash = SlaPolicy.objects.filter(priority=priority, queue=queue)
    if policy_id is not None:
        clash = clash.exclude(id=policy_id)
    if clash.exists():
        raise SlaPolicyError("A policy for this priority and queue exists already: change that one.")
    policy = SlaPolicy.objects.get(id=policy_id) if policy_id is not None else SlaPolicy()
    policy.priority, policy.queue = priority, queue
    policy.first_decision_minutes, policy.resolution_minutes = first_decision_minutes, resolution_minutes
    policy.business_hours = business_hours
    policy.save()
    sla_recompute()
    return policy


@transaction.atomic
def sla_policy_delete(*, policy_id: int) -> None:
    SlaPolicy.objects.filter(id=policy_id).delete()
    sla_recompute()


@transaction.atomic
def sla_business_hours_save(
    *, tz: str, weekdays: Sequence[int], start: dt.time, end: dt.time
) -> BusinessHours:
    if start >= end:
        raise SlaPolicyError("Business hours must end after they start.")
    _zone(tz)
    row, _ = BusinessHours.objects.get_or_create(id=1)
    row.timezone = tz
    row.weekdays = "".join(str(d) for d in sorted(set(weekdays)) if 0 <= d <= 6)
    row.start, row.end = start, end
    row.save()
    sla_recompute()
    return row
