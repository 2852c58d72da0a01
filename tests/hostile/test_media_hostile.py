"""Upload sniffing and the media pipeline on hostile files: a clear rejection (bad input, with a
reason) or a valid result, never an unhandled exception nor a "bug" failure, within a time bound.
Inputs: random bytes, truncated real files and real PNG/JPEG/GIF/WebP/MP4/WebM samples with
mutated headers."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests import media_samples as samples
from tests.hostile import strategies as hs
from tests.hostile.seeds import image_seeds, png_claiming_size, video_seeds
from tests.hostile.targets import upload_target


@settings(max_examples=500)
@given(st.binary(max_size=4096))
@example(b"")
@example(b"\x00\x00\x00\x18ftyp")
@example(b"\x00\x00\x00\x01moov" + b"\xff" * 8)
@example(b"\x00\x00\x00\x00mdat")
@example(b"\xff\xff\xff\xffftypisom" + b"\xff" * 64)
def test_random_bytes_are_sniffed_or_refused_with_a_reason(data: bytes):
    upload_target(data, process=False)


@settings(max_examples=60)
@given(hs.mutated(list(image_seeds())))
def test_mutated_real_images_are_normalized_or_refused_as_bad_input(data: bytes):
    upload_target(data)


@settings(max_examples=25)
@given(hs.mutated(list(video_seeds()), header_bias=256))
def test_mutated_real_recordings_are_sampled_or_refused_as_bad_input(data: bytes):
    upload_target(data)


@pytest.mark.parametrize("keep", [0.02, 0.1, 0.5, 0.9, 0.99])
def test_truncated_real_files_are_processed_or_refused_as_bad_input(keep: float):
    for seed in (*image_seeds(), *video_seeds()):
        upload_target(samples.truncated(seed, keep))


@pytest.mark.parametrize(
    ("width", "height"),
    [(0, 0), (1, 2**31 - 1), (2**31 - 1, 2**31 - 1), (100_000, 100_000), (64, 64)],
)
def test_a_png_header_lying_about_its_size_is_refused_quickly(width: int, height: int):
    outcome = upload_target(png_claiming_size(width, height))
    assert not outcome.ok  # the pixels do not match the header: refused (a bomb, or undecodable)
