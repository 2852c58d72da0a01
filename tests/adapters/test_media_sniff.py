from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from tests import media_samples as samples
from triage.adapters.media import MediaRejected, SniffResult
from triage.adapters.media.sniff import ACCEPTED_IMAGE_TYPES, ACCEPTED_VIDEO_TYPES, sniff

HEAD = 8192


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = b"ftyp" + major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return (len(body) + 4).to_bytes(4, "big") + body + b"\x00\x00\x00\x08free" + bytes(64)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("sniff-videos")
    return {c: samples.video_file(tmp, c, seconds=0.5, audio=False) for c in samples.VIDEO_CONTAINERS}


@pytest.mark.parametrize(
    ("data", "mime", "extension"),
    [
        (samples.image_bytes("PNG"), "image/png", "png"),
        (samples.image_bytes("JPEG"), "image/jpeg", "jpg"),
        (samples.image_bytes("WEBP"), "image/webp", "webp"),
        (samples.image_bytes("WEBP", lossless=True), "image/webp", "webp"),
        (samples.image_bytes("GIF"), "image/gif", "gif"),
        (samples.animated("PNG"), "image/png", "png"),  # APNG
        (samples.image_bytes("BMP"), "image/bmp", "bmp"),
        (samples.heic_bytes((64, 48)), "image/heic", "heic"),
        (_ftyp(b"heix", b"mif1", b"heix"), "image/heic", "heic"),
        (_ftyp(b"mif1", b"mif1", b"heic"), "image/heic", "heic"),
        (_ftyp(b"msf1", b"msf1", b"hevc"), "image/heic", "heic"),
        (_ftyp(b"hevc", b"msf1", b"hevc"), "image/heic", "heic"),
    ],
    ids=[
        "png",
        "jpeg",
        "webp",
        "webp-lossless",
        "gif",
        "apng",
        "bmp",
        "heic",
        "heix",
        "mif1",
        "msf1",
        "hevc",
    ],
)
def test_every_accepted_image_format_is_recognized_from_its_bytes(data: bytes, mime: str, extension: str):
    assert sniff(data[:HEAD]) == SniffResult(kind="image", mime=mime, extension=extension)


@pytest.mark.parametrize(
    ("container", "mime", "extension"),
    [
        ("mp4", "video/mp4", "mp4"),
        ("mov", "video/quicktime", "mov"),
        ("mpeg", "video/mpeg", "mpg"),
        ("ts", "video/mpeg", "ts"),
        ("avi", "video/x-msvideo", "avi"),
        ("flv", "video/x-flv", "flv"),
        ("webm", "video/webm", "webm"),
        ("mkv", "video/webm", "webm"),
        ("wmv", "video/x-ms-wmv", "wmv"),
        ("3gp", "video/3gpp", "3gp"),
    ],
)
def test_every_accepted_video_container_is_recognized_from_its_bytes(
    videos: dict[str, Path], container: str, mime: str, extension: str
):
    head = videos[container].read_bytes()[:HEAD]
    assert sniff(head) == SniffResult(kind="video", mime=mime, extension=extension)


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (_ftyp(b"qt  ", b"qt  "), "video/quicktime"),
        (_ftyp(b"3gp4", b"isom", b"3gp4"), "video/3gpp"),
        (_ftyp(b"3gp6", b"3gp6", b"isom"), "video/3gpp"),
        (_ftyp(b"3g2a", b"3g2a"), "video/3gpp"),
        (_ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), "video/mp4"),
        (_ftyp(b"mp42", b"mp42", b"isom"), "video/mp4"),
        (_ftyp(b"M4V ", b"M4V ", b"M4A ", b"mp42"), "video/mp4"),  # iTunes/Handbrake
        (_ftyp(b"MSNV", b"MSNV", b"isom"), "video/mp4"),  # Sony cameras
        (_ftyp(b"XAVC", b"XAVC"), "video/mp4"),  # Sony cameras (filetype: unknown)
        (_ftyp(b"iso5", b"iso5", b"dash"), "video/mp4"),  # fragmented, e.g. screen recorders
        (b"\x00\x00\x00\x08wide" + b"\x00\x00\x10\x00mdat" + bytes(64), "video/quicktime"),  # pre-ftyp mov
        (b"\x00\x00\x00\x10free" + bytes(8) + b"\x00\x00\x00\x08wide" + bytes(64), "video/quicktime"),
    ],
    ids=["qt", "3gp4", "3gp6", "3g2", "isom", "mp42", "m4v", "msnv", "xavc", "dash", "old-qt", "old-qt-free"],
)
def test_iso_media_brands_decide_between_mp4_mov_and_3gp(head: bytes, mime: str):
    assert sniff(head).mime == mime
    assert sniff(head).kind == "video"


def test_an_m2ts_camcorder_stream_is_mpeg():
    packet = bytes(4) + b"\x47" + bytes(187)  # 4-byte timecode, then a TS packet
    assert sniff(packet * 8).mime == "video/mpeg"


@pytest.mark.parametrize(
    ("head", "words"),
    [
        (samples.TEXT, "plain text"),
        (samples.HTML, "HTML"),
        (samples.SVG, "SVG"),
        (samples.PDF, "PDF"),
        (samples.ZIP, "ZIP"),
        (samples.M3U8, "playlist"),
        (samples.image_bytes("TIFF"), "TIF"),
        (_ftyp(b"avif", b"mif1", b"avif"), "AVIF"),
        (_ftyp(b"mif1", b"mif1", b"avif"), "AVIF"),
        (samples.HTML_WITH_PNG_LATER, "HTML"),
        (_ftyp(b"M4A ", b"M4A ", b"mp42", b"isom"), "audio"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(200), "MP3 audio"),
        (bytes(range(256)) * 4, "unrecognized"),
        ("Grüße aus Köln, die Kasse ist kaputt\n".encode() * 40, "plain text"),
        (b"G" + b"not a transport stream" * 40, "plain text"),
        (b"Get free software now, the checkout is broken\n" * 40, "plain text"),
    ],
    ids=[
        "text",
        "html",
        "svg",
        "pdf",
        "zip",
        "m3u8",
        "tiff",
        "avif",
        "mif1-avif",
        "html-with-png-signature-later",
        "m4a",
        "mp3",
        "binary",
        "utf8",
        "g-sync-byte",
        "free-atom-lookalike",
    ],  # fmt: skip
)
def test_anything_else_is_rejected_with_what_it_looks_like(head: bytes, words: str):
    with pytest.raises(MediaRejected) as err:
        sniff(head[:HEAD])
    assert err.value.reason.startswith("not a supported screenshot or recording (")
    assert words in err.value.reason


def test_an_empty_file_is_rejected():
    with pytest.raises(MediaRejected, match="empty"):
        sniff(b"")


def test_a_text_file_named_png_is_judged_by_its_content():
    # the function never sees a name; this is what "shot.png" full of text looks like to it
    with pytest.raises(MediaRejected, match="plain text"):
        sniff(samples.TEXT)


def test_a_short_head_is_enough_and_never_crashes():
    for size in range(0, 40):
        with contextlib.suppress(MediaRejected):
            sniff(samples.image_bytes("PNG")[:size])


def test_the_accepted_types_lists_cover_everything_sniff_returns(videos: dict[str, Path]):
    image_mimes = {
        sniff(samples.image_bytes(fmt)[:HEAD]).mime for fmt in ("PNG", "JPEG", "WEBP", "GIF", "BMP")
    }
    image_mimes.add(sniff(samples.heic_bytes((64, 48))[:HEAD]).mime)
    video_mimes = {sniff(path.read_bytes()[:HEAD]).mime for path in videos.values()}
    assert image_mimes == set(ACCEPTED_IMAGE_TYPES)
    assert video_mimes == set(ACCEPTED_VIDEO_TYPES)


def test_a_png_with_a_zip_appended_is_still_a_png():
    # polyglot: accepted as the image it starts with; normalize_image re-encodes only the pixels
    assert sniff(samples.png_with_appended(samples.ZIP)[:HEAD]).mime == "image/png"
