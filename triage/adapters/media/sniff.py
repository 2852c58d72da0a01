"""Decide what an upload is from its first bytes, never from its name or the browser's MIME type.

`filetype` knows the images and most video signatures; it is weak exactly where recordings come
from phones and capture tools, so those are checked here first: ISO-BMFF brands (mp4 / mov / 3gp
all start `....ftyp`; filetype looks for 3gp at the wrong offset and knows three mp4 brands),
MPEG program and transport streams, old QuickTime files without an ftyp box, and ASF.
"""

from __future__ import annotations

import filetype

from triage.adapters.media import MediaRejected, SniffResult

# For the upload form's `accept` attribute and help text.
ACCEPTED_IMAGE_TYPES: tuple[str, ...] = (
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
    "image/bmp",
    "image/heic",
)
ACCEPTED_VIDEO_TYPES: tuple[str, ...] = (
    "video/mp4",
    "video/mpeg",
    "video/quicktime",
    "video/x-msvideo",
    "video/x-flv",
    "video/webm",
    "video/x-ms-wmv",
    "video/3gpp",
)

_PNG = SniffResult(kind="image", mime="image/png", extension="png")
_JPEG = SniffResult(kind="image", mime="image/jpeg", extension="jpg")
_WEBP = SniffResult(kind="image", mime="image/webp", extension="webp")
_GIF = SniffResult(kind="image", mime="image/gif", extension="gif")
_BMP = SniffResult(kind="image", mime="image/bmp", extension="bmp")
# iPhone photos. One mime for HEIC and generic HEIF (mif1/msf1): normalize_image decodes both
# with pillow-heif and stores a JPEG, so the distinction would change nothing downstream.
_HEIC = SniffResult(kind="image", mime="image/heic", extension="heic")
_MP4 = SniffResult(kind="video", mime="video/mp4", extension="mp4")
_MOV = SniffResult(kind="video", mime="video/quicktime", extension="mov")
_3GP = SniffResult(kind="video", mime="video/3gpp", extension="3gp")
_MPEG_PS = SniffResult(kind="video", mime="video/mpeg", extension="mpg")
_MPEG_TS = SniffResult(kind="video", mime="video/mpeg", extension="ts")
_AVI = SniffResult(kind="video", mime="video/x-msvideo", extension="avi")
_FLV = SniffResult(kind="video", mime="video/x-flv", extension="flv")
# Matroska too: Chrome's MediaRecorder labels its files webm, OBS and others write .mkv, and
# ffmpeg reads both with the same demuxer. Kimi's list has webm, not x-matroska.
_WEBM = SniffResult(kind="video", mime="video/webm", extension="webm")
_WMV = SniffResult(kind="video", mime="video/x-ms-wmv", extension="wmv")

# filetype's extension -> our result, for the signatures it gets right.
_BY_FILETYPE: dict[str, SniffResult] = {
    "png": _PNG,
    "apng": _PNG,
    "jpg": _JPEG,
    "webp": _WEBP,
    "gif": _GIF,
    "bmp": _BMP,
    "avi": _AVI,
    "flv": _FLV,
    "webm": _WEBM,
    "mkv": _WEBM,
    "wmv": _WMV,
}

# ISO base media brands (the `ftyp` box). Phones write 3gp4..3gp6 / 3g2a, QuickTime `qt  `,
# everything else some mp4 flavour.
_MP4_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9",
    b"mp41", b"mp42", b"avc1", b"M4V ", b"M4VH", b"M4VP", b"dash", b"mmp4", b"MSNV",
    b"f4v ", b"XAVC", b"NDSC", b"NDSH", b"NDSM", b"NDSP", b"NDSS", b"NDXC", b"NDXH", b"NDXM",
    b"NDXP", b"NDXS", b"mp71", b"cmfc", b"av01", b"hvc1",
}  # fmt: skip
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"mif1", b"msf1"}
# Still-image brands we do not decode: AVIF (see images.py for why) and the multi-view / scalable
# HEVC variants, which libheif support varies for and no phone we see writes.
_STILL_IMAGE_BRANDS = {b"heim", b"heis", b"avif", b"avis"}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P "}
# Top-level atoms that start a QuickTime file written before the ftyp box existed.
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_TS_PACKET = 188
_M2TS_PACKET = 192  # Blu-ray / AVCHD camcorders: a 4-byte timecode before each TS packet


def sniff(head: bytes) -> SniffResult:
    """Classify the first bytes (~8 KB) of a file. Raises MediaRejected for anything we do not accept."""
    if not head:
        raise MediaRejected("the file is empty")
    if (iso := _sniff_iso_bmff(head)) is not None:
        return iso
    if head.startswith(_ASF_GUID):
        return _WMV
    if head.startswith(b"\x00\x00\x01\xba"):  # MPEG-PS pack header (DVD .vob, .mpg)
        return _MPEG_PS
    if _is_transport_stream(head, packet=_TS_PACKET, offset=0) or _is_transport_stream(
        head, packet=_M2TS_PACKET, offset=4
    ):
        return _MPEG_TS
    kind = filetype.guess(head)
    if kind is not None and kind.extension in _BY_FILETYPE:
        return _BY_FILETYPE[kind.extension]
    raise MediaRejected(f"not a supported screenshot or recording ({_describe(head, kind)})")


def _sniff_iso_bmff(head: bytes) -> SniffResult | None:
    if len(head) < 12:
        return None
    box_type = head[4:8]
    if box_type != b"ftyp":
        return _MOV if _is_old_quicktime(head) else None
    size = int.from_bytes(head[0:4], "big")
    major = head[8:12]
    # compatible brands follow the 4-byte minor version, up to the end of the box
    compatible = {head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
    brands = {major} | compatible
    # mif1/msf1 are the generic HEIF brands that AVIF files also carry: AVIF wins when listed.
    if major in _STILL_IMAGE_BRANDS or (major in (b"mif1", b"msf1") and brands & {b"avif", b"avis"}):
        raise MediaRejected(
            "not a supported screenshot or recording (looks like an AVIF or multi-view HEIF photo; "
            "please send PNG, JPEG or HEIC)"
        )
    if major in _HEIC_BRANDS:
        return _HEIC
    if major in _AUDIO_BRANDS:
        raise MediaRejected("not a supported screenshot or recording (looks like an audio file)")
    if major == b"qt  ":
        return _MOV
    if any(brand.startswith(b"3g") for brand in brands):
        return _3GP
    if brands & _MP4_BRANDS:
        return _MP4
    return None


def _is_old_quicktime(head: bytes) -> bool:
    """A QuickTime file from before the ftyp box: top-level atoms, each `size, type`.

    Four letters like "free" at offset 4 also occur in text, so the atom after the first one
    must be a QuickTime atom too, unless the first is the movie itself (moov/mdat to the end).
    """
    size, box_type = int.from_bytes(head[0:4], "big"), head[4:8]
    if box_type not in _QUICKTIME_ATOMS or 1 < size < 8:
        return False
    if size in (0, 1) or size + 8 > len(head):  # 0: to the end of the file; 1: a 64-bit size follows
        return box_type in (b"moov", b"mdat")
    return head[size + 4 : size + 8] in _QUICKTIME_ATOMS | {b"ftyp"}


def _is_transport_stream(head: bytes, *, packet: int, offset: int) -> bool:
    # A lone 0x47 ("G") is common; the sync byte at the same place in 3+ consecutive packets is not.
    packets = min((len(head) - offset) // packet, 16)
    return packets >= 3 and all(head[offset + i * packet] == 0x47 for i in range(packets))


def _describe(head: bytes, kind: filetype.Type | None) -> str:
    """A few words the agent can act on: what the file looks like instead."""
    if kind is not None:
        if kind.mime.startswith("audio/"):
            return f"looks like {kind.extension.upper()} audio"
        return f"looks like {kind.extension.upper()}"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:256].lower()
    if text.startswith(b"%pdf"):
        return "looks like PDF"
    if b"<svg" in text:
        return "looks like an SVG drawing; please send a PNG screenshot of it"
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "looks like HTML"
    if text.startswith(b"<?xml"):
        return "looks like XML"
    if text.startswith(b"#extm3u"):
        return "looks like a playlist, not a recording"
    if _is_text(head):
        return "looks like plain text"
    return "unrecognized binary data"


def _is_text(head: bytes) -> bool:
    sample = head[:1024]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(sample) - 3  # a multi-byte character cut by the sample's end
    return True
