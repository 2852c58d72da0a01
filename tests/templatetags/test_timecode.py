"""Moments of a recording as the ticket page names them."""

from __future__ import annotations

import pytest

from triage.templatetags.triage_tags import timecode


@pytest.mark.parametrize(
    ("milliseconds", "shown"),
    [
        (None, "00:00.0"),
        (0, "00:00.0"),
        (749, "00:00.7"),
        (1500, "00:01.5"),
        (59_999, "00:59.9"),
        (61_000, "01:01.0"),
        (3_723_400, "1:02:03.4"),
    ],
)
def test_a_moment_is_named_to_the_tenth_of_a_second(milliseconds, shown):
    assert timecode(milliseconds) == shown


def test_frames_under_a_second_apart_are_named_apart():
    """Eight frames sampled evenly from a 6 s recording: whole seconds named them 00:00, 00:00, 00:01, 00:02..."""
    names = [timecode(round(i * 6000 / 8)) for i in range(8)]
    assert len(set(names)) == 8
