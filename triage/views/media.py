"""Uploaded files and their renditions, streamed from storage to logged-in users only.

Everything here is user-supplied bytes served from our own origin, so every response carries
`nosniff` and a sandboxing CSP: even a file that slipped past the content checks can never run
script as us. Byte ranges (one range per request) make seeking in a long recording work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import IO

from django.core.files.storage import default_storage
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotModified,
)
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_safe

from triage.adapters.media.sniff import ACCEPTED_IMAGE_TYPES, ACCEPTED_VIDEO_TYPES
from triage.adapters.pii import paint_covers
from triage.models import Attachment, Rendition
from triage.roles import agent_required
from triage.services.redaction import attachment_has_findings, redacts_for_user, rendition_covers

MEDIA_CSP = "default-src 'none'; sandbox"
# Shown in the page only when the type is one we accept and a browser renders without running
# anything; everything else (SVG, HTML, PDF, an unknown type) is a download. "image/" is not enough:
# image/svg+xml carries script.
INLINE_TYPES = frozenset((*ACCEPTED_IMAGE_TYPES, *ACCEPTED_VIDEO_TYPES)) - {"image/svg+xml"}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(Exception):
    """The Range asks only for bytes past the end of the file: answer 416."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def byte_range_parse(header: str | None, *, size: int) -> ByteRange | None:
    """The single byte range a `Range` header asks for, clamped to the file (RFC 9110 §14).

    None means "send the whole file": no header, or one we may ignore (another unit, several
    ranges, bad syntax, a last position before the first). Raises RangeNotSatisfiable when the
    range starts past the end, or is an empty suffix.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix range: the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return ByteRange(start=max(0, size - suffix), end=size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable
    return ByteRange(start=start, end=min(end, size - 1))


class _Slice:
    """A read-only window on an open file; FileResponse streams it block by block."""

    def __init__(self, fileobj: IO[bytes], byte_range: ByteRange) -> None:
        fileobj.seek(byte_range.start)
        self._file = fileobj
        self._remaining = byte_range.length

    def read(self, size: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        size = self._remaining if size < 0 else min(size, self._remaining)
        data = self._file.read(size)
        self._remaining -= len(data)
        return data

    def close(self) -> None:
        self._file.close()


def _protect(response: HttpResponseBase, *, etag: str) -> HttpResponseBase:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    response["Cache-Control"] = "private, max-age=3600"
    return response


def stored_file_response(
    request: HttpRequest, *, key: str, mime: str, sha256: str, filename: str
) -> HttpResponseBase:
    """Stream a stored object, honouring If-None-Match, If-Range and a single-range Range."""
    if not key:  # expired (retention) or erased: the row stays, the file is gone
        raise Http404("The file has expired or was erased")
    etag = f'"{sha256}"'  # keys are content hashes, so the hash is a strong validator
    if request.headers.get("If-None-Match") == etag:
        return _protect(HttpResponseNotModified(), etag=etag)
    try:
        fileobj = default_storage.open(key, "rb")
    except FileNotFoundError:
        raise Http404("The file is missing from storage") from None
    size = fileobj.size
    range_header = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range != etag:
        range_header = None  # the client's partial copy is of other bytes: send them all
    inline = mime.split(";", 1)[0].strip().lower() in INLINE_TYPES
    try:
        byte_range = byte_range_parse(range_header, size=size)
    except RangeNotSatisfiable:
        fileobj.close()
        response: HttpResponseBase = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return _protect(response, etag=etag)
    if byte_range is None:
        response = FileResponse(fileobj, content_type=mime, as_attachment=not inline, filename=filename)
    else:
        response = FileResponse(
            _Slice(fileobj, byte_range),
            status=206,
            content_type=mime,
            as_attachment=not inline,
            filename=filename,
        )
        response["Content-Length"] = str(byte_range.length)
        response["Content-Range"] = byte_range.content_range(size)
    return _protect(response, etag=etag)


@require_safe
@agent_required
def attachment_file(request: HttpRequest, attachment_id: int) -> HttpResponseBase:
    attachment = get_object_or_404(
        Attachment.objects.only("file", "mime", "sha256", "original_name"), id=attachment_id
    )
    if not attachment.file:
        raise Http404("The file has expired (retention) or was erased")
    if redacts_for_user(request.user) and attachment_has_findings(attachment_id=attachment.id):
        return withheld_response()
    return stored_file_response(
        request,
        key=attachment.file.name,
        mime=attachment.mime,
        sha256=attachment.sha256,
        filename=attachment.original_name or attachment.file.name.rsplit("/", 1)[-1],
    )


@require_safe
@agent_required
def rendition_file(request: HttpRequest, rendition_id: int) -> HttpResponseBase:
    rendition = get_object_or_404(
        Rendition.objects.only("file", "mime", "sha256", "kind", "index", "attachment_id"), id=rendition_id
    )
    extension = rendition.file.name.rsplit(".", 1)[-1]
    if redacts_for_user(request.user):
        redacted = redacted_rendition_response(rendition)
        if redacted is not None:
            return redacted
    return stored_file_response(
        request,
        key=rendition.file.name,
        mime=rendition.mime,
        sha256=rendition.sha256,
        filename=f"{rendition.kind.lower()}-{rendition.attachment_id}-{rendition.index}.{extension}",
    )


def redacted_rendition_response(rendition: Rendition) -> HttpResponseBase | None:
    """For a user who sees tickets redacted (TRIAGE_REDACT=everywhere without the "view sensitive
    data" permission): a screenshot or frame with its findings covered; a recording's video and
    sheets withheld when any of its frames shows something. None: serve the file as it is."""
    if rendition.kind in (Rendition.Kind.IMAGE, Rendition.Kind.FRAME):
        covers = rendition_covers(rendition_id=rendition.id)
        if not covers:
            return None
        with default_storage.open(rendition.file.name, "rb") as fh:
            data = paint_covers(fh.read(), covers, mime=rendition.mime)
        return _protect(
            HttpResponse(data, content_type=rendition.mime), etag=f'"{rendition.sha256}-redacted"'
        )
    if attachment_has_findings(attachment_id=rendition.attachment_id):
        return withheld_response()
    return None


def withheld_response() -> HttpResponse:
    response = HttpResponse(
        "Withheld: this file shows personal data, and you see this ticket redacted.",
        status=403,
        content_type="text/plain; charset=utf-8",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
