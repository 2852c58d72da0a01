"""The LOW level per field for a run's confidences, from its model version's held-out calibration."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from triage.fields import CLASSIFIED_FIELDS
from triage.models import REVIEWED_STATES, ClassifierVersion, Ticket

# a field's LOW level without a calibrated one (a Kimi run, or before a trained version)
LOW_CONFIDENCE = 0.6


def low_levels(run_model: str) -> dict[str, float]:
    """{field: confidence below which held-out accuracy fell under 70%} for a run decided by a trained
    offline model version ("local-...+<version>"); empty for any other model (the fixed level applies)."""
    if "+" not in run_model:
        return {}
    version = run_model.split("+", 1)[1]
    row = ClassifierVersion.objects.filter(version=version).only("metrics").first()
    if row is None:
        return {}
    levels = row.metrics.get("low_below") or {}
    return {str(name): float(level) for name, level in levels.items()}


def low_levels_by_model(run_models: Iterable[str]) -> dict[str, dict[str, float]]:
    """low_levels for many runs' models at once (one query for a whole queue page, none when no
    run was decided by a trained version): {run model: {field: level}}, calibrated models only."""
    versions = {model: model.split("+", 1)[1] for model in set(run_models) if "+" in model}
    if not versions:
        return {}
    # only the levels, not the whole metrics document (reliability tables and all)
    stored = dict(
        ClassifierVersion.objects.filter(version__in=set(versions.values())).values_list(
            "version", "metrics__low_below"
        )
    )
    levels: dict[str, dict[str, float]] = {}
    for model, version in versions.items():
        found = stored.get(version)
        if isinstance(found, dict) and found:
            levels[model] = {str(name): float(level) for name, level in found.items()}
    return levels


def ticket_low_fields(ticket: Ticket, levels_by_model: dict[str, dict[str, float]]) -> list[str]:
    """The proposed fields whose confidence is below their calibrated level (the fixed
    LOW_CONFIDENCE for a field, or a model, without one); none once a person reviewed the ticket."""
    run = ticket.latest_run
    if ticket.is_reviewed or run is None or not isinstance(run.result, dict):
        return []
    levels = levels_by_model.get(run.model, {})
    low = []
    for name in CLASSIFIED_FIELDS:
        guess = run.result.get(name)
        confidence = guess.get("confidence") if isinstance(guess, dict) else None
        if isinstance(confidence, int | float) and float(confidence) < levels.get(name, LOW_CONFIDENCE):
            low.append(name)
    return low


def ticket_is_low(ticket: Ticket, levels_by_model: dict[str, dict[str, float]]) -> bool:
    """The LOW badge of a ticket: some field in ticket_low_fields; without a proposal to read, its
    lowest confidence below the fixed level. Never once a person reviewed it."""
    if ticket.is_reviewed:
        return False
    run = ticket.latest_run
    if run is None or not isinstance(run.result, dict) or not run.result:
        return ticket.confidence is not None and ticket.confidence < LOW_CONFIDENCE
    return bool(ticket_low_fields(ticket, levels_by_model))


def queue_mark_low(tickets: Iterable[Ticket]) -> None:
    """Set `low` (ticket_is_low) and `low_fields` (ticket_low_fields) on each of a queue page's
    tickets, reading the calibrated levels of all their models once."""
    tickets = list(tickets)
    levels = low_levels_by_model(t.latest_run.model for t in tickets if t.latest_run is not None)
    for ticket in tickets:
        ticket.low = ticket_is_low(ticket, levels)  # type: ignore[attr-defined]
        ticket.low_fields = ticket_low_fields(ticket, levels) if ticket.low else []  # type: ignore[attr-defined]


def low_flag() -> tuple[Q, bool]:
    """The queue's "Flagged LOW" filter: the tickets ticket_is_low flags, as one filter (reads the
    calibrated versions once). A run by a calibrated version is LOW where some field's confidence
    in its result is below that field's level; any other ticket where its lowest confidence is
    below the fixed level. Also whether any calibrated version has levels (without one, LOW is
    exactly "lowest confidence below the fixed level")."""
    calibrated = Q(pk__in=[])
    by_version: list[Q] = []
    for version, levels in ClassifierVersion.objects.values_list("version", "metrics__low_below"):
        if not isinstance(levels, dict) or not levels:
            continue
        run = Q(latest_run__model__endswith=f"+{version}")
        calibrated |= run
        below = Q(pk__in=[])
        for name in CLASSIFIED_FIELDS:
            level = float(levels.get(name, LOW_CONFIDENCE))
            below |= Q(**{f"latest_run__result__{name}__confidence__lt": level})
        by_version.append(run & below)
    low = ~calibrated & Q(confidence__lt=LOW_CONFIDENCE)
    for q in by_version:
        low |= q
    return ~Q(status__in=REVIEWED_STATES) & low, bool(by_version)


def low_flag_q() -> Q:
    """low_flag's filter alone."""
    return low_flag()[0]
