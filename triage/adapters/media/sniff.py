"""Decide what an upload is from its bytes, never from its name."""

from __future__ import annotations

import filetype

from triage.adapters.media import MediaRejected, SniffResult

# (mime, extension) by filetype's extension; mime spellings are the ones browsers and Kimi know.
_IMAGES = {
    "png": ("image/png", "png"),
    "apng": ("image/png", "png"),
    "jpg": ("image/jpeg", "jpg"),
    "webp": ("image/webp", "webp"),
    "gif": ("image/gif", "gif"),
}
_VIDEOS = {
    "mp4": ("video/mp4", "mp4"),
    "m4v": ("video/mp4", "mp4"),
    "mov": ("video/quicktime", "mov"),
    "3gp": ("video/3gpp", "3gp"),
    "avi": ("video/x-msvideo", "avi"),
    "flv": ("video/x-flv", "flv"),
    "webm": ("video/webm", "webm"),
    "mkv": ("video/webm", "webm"),  # MediaRecorder output is often tagged matroska
    "wmv": ("video/x-ms-wmv", "wmv"),
    "mpg": ("video/mpeg", "mpg"),
}
ACCEPTED_IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
ACCEPTED_VIDEO_TYPES = (
    "video/mp4",
    "video/mpeg",
    "video/quicktime",
    "video/x-msvideo",
    "video/x-flv",
    "video/webm",
    "video/x-ms-wmv",
    "video/3gpp",
)

_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")


def _ftyp_brand(head: bytes) -> bytes | None:
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return head[8:12]
    return None


def _is_mpeg_ts(head: bytes) -> bool:
    # A transport stream is 188-byte packets each starting with the 0x47 sync byte.
    return len(head) >= 188 * 3 and all(head[i] == 0x47 for i in range(0, 188 * 3, 188))


def _describe(head: bytes) -> str:
    kind = filetype.guess(head)
    if kind is not None:
        return f"looks like {kind.extension.upper()}"
    stripped = head.lstrip()[:64].lower()
    if stripped.startswith((b"<svg", b"<?xml")):
        return "looks like SVG/XML"
    if stripped.startswith((b"<!doctype html", b"<html")):
        return "looks like HTML"
    try:
        head[:512].decode("utf-8")
    except UnicodeDecodeError:
        return "unrecognized binary data"
    return "looks like plain text"


def sniff(head: bytes) -> SniffResult:
    """Classify the first bytes of a file. Raises MediaRejected for anything we do not accept."""
    if not head:
        raise MediaRejected("the file is empty")
    brand = _ftyp_brand(head)
    if brand is not None:
        if brand.startswith(b"3g"):
            return SniffResult(kind="video", mime="video/3gpp", extension="3gp")
        if brand == b"qt  ":
            return SniffResult(kind="video", mime="video/quicktime", extension="mov")
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"avif"):
            raise MediaRejected("HEIC/AVIF photos are not supported yet; please send PNG or JPEG")
    if head[:16] == _ASF_GUID:
        return SniffResult(kind="video", mime="video/x-ms-wmv", extension="wmv")
    if head[:4] == b"\x00\x00\x01\xba" or _is_mpeg_ts(head):
        return SniffResult(kind="video", mime="video/mpeg", extension="mpg")
    kind = filetype.guess(head)
    if kind is not None:
        if kind.extension in _IMAGES:
            mime, ext = _IMAGES[kind.extension]
            return SniffResult(kind="image", mime=mime, extension=ext)
        if kind.extension in _VIDEOS:
            mime, ext = _VIDEOS[kind.extension]
            return SniffResult(kind="video", mime=mime, extension=ext)
    raise MediaRejected(f"not a supported screenshot or recording ({_describe(head)})")
