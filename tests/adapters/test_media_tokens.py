from __future__ import annotations

import pytest

from triage.adapters.media.tokens import estimate_image_tokens, estimate_video_tokens


@pytest.mark.parametrize(
    ("size", "tokens"),
    [((1280, 720), 46 * 26), ((1366, 768), 49 * 28), ((1920, 1080), 69 * 39), ((28, 28), 1), ((29, 1), 2)],
)
def test_an_image_under_the_patch_limit_costs_one_token_per_28px_tile(size, tokens):
    assert estimate_image_tokens(*size) == tokens


@pytest.mark.parametrize("size", [(2560, 1440), (2880, 1800), (3840, 2160), (6000, 4000), (20000, 20000)])
def test_a_large_image_is_downscaled_first_so_it_costs_at_most_about_4_2k(size):
    tokens = estimate_image_tokens(*size)
    assert 4000 <= tokens <= 4250


def test_a_very_long_strip_is_capped_on_its_long_side():
    assert estimate_image_tokens(100_000, 10) <= 512 // 2 + 1


def test_an_empty_image_costs_nothing():
    assert estimate_image_tokens(0, 100) == 0
    assert estimate_video_tokens(0, 1920, 1080) == 0


def test_a_1080p_video_costs_about_500_tokens_a_second():
    per_second = estimate_video_tokens(60, 1920, 1080) / 60
    assert 450 <= per_second <= 550


def test_video_tokens_grow_with_duration_in_groups_of_four_frames():
    one_group = estimate_video_tokens(2.0, 640, 360)  # 4 frames at 2 fps, pooled into one
    assert estimate_video_tokens(0.2, 640, 360) == one_group
    assert estimate_video_tokens(4.0, 640, 360) == 2 * one_group
    assert one_group == estimate_image_tokens(640, 360)  # under the per-frame patch limit


def test_no_image_costs_more_than_image_max_tokens():
    from triage.adapters.media.tokens import IMAGE_MAX_TOKENS

    sizes = [(w, h) for w in range(100, 9000, 53) for h in range(100, 9000, 61)] + [(7168, 100), (100, 7168)]
    worst = max(estimate_image_tokens(w, h) for w, h in sizes)
    assert 4096 < worst <= IMAGE_MAX_TOKENS


def test_a_video_with_fewer_than_two_frames_a_second_is_estimated_by_its_own_rate():
    assert estimate_video_tokens(60, 1920, 1080, fps=1.0) * 2 == pytest.approx(
        estimate_video_tokens(60, 1920, 1080), rel=0.02
    )
