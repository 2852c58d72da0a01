"""Levels derived from the offline model's held-out calibration (accuracy per confidence band):
the LOW level per field for a run's confidences, and the auto-accept level per field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Case, IntegerField, Q, Value, When

from triage.fields import CLASSIFIED_FIELDS, TAXONOMY_FIELDS
from triage.models import REVIEWED_STATES, ClassifierVersion, Ticket

# a field's LOW level without a calibrated one (a Kimi run, or before a trained version)
LOW_CONFIDENCE = 0.6
# Auto-accept trusts a band's held-out accuracy only over this many reviews: with 30, one wrong
# review moves the accuracy by ~3 points, the margin between 0.95 and a 0.92 that would fail.
AUTO_ACCEPT_MIN_REVIEWS = 30


def classifier_active() -> ClassifierVersion | None:
    """The offline model's version served: the newest trained one, else the newest day-one one
    (one query)."""
    trained_first = Case(
        When(kind=ClassifierVersion.Kind.TRAINED, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return ClassifierVersion.objects.order_by(trained_first, "-created_at", "-id").first()


def accept_level(
    reliability: Sequence[Mapping[str, object]], target: float, *, min_reviews: int = AUTO_ACCEPT_MIN_REVIEWS
) -> float | None:
    """The lower edge of the lowest confidence band from which every band up was right at least
    `target` of the time on held-out reviews, with at least `min_reviews` reviews in those bands;
    None when the top band already falls short. Band by band, not pooled: a pooled figure would let
    a strong top band carry a weak band under it, and the tickets at the level are the weak ones.
    `reliability` is a version's table: rows {"bucket": "0.8-1.0", "n": 40, "accuracy": 0.97}."""
    rows = []
    for row in reliability:
        n, accuracy = row.get("n"), row.get("accuracy")
        if isinstance(n, int) and n > 0 and isinstance(accuracy, int | float):
            rows.append((float(str(row["bucket"]).split("-", 1)[0]), n, float(accuracy)))
    level, seen = None, 0
    for low, n, accuracy in sorted(rows, reverse=True):
        if accuracy < target:
            break
        seen += n
        if seen >= min_reviews:
            level = low
    return level


def retrain_refusal(*, reviewed: int) -> str:
    """Why "Retrain now" would change nothing, or "" when it would train or fit: a version is trained
    on reviewed tickets (`reviewed` of them), and before any review day one learns from
    TRIAGE_DAYONE_MIN_TICKETS stored tickets (services/offline_model.py offline_model_refresh)."""
    if reviewed:
        return ""
    stored = Ticket.objects.count()
    needed = settings.TRIAGE_DAYONE_MIN_TICKETS
    if stored >= needed:
        return ""
    return (
        "Nothing to learn from yet: a version is trained on reviewed tickets (none yet), and before any "
        f"review the queue is learned from {needed} stored tickets ({stored} so far)."
    )


def auto_accept_levels() -> dict[str, float]:
    """{field: the confidence from which a proposal is accepted with no person} for the fields whose
    level the newest trained version's calibration supports at TRIAGE_AUTO_ACCEPT_ACCURACY; empty
    when that setting is off or no version is trained yet. The language has no reviewed calibration
    (its detector is not trained on reviews), but its confidence is already the accuracy measured on
    labelled tickets (language.CALIBRATION): its level is the target accuracy itself."""
    target = float(settings.TRIAGE_AUTO_ACCEPT_ACCURACY or 0)
    if target <= 0:
        return {}
    row = (
        ClassifierVersion.objects.filter(kind=ClassifierVersion.Kind.TRAINED)
        .order_by("-created_at", "-id")
        .values_list("metrics", flat=True)
        .first()
    )
    if not isinstance(row, dict):
        return {}
    reliability = row.get("reliability") or {}
    levels: dict[str, float] = {}
    for name in TAXONOMY_FIELDS:
        level = accept_level(reliability.get(name) or [], target)
        if level is not None:
            levels[name] = level
    if levels:
        levels["language"] = target
    return levels


def _stored_version(run_model: str) -> str | None:
    """The stored offline version a run's model names ("local-tfidf-2+<version>"), if any."""
    return run_model.split("+", 1)[1] if "+" in run_model else None


@dataclass(frozen=True)
class RunVersion:
    """The stored offline version that decided a run, as the ticket page reads it."""

    # {field: calibrated confidence below which held-out accuracy fell under 70%}; empty when the
    # version is not calibrated or no stored version decided (the fixed level applies)
    low_below: dict[str, float] = field(default_factory=dict)
    # reviewed tickets a trained version learned from; None when no trained version decided
    trained_on: int | None = None


def run_version(run_model: str) -> RunVersion:
    """What the stored version a run's model names ("local-...+<version>") says about its proposal,
    in one query; an empty RunVersion for day one, Kimi or a version no longer stored."""
    version = _stored_version(run_model)
    if version is None:
        return RunVersion()
    row = (
        ClassifierVersion.objects.filter(version=version)
        .values_list("kind", "n_reviewed", "metrics__low_below")
        .first()
    )
    if row is None:
        return RunVersion()
    kind, n_reviewed, levels = row
    return RunVersion(
        low_below=_levels(levels), trained_on=n_reviewed if kind == ClassifierVersion.Kind.TRAINED else None
    )


def _levels(stored: object) -> dict[str, float]:
    """A version's stored `metrics.low_below` as {field: level}; empty when it has none."""
    return {str(name): float(level) for name, level in stored.items()} if isinstance(stored, dict) else {}


def low_levels_by_model(run_models: Iterable[str]) -> dict[str, dict[str, float]]:
    """run_version's LOW levels for many runs' models at once (one query for a whole queue page,
    none when no run was decided by a trained version): {run model: {field: level}}, calibrated
    models only."""
    versions = {model: v for model in set(run_models) if (v := _stored_version(model)) is not None}
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
        if found := _levels(stored.get(version)):
            levels[model] = found
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


def calibration_levels() -> list[tuple[str, object]]:
    """(version, its stored low_below levels) of every trained version: what low_flag reads, in
    one query."""
    return list(ClassifierVersion.objects.values_list("version", "metrics__low_below"))


def low_flag(levels_by_version: Sequence[tuple[str, object]] | None = None) -> tuple[Q, bool]:
    """The queue's "Flagged LOW" filter: the tickets ticket_is_low flags, as one filter (reads the
    calibrated versions once, or takes calibration_levels()). A run by a calibrated version is LOW
    where some field's confidence in its result is below that field's level; any other ticket where
    its lowest confidence is below the fixed level. Also whether any calibrated version has levels
    (without one, LOW is exactly "lowest confidence below the fixed level")."""
    if levels_by_version is None:
        levels_by_version = calibration_levels()
    calibrated = Q(pk__in=[])
    by_version: list[Q] = []
    for version, levels in levels_by_version:
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
