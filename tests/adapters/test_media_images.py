from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from tests import media_samples as samples
from triage.adapters.media import ImageLimits, MediaRejected, NormalizedImage
from triage.adapters.media.images import TRANSIENT_ERRORS, is_animated, normalize_image, sample_animation
from triage.adapters.media.sniff import sniff

LIMITS = ImageLimits(max_pixels=16384 * 14 * 14, max_side=4096, max_source_pixels=60_000_000)


@pytest.fixture
def write(tmp_path: Path):
    def _write(data: bytes, name: str = "upload.bin") -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return _write


def _normalize(write, data: bytes, limits: ImageLimits = LIMITS) -> NormalizedImage:
    return normalize_image(write(data), limits=limits)


def _open(result: NormalizedImage) -> Image.Image:
    img = Image.open(io.BytesIO(result.data))
    img.load()
    return img


def _png_chunks(data: bytes) -> list[bytes]:
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return chunks


def _jpeg_markers(data: bytes) -> list[int]:
    """Marker bytes of the segments before the image data (APP1 = 0xE1 holds EXIF/XMP, APP2 ICC)."""
    markers, pos = [], 2
    while pos < len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length
    return markers


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (samples.image_bytes("PNG"), "image/png"),
        (samples.image_bytes("GIF"), "image/png"),
        (samples.image_bytes("WEBP", lossless=True), "image/png"),
        (samples.image_bytes("WEBP", quality=80), "image/png"),  # a lossy screenshot: few colours
        (samples.image_bytes("JPEG", quality=90), "image/jpeg"),
        (samples.image_bytes("JPEG", photo=True), "image/jpeg"),
        (samples.image_bytes("WEBP", photo=True), "image/jpeg"),
        (samples.image_bytes("BMP"), "image/png"),
        (samples.heic_bytes((800, 600)), "image/jpeg"),
        (samples.heic_bytes((800, 600), photo=False), "image/jpeg"),  # HEIC is lossy: always a photo
    ],
    ids=[
        "png",
        "gif",
        "webp-lossless",
        "webp-lossy-screenshot",
        "jpeg-screenshot",
        "jpeg-photo",
        "webp-photo",
        "bmp",
        "heic-photo",
        "heic-screenshot",
    ],
)
def test_every_accepted_image_format_is_sniffed_and_normalized(write, data: bytes, mime: str):
    assert sniff(data[:8192]).kind == "image"
    result = _normalize(write, data)
    assert result.mime == mime
    assert result.extension == {"image/png": "png", "image/jpeg": "jpg"}[mime]
    img = _open(result)
    assert img.format == {"image/png": "PNG", "image/jpeg": "JPEG"}[mime]
    assert (result.width, result.height) == img.size == (800, 600)
    assert (result.source_width, result.source_height) == (800, 600)


def test_screenshots_stay_lossless_png(write):
    source = samples.screenshot_image((640, 400))
    buf = io.BytesIO()
    source.save(buf, format="PNG")
    img = _open(_normalize(write, buf.getvalue()))
    assert img.format == "PNG"
    assert img.convert("RGB").tobytes() == source.tobytes()  # pixel for pixel: text stays sharp


def test_a_photo_saved_as_png_becomes_jpeg(write):
    result = _normalize(write, samples.image_bytes("PNG", photo=True))
    assert result.mime == "image/jpeg"
    assert len(result.data) < len(samples.image_bytes("PNG", photo=True)) / 2


def test_exif_orientation_is_applied(write):
    # stored 200x100 with orientation 6 (camera held upright): displayed 100x200, rotated clockwise
    result = _normalize(write, samples.photo_jpeg((200, 100), exif_orientation=6))
    assert (result.width, result.height) == (100, 200)
    assert (result.source_width, result.source_height) == (100, 200)
    img = _open(result).convert("RGB")
    # the red block stored top-left ends up top-right after a clockwise quarter turn
    red, green, blue = img.getpixel((img.width - 5, 5))
    assert red > 200 and green < 80 and blue < 80
    assert img.getpixel((5, 5))[0] < 200 or img.getpixel((5, 5))[1] > 80


@pytest.mark.parametrize("orientation", [3, 8])
def test_other_orientations_are_applied_too(write, orientation: int):
    result = _normalize(write, samples.photo_jpeg((200, 100), exif_orientation=orientation))
    expected = (200, 100) if orientation == 3 else (100, 200)
    assert (result.width, result.height) == expected


def test_gps_and_all_exif_are_stripped_from_a_photo(write):
    data = samples.photo_jpeg((400, 300), exif_orientation=1, gps=True)
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the sample does carry GPS
    result = _normalize(write, data)
    img = _open(result)
    assert not img.getexif()
    assert "exif" not in img.info and "icc_profile" not in img.info and "xmp" not in img.info
    assert b"Exif" not in result.data and b"Acme Phones" not in result.data
    assert 0xE1 not in _jpeg_markers(result.data) and 0xE2 not in _jpeg_markers(result.data)


def test_text_chunks_exif_and_icc_are_stripped_from_a_screenshot(write):
    result = _normalize(write, samples.png_with_metadata())
    assert result.mime == "image/png"
    chunks = _png_chunks(result.data)
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND"
    assert not {b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"iCCP", b"sRGB", b"tIME"} & set(chunks)
    assert b"jane@customer.example" not in result.data
    assert not _open(result).getexif()


def test_cmyk_without_a_profile_is_converted_to_rgb(write):
    source = samples.photo_image((300, 200))
    result = _normalize(write, samples.cmyk_jpeg((300, 200)))
    img = _open(result)
    assert img.mode == "RGB" and result.mime == "image/jpeg"
    # colours survive the trip (a naive channel reinterpretation would invert them)
    got, want = img.resize((1, 1)).getpixel((0, 0)), source.resize((1, 1)).getpixel((0, 0))
    assert all(abs(g - w) < 40 for g, w in zip(got, want, strict=True))


def test_cmyk_with_an_unusable_profile_falls_back_to_a_plain_conversion(write):
    # an RGB profile on CMYK pixels: littleCMS refuses the transform; we must not fail the upload
    result = _normalize(write, samples.cmyk_jpeg((300, 200), icc=samples.srgb_icc()))
    img = _open(result)
    assert img.mode == "RGB" and "icc_profile" not in img.info


def test_16_bit_grayscale_is_scaled_not_clipped_to_white(write):
    result = _normalize(write, samples.image_bytes("PNG", size=(256, 64), mode="I;16"))
    img = _open(result).convert("L")
    left, right = img.getpixel((2, 32)), img.getpixel((253, 32))
    assert left < 10 and right > 245  # the full 16-bit range maps onto 0..255


def test_palette_with_transparency_keeps_its_alpha_as_png(write):
    result = _normalize(write, samples.palette_png_with_transparency((320, 200)))
    img = _open(result)
    assert result.mime == "image/png" and img.mode == "RGBA"
    assert img.getpixel((10, 100))[3] == 0 and img.getpixel((300, 100))[3] == 255


def test_grayscale_with_alpha_keeps_its_alpha(write):
    img = _open(_normalize(write, samples.la_png((320, 200))))
    assert img.mode in ("RGBA", "LA")
    assert img.getchannel("A").getextrema() == (0, 255)


def test_plain_grayscale_stays_grayscale(write):
    img = _open(_normalize(write, samples.image_bytes("PNG", mode="L")))
    assert img.mode == "L"


def test_a_photo_with_alpha_is_flattened_on_white_for_jpeg(write):
    photo = samples.photo_image((400, 300)).convert("RGBA")
    photo.putalpha(Image.linear_gradient("L").resize((400, 300)))  # top transparent
    buf = io.BytesIO()
    photo.save(buf, format="PNG")
    result = _normalize(write, buf.getvalue())
    img = _open(result)
    assert result.mime == "image/jpeg" and img.mode == "RGB"
    assert min(img.getpixel((200, 0))) > 240  # fully transparent -> white, not black


def test_opaque_alpha_is_dropped(write):
    data = samples.image_bytes("PNG", mode="RGBA")
    img = _open(_normalize(write, data))
    assert img.mode == "RGB"


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_an_animation_gives_its_first_frame(write, fmt: str):
    result = _normalize(write, samples.animated(fmt))
    red, green, blue = _open(result).convert("RGB").getpixel((10, 10))
    assert red > 200 and blue < 60


def test_a_large_screenshot_is_downscaled_to_max_pixels_keeping_the_aspect_ratio(write):
    limits = ImageLimits(max_pixels=500_000, max_side=4096, max_source_pixels=60_000_000)
    result = _normalize(write, samples.image_bytes("PNG", size=(2880, 1800)), limits)
    assert result.width * result.height <= 500_000
    assert result.width * result.height > 490_000  # as large as allowed, not much smaller
    assert result.width / result.height == pytest.approx(2880 / 1800, rel=0.01)
    assert (result.source_width, result.source_height) == (2880, 1800)


def test_a_tall_screenshot_is_limited_by_its_longest_side(write):
    limits = ImageLimits(max_pixels=10_000_000, max_side=1000, max_source_pixels=60_000_000)
    result = _normalize(write, samples.image_bytes("PNG", size=(400, 3000)), limits)
    assert result.height == 1000 and result.width == 133


def test_a_big_jpeg_is_downscaled_through_draft_decoding(write):
    limits = ImageLimits(max_pixels=16384 * 14 * 14, max_side=1920, max_source_pixels=60_000_000)
    result = _normalize(write, samples.image_bytes("JPEG", size=(4000, 3000), photo=True), limits)
    assert (result.width, result.height) == (1920, 1440)
    assert _open(result).size == (1920, 1440)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
@pytest.mark.parametrize("resample", [Image.Resampling.BICUBIC, Image.Resampling.LANCZOS])
def test_the_banded_resize_matches_one_whole_image_resize(mode: str, resample):
    from triage.adapters.media.images import _resize

    source = Image.merge(
        "RGBA",
        [
            Image.effect_noise((1700, 1300), 60).convert("L"),
            Image.linear_gradient("L").resize((1700, 1300)),
            Image.radial_gradient("L").resize((1700, 1300)),
            Image.linear_gradient("L").rotate(90).resize((1700, 1300)),
        ],
    ).convert(mode)
    target = (1000, 765)
    banded = _resize(source, target, resample=resample)
    whole = source.resize(target, resample, reducing_gap=2.0)
    assert banded.size == whole.size and banded.mode == whole.mode
    # no seam: at most one level of rounding anywhere, and almost everywhere none
    diff = ImageChops.difference(banded, whole)
    if mode == "RGBA":  # premultiplied alpha magnifies rounding: RGBA is resized in one call
        assert diff.getbbox() is None
        return
    extrema = diff.getextrema()
    bands = [extrema] if mode == "L" else extrema
    assert max(hi for _, hi in bands) <= 1
    differing = target[0] * target[1] - diff.convert("L").histogram()[0]
    assert differing < 0.05 * target[0] * target[1]


def test_a_small_image_is_never_upscaled(write):
    result = _normalize(write, samples.image_bytes("PNG", size=(64, 48)))
    assert (result.width, result.height) == (64, 48)


def test_a_decompression_bomb_is_rejected_from_its_header(write):
    data = samples.bomb_png(100_000, 100_000)
    assert len(data) < 1000
    with pytest.raises(MediaRejected) as err:
        _normalize(write, data)
    assert "pixels" in err.value.reason


def test_an_image_over_the_source_limit_is_rejected_before_decoding(write):
    limits = ImageLimits(max_pixels=1_000_000, max_side=4096, max_source_pixels=1_000_000)
    with pytest.raises(MediaRejected, match=r"2000x1000 pixels; at most 1 megapixels"):
        _normalize(write, samples.bomb_png(2000, 1000), limits)


def test_pillows_warning_zone_counts_as_a_bomb(write, monkeypatch):
    # Pillow only warns between MAX_IMAGE_PIXELS and twice that; a generous setting must not open it
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)
    limits = ImageLimits(max_pixels=1_000_000, max_side=4096, max_source_pixels=100_000_000)
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(MediaRejected, match="megapixels"):
        _normalize(write, samples.bomb_png(1500, 1000), limits)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_a_truncated_image_is_rejected_with_a_reason(write, fmt: str):
    data = samples.truncated(samples.image_bytes(fmt, photo=True), keep=0.5)
    with pytest.raises(MediaRejected) as err:
        _normalize(write, data)
    assert err.value.reason.startswith(("the image could not be decoded", "the file is not a"))
    assert "upload.bin" not in err.value.reason  # no storage paths in what agents read


def test_a_zero_byte_file_is_rejected(write):
    with pytest.raises(MediaRejected, match="empty"):
        _normalize(write, b"")


@pytest.mark.parametrize(
    "data",
    [samples.TEXT, samples.HTML, samples.PDF, samples.SVG, samples.POLYGLOT_GIF_JS],
    ids=["text", "html", "pdf", "svg", "gif-js-polyglot"],
)
def test_files_that_are_not_images_are_rejected_with_a_reason(write, data: bytes):
    with pytest.raises(MediaRejected) as err:
        normalize_image(write(data, "screenshot.png"), limits=LIMITS)
    assert err.value.reason
    assert "screenshot.png" not in err.value.reason


@pytest.mark.parametrize("fmt", ["TIFF", "PPM", "AVIF"])
def test_formats_we_do_not_accept_are_not_decoded_even_though_pillow_could(write, fmt: str):
    with pytest.raises(MediaRejected, match="not a PNG, JPEG, WebP, GIF, BMP or HEIC"):
        _normalize(write, samples.image_bytes(fmt))


def test_nothing_here_is_retried():
    # a file that fails to decode fails the same way next time
    assert TRANSIENT_ERRORS == ()
    assert not issubclass(MediaRejected, TRANSIENT_ERRORS or (type(None),))


def test_a_bmp_screenshot_stays_lossless(write):
    source = samples.screenshot_image((320, 200))
    buf = io.BytesIO()
    source.save(buf, format="BMP")
    img = _open(_normalize(write, buf.getvalue()))
    assert img.format == "PNG"
    assert img.convert("RGB").tobytes() == source.tobytes()


def test_gps_and_exif_are_stripped_from_a_heic_photo(write):
    data = samples.heic_bytes((400, 300), exif_gps=True)
    assert b"Acme Phones" in data  # the sample does carry EXIF
    result = _normalize(write, data)
    assert result.mime == "image/jpeg"
    assert not _open(result).getexif()
    assert b"Acme Phones" not in result.data
    assert 0xE1 not in _jpeg_markers(result.data) and 0xE2 not in _jpeg_markers(result.data)


def test_a_truncated_heic_is_rejected_with_a_reason(write):
    with pytest.raises(MediaRejected) as err:
        _normalize(write, samples.truncated(samples.heic_bytes()))
    assert err.value.reason


@pytest.mark.parametrize("trailer", [samples.ZIP, samples.HTML], ids=["zip", "html"])
def test_a_polyglot_png_is_accepted_but_its_trailing_bytes_are_never_stored(write, trailer: bytes):
    result = _normalize(write, samples.png_with_appended(trailer))
    assert result.mime == "image/png"
    assert trailer not in result.data
    assert _png_chunks(result.data)[-1] == b"IEND" and result.data.endswith(b"IEND\xaeB`\x82")


def test_a_file_named_png_that_is_html_is_rejected(write):
    with pytest.raises(MediaRejected):
        normalize_image(write(samples.HTML_WITH_PNG_LATER, "shot.png"), limits=LIMITS)


# --- animations ---


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animations_are_recognized(write, fmt: str):
    assert is_animated(write(samples.animated(fmt)))


@pytest.mark.parametrize(
    "data",
    [samples.image_bytes("GIF"), samples.image_bytes("PNG"), samples.photo_jpeg(), b"", samples.TEXT],
    ids=["gif", "png", "jpeg", "empty", "text"],
)
def test_still_images_and_junk_are_not_animated(write, data: bytes):
    assert not is_animated(write(data))


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_frames_are_spaced_by_time_not_by_index(write, fmt: str):
    # frame 0 is shown for 3 s, then nine frames of 100 ms: 3.9 s in all
    data = samples.animation_with_durations(fmt, [3000] + [100] * 9)
    frames = sample_animation(write(data), count=4, limits=LIMITS)
    # moments 0, 975, 1950, 2925 ms all fall in the first frame: it is returned once
    assert [f.timestamp_ms for f in frames] == [0]
    frames = sample_animation(write(data), count=40, limits=LIMITS)
    assert [f.timestamp_ms for f in frames] == [0, 3000, 3100, 3200, 3300, 3400, 3500, 3600, 3700, 3800]
    greys = [_open_frame(f).convert("L").getpixel((5, 5)) for f in frames]
    assert greys == sorted(greys) and greys[0] < 5 and greys[-1] > 80


def test_even_durations_give_evenly_spaced_frames(write):
    data = samples.animation_with_durations("GIF", [200] * 10)
    frames = sample_animation(write(data), count=5, limits=LIMITS)
    assert [f.timestamp_ms for f in frames] == [0, 400, 800, 1200, 1600]
    assert all(f.mime == "image/png" and (f.width, f.height) == (160, 120) for f in frames)


def test_missing_or_zero_durations_count_as_100_ms_like_browsers(write):
    data = samples.animation_with_durations("GIF", [0] * 4)
    frames = sample_animation(write(data), count=4, limits=LIMITS)
    assert [f.timestamp_ms for f in frames] == [0, 100, 200, 300]


def test_transparent_frames_are_flattened_on_white(write):
    data = samples.animation_with_durations("GIF", [100, 100], alpha=True)
    frame = sample_animation(write(data), count=1, limits=LIMITS)[0]
    img = _open_frame(frame)
    assert img.mode == "RGB"
    assert img.getpixel((2, 2)) == (255, 255, 255)
    assert img.getpixel((60, 40)) == (0, 0, 0)


def test_frames_are_downscaled_within_the_limits(write):
    data = samples.animation_with_durations("WEBP", [100] * 3, size=(800, 400))
    limits = ImageLimits(max_pixels=200 * 100, max_side=4096, max_source_pixels=60_000_000)
    frames = sample_animation(write(data), count=3, limits=limits)
    assert len(frames) == 3
    assert all((f.width, f.height) == (200, 100) == _open_frame(f).size for f in frames)


def test_an_animation_with_too_many_frames_is_rejected(write):
    data = samples.animation_with_durations("GIF", [100] * 30, size=(8, 8))
    with pytest.raises(MediaRejected, match="frames; at most 20 are accepted"):
        sample_animation(write(data), count=4, limits=LIMITS, max_frames_scanned=20)


def test_a_broken_later_frame_rejects_the_whole_animation(write):
    with pytest.raises(MediaRejected, match="could not be decoded"):
        sample_animation(write(samples.gif_with_broken_later_frame()), count=4, limits=LIMITS)


def test_a_later_frame_that_enlarges_the_canvas_past_the_limit_is_rejected(write):
    limits = ImageLimits(max_pixels=LIMITS.max_pixels, max_side=4096, max_source_pixels=1_000_000)
    with pytest.raises(MediaRejected, match="megapixels"):
        sample_animation(write(samples.gif_with_oversized_frame()), count=2, limits=limits)


def test_an_animation_bomb_is_rejected_from_its_header(write):
    with pytest.raises(MediaRejected):
        sample_animation(write(samples.bomb_png()), count=2, limits=LIMITS)


def test_animation_frames_carry_no_metadata(write):
    img = Image.open(io.BytesIO(samples.animated("PNG")))
    frames = [img.copy()]
    img.seek(1)
    frames.append(img.copy())
    buf = io.BytesIO()
    frames[0].save(
        buf, format="PNG", save_all=True, append_images=frames[1:], icc_profile=samples.srgb_icc(),
        exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00", pnginfo=_text_info(),
    )  # fmt: skip
    for frame in sample_animation(write(buf.getvalue()), count=2, limits=LIMITS):
        assert b"jane@customer.example" not in frame.data
        if frame.mime == "image/png":
            assert not {b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"iCCP", b"sRGB"} & set(_png_chunks(frame.data))
        assert not _open_frame(frame).getexif()


def _text_info():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "jane@customer.example")
    return info


def _open_frame(frame) -> Image.Image:
    img = Image.open(io.BytesIO(frame.data))
    img.load()
    return img


def test_a_downscaled_screenshot_stays_as_sharp_as_a_lanczos_resize(write):
    """The resized screenshot is measured against Pillow's LANCZOS of the same source: libvips's
    lanczos3 is 52 dB from it; a soft filter (BILINEAR, 44 dB) would fail here."""
    import math

    source = samples.screenshot_image((1920, 1080))
    buf = io.BytesIO()
    source.save(buf, format="PNG")
    limits = ImageLimits(max_pixels=1200 * 675, max_side=4096, max_source_pixels=60_000_000)
    result = _normalize(write, buf.getvalue(), limits)
    img = _open(result).convert("RGB")
    reference = source.resize(img.size, Image.Resampling.LANCZOS)
    diff = ImageChops.difference(img, reference)
    squares = sum(n * (i % 256) ** 2 for i, n in enumerate(diff.histogram()))
    mse = squares / (img.width * img.height * 3)
    assert mse == 0 or 10 * math.log10(255**2 / mse) >= 48


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
@pytest.mark.parametrize("size", [(1, 1), (640, 3), (700, 1100)])
def test_the_png_writer_round_trips_every_pixel_with_a_valid_zlib_stream(mode, size):
    import zlib

    from triage.adapters.media.images import _png_encode

    bands = [Image.effect_noise(size, 40 + 20 * i).convert("L") for i in range(len(mode))]
    source = bands[0] if mode == "L" else Image.merge(mode, bands)
    data = _png_encode(source)
    decoded = Image.open(io.BytesIO(data))
    decoded.load()
    assert decoded.mode == mode and decoded.size == size
    assert decoded.tobytes() == source.tobytes()
    idat, pos = b"", 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    assert len(zlib.decompress(idat)) == size[1] * (size[0] * len(mode) + 1)  # checks the Adler-32
