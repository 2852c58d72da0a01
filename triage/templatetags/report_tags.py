"""Formatting for the report pages and the weekly email."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template

from triage.roles import user_is_admin, user_is_manager

register = template.Library()


@register.filter
def duration(seconds: float | None) -> str:
    """1h 05m, 2m 30s, 45s; an em dash when there is nothing to measure."""
    if seconds is None:
        return "—"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


@register.filter
def usd(value: float | None, places: int = 4) -> str:
    return "—" if value is None else f"${value:,.{places}f}"


@register.filter
def total(rows: Mapping | None, key: str) -> float:
    """The sum of one figure over a mapping of rows, e.g. cost_by_day|total:"cached"."""
    return sum(row.get(key, 0) for row in (rows or {}).values())


@register.filter
def per(value: float | None, count: float | None) -> str:
    """value / count as a whole number, an em dash when there is nothing to divide by."""
    return f"{value / count:,.0f}" if value is not None and count else "—"


@register.filter
def lookup(mapping: Mapping | None, key: Any) -> Any:
    return (mapping or {}).get(key, 0)


@register.filter
def is_manager(user: Any) -> bool:
    return user_is_manager(user)


@register.filter
def is_admin(user: Any) -> bool:
    return user_is_admin(user)
