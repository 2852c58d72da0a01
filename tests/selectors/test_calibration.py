from __future__ import annotations

import pytest

from tests.factories import calibrated_version
from triage.selectors.calibration import accept_level, auto_accept_levels

TAXONOMY = ("category", "priority", "queue", "sentiment")


def _band(bucket: str, n: int, accuracy: float | None) -> dict:
    return {"bucket": bucket, "n": n, "mean_confidence": None, "accuracy": accuracy}


def test_the_level_is_the_lowest_band_from_which_held_out_accuracy_reaches_the_target():
    table = [
        _band("0.0-0.2", 10, 0.2),
        _band("0.2-0.4", 20, 0.5),
        _band("0.4-0.6", 40, 0.9),
        _band("0.6-0.8", 40, 0.97),
        _band("0.8-1.0", 60, 0.99),
    ]
    assert accept_level(table, 0.95) == 0.6
    assert accept_level(table, 0.98) == 0.8
    assert accept_level(table, 0.999) is None


def test_a_strong_top_band_does_not_carry_a_weak_band_under_it():
    # pooled, 0.4 and up is right 0.954 of the time; the 0.4-0.6 tickets alone only 0.9
    table = [_band("0.4-0.6", 40, 0.9), _band("0.6-0.8", 40, 0.97), _band("0.8-1.0", 100, 0.99)]
    assert accept_level(table, 0.95) == 0.6
    # and a band that falls short ends the walk down, even if a band under it looks fine
    table = [_band("0.2-0.4", 40, 1.0), _band("0.4-0.6", 40, 0.9), _band("0.8-1.0", 100, 0.99)]
    assert accept_level(table, 0.95) == 0.8


def test_too_few_held_out_reviews_support_no_level():
    assert accept_level([_band("0.8-1.0", 29, 1.0)], 0.95) is None
    assert accept_level([_band("0.8-1.0", 30, 1.0)], 0.95) == 0.8
    assert accept_level([_band("0.8-1.0", 0, None)], 0.95) is None


@pytest.mark.django_db
def test_no_levels_when_auto_accept_is_off_or_nothing_is_trained_yet(settings):
    settings.TRIAGE_AUTO_ACCEPT_ACCURACY = 0
    calibrated_version(dict.fromkeys(TAXONOMY, 0.6))
    assert auto_accept_levels() == {}
    settings.TRIAGE_AUTO_ACCEPT_ACCURACY = 0.95
    assert auto_accept_levels() == dict.fromkeys(TAXONOMY, 0.6) | {"language": 0.95}


@pytest.mark.django_db
def test_before_any_calibration_nothing_has_a_level(settings):
    settings.TRIAGE_AUTO_ACCEPT_ACCURACY = 0.95
    assert auto_accept_levels() == {}


@pytest.mark.django_db
def test_levels_come_from_the_newest_version_and_a_field_that_never_reaches_the_target_has_none(settings):
    settings.TRIAGE_AUTO_ACCEPT_ACCURACY = 0.95
    calibrated_version(dict.fromkeys(TAXONOMY, 0.2), version="v-old")
    newest = calibrated_version({"category": 0.8, "priority": 0.4, "queue": 0.6}, version="v-new")
    newest.metrics["reliability"]["sentiment"] = [_band("0.8-1.0", 100, 0.9)]
    newest.save()
    assert auto_accept_levels() == {"category": 0.8, "priority": 0.4, "queue": 0.6, "language": 0.95}
