"""The LOW level per field for a run's confidences, from its model version's held-out calibration."""

from __future__ import annotations

from triage.models import ClassifierVersion


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
