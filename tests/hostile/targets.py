"""The hostile-input targets shared by the property tests (tests/hostile/test_*.py) and the fuzzing run
(bench/fuzz.py).

Each target takes one input, runs the adapter the way the worker or the web process does, and checks
the contract: it returns a well-formed value or raises the adapter's own clear error type (whose
reason is non-empty). Anything else (another exception, a broken invariant, a "bug" result from the
media pipeline, too much time) raises `Crash`, which is what both the tests and the fuzzer count.
Pure: no database, no settings.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from triage.adapters.email import EmailUnparseable, ParsedEmail
from triage.adapters.email.headers import header_peek
from triage.adapters.email.parse import email_parse
from triage.adapters.llm.schema import InvalidReply, TriageResult, parse_triage_reply
from triage.adapters.llm.tools import run_tool
from triage.adapters.media import ImageLimits, MediaRejected
from triage.adapters.media.pipeline import MediaConfig, MediaResult, process_media
from triage.adapters.media.sniff import sniff
from triage.fields import TAXONOMY_FIELDS
from triage.taxonomy_defaults import taxonomy_from_rows

TAXONOMY = taxonomy_from_rows()
OUR_ADDRESSES = ("support@triage.local",)
SNIFF_BYTES = 8192  # what upload_check reads (triage.services.media._SNIFF_BYTES)
# Small limits so a hostile header that declares a huge picture is refused from the header alone.
MEDIA_CONFIG = MediaConfig(
    image_limits=ImageLimits(max_pixels=1024 * 1024, max_side=1024, max_source_pixels=20_000_000),
    frames=3,
    frame_max_side=160,
    ffmpeg_timeout_s=20,
    video_max_duration_s=600,
    media_token_budget=20_000,
)
# Time bounds per input: CPU seconds of this process for the pure parsers (a loaded machine
# stretches wall time 20x), wall seconds for the media pipeline; a hang or a blow-up is the catch.
EMAIL_MAX_S = 5.0
MEDIA_MAX_S = 60.0
REPLY_MAX_S = 2.0


class Crash(AssertionError):
    """The adapter broke its contract on this input."""


@dataclass(frozen=True)
class Outcome:
    ok: bool  # a value came back (False: the adapter's own clear rejection)
    detail: str = ""


def _timed(limit_s: float, what: str, started: float, *, clock=time.process_time) -> None:
    elapsed = clock() - started
    if elapsed > limit_s:
        raise Crash(f"{what} took {elapsed:.1f} s (bound {limit_s} s)")


def email_target(raw: bytes) -> Outcome:
    """The intake worker's parse and the webhook's header peek, on arbitrary bytes."""
    started = time.process_time()
    try:
        peek = header_peek(raw)
    except Exception as exc:
        raise Crash(f"header_peek raised {type(exc).__name__}: {exc}") from exc
    if not all(
        isinstance(v, str) for v in (peek.message_id, peek.content_sha256, peek.subject, peek.from_email)
    ):
        raise Crash("header_peek returned a non-str field")
    if len(peek.subject) > 300 or len(peek.from_email) > 254:
        raise Crash("header_peek returned an unbounded field")
    if "\x00" in peek.message_id + peek.subject + peek.from_email:
        raise Crash("header_peek returned a NUL, which PostgreSQL refuses")
    try:
        parsed = email_parse(raw, our_addresses=OUR_ADDRESSES)
    except EmailUnparseable as exc:
        if not exc.reason:
            raise Crash("EmailUnparseable without a reason") from exc
        _timed(EMAIL_MAX_S, "email_parse", started)
        return Outcome(ok=False, detail=exc.reason)
    except Exception as exc:
        raise Crash(f"email_parse raised {type(exc).__name__}: {exc}") from exc
    _timed(EMAIL_MAX_S, "email_parse", started)
    _email_check(parsed, raw=raw)
    # what the fuzzer tells branches apart by: body source, automatic kind, parts, parser defects
    detail = f"{parsed.body_source} {parsed.auto_kind} {'p' * min(len(parsed.parts), 3)} {' '.join(parsed.defects)}"
    return Outcome(ok=True, detail=detail)


def _email_check(parsed: ParsedEmail, *, raw: bytes) -> None:
    for name in ("message_id", "subject", "from_email", "from_name", "text", "new_text", "quoted_text"):
        if not isinstance(getattr(parsed, name), str):
            raise Crash(f"ParsedEmail.{name} is {type(getattr(parsed, name)).__name__}, not str")
    texts = [parsed.message_id, parsed.subject, parsed.from_email, parsed.from_name, parsed.text]
    texts += [parsed.new_text, parsed.quoted_text, parsed.auto_reason, *parsed.to, *parsed.cc]
    texts += [*parsed.delivered_to, *parsed.in_reply_to, *parsed.references, *parsed.defects]
    texts += [s for p in parsed.parts for s in (p.filename, p.content_type, p.content_id, p.drop_reason)]
    if any("\x00" in t for t in texts):
        raise Crash("a NUL in the parsed text: PostgreSQL text and jsonb refuse it")
    if parsed.body_source not in ("plain", "html", "none"):
        raise Crash(f"body_source {parsed.body_source!r}")
    if len(parsed.subject) > 300 or len(parsed.from_name) > 200:
        raise Crash("subject or sender name not bounded")
    for address in (*parsed.to, *parsed.cc, *parsed.delivered_to):
        if not isinstance(address, str) or len(address) > 254:
            raise Crash("an address is not a bounded str")
    # Decoding (base64, quoted-printable, uuencode) only ever shrinks a part, and each part's
    # bytes come from its own slice of the message: attachments can never outgrow the input.
    total = sum(len(p.data) for p in parsed.parts)
    if total > len(raw):
        raise Crash(f"attachments hold {total} bytes from a {len(raw)}-byte message")
    for part in parsed.parts:
        if not isinstance(part.data, bytes) or not part.data:
            raise Crash("an attachment without bytes")
        if "/" in part.filename or "\\" in part.filename or len(part.filename) > 255:
            raise Crash(f"unsafe attachment name {part.filename!r}")


def upload_target(data: bytes, *, tmp_dir: Path | None = None, process: bool = True) -> Outcome:
    """What an upload goes through: sniffing its first bytes (the web process), then the media
    worker's pipeline on the whole file. A "bug" result is a crash: hostile bytes must be refused as
    bad input, not break the worker's code."""
    started = time.monotonic()
    try:
        sniffed = sniff(data[:SNIFF_BYTES])
    except MediaRejected as exc:
        if not exc.reason:
            raise Crash("MediaRejected without a reason") from exc
        return Outcome(ok=False, detail=exc.reason)
    except Exception as exc:
        raise Crash(f"sniff raised {type(exc).__name__}: {exc}") from exc
    if sniffed.kind not in ("image", "video") or not sniffed.extension.isalnum():
        raise Crash(f"sniff returned {sniffed}")
    if not process:
        return Outcome(ok=True, detail=sniffed.mime)
    with tempfile.TemporaryDirectory(prefix="hostile-", dir=tmp_dir) as folder:
        path = Path(folder) / f"upload.{sniffed.extension}"
        path.write_bytes(data)
        result = process_media(path, sniff=sniffed, config=MEDIA_CONFIG)
    # wall time: ffmpeg runs in child processes, which this process's CPU clock does not count
    _timed(MEDIA_MAX_S, f"process_media ({sniffed.mime})", started, clock=time.monotonic)
    _media_check(result)
    return Outcome(ok=result.accepted, detail=result.reason or sniffed.mime)


def _media_check(result: MediaResult) -> None:
    if result.accepted:
        if not result.renditions:
            raise Crash("accepted without renditions")
        for out in result.renditions:
            if not out.data or out.width <= 0 or out.height <= 0:
                raise Crash(f"an empty or sizeless rendition {out.kind}")
            if max(out.width, out.height) > MEDIA_CONFIG.image_limits.max_side:
                raise Crash(f"rendition {out.kind} of {out.width}x{out.height} outgrew the limits")
        return
    if result.failure_kind != "bad_input" or not result.reason:
        raise Crash(f"media pipeline failed as {result.failure_kind!r}: {result.reason}")


def reply_target(text: str) -> Outcome:
    """A model reply through the parser the Kimi client uses."""
    started = time.process_time()
    try:
        result = parse_triage_reply(text, taxonomy=TAXONOMY)
    except InvalidReply as exc:
        if not str(exc):
            raise Crash("InvalidReply without a message") from exc
        _timed(REPLY_MAX_S, "parse_triage_reply", started)
        return Outcome(ok=False, detail=str(exc)[:200])
    except Exception as exc:
        raise Crash(f"parse_triage_reply raised {type(exc).__name__}: {str(exc)[:200]}") from exc
    _timed(REPLY_MAX_S, "parse_triage_reply", started)
    if not isinstance(result, TriageResult) or not result.summary.strip():
        raise Crash("a result without a summary")
    for name in TAXONOMY_FIELDS:
        if getattr(result, name).value not in TAXONOMY.values(name):
            raise Crash(f"{name} {getattr(result, name).value!r} is outside the taxonomy")
    if len(result.language.value) != 2:
        raise Crash(f"language {result.language.value!r}")
    if not 0.0 <= result.min_confidence <= 1.0:
        raise Crash("confidence outside [0, 1]")
    return Outcome(ok=True)


class _Lookup:
    """A TicketLookup that answers like the real one (lists of dicts) without a database."""

    def similar_tickets(self, *, query: str, limit: int) -> list[dict]:
        assert isinstance(query, str) and 1 <= limit <= 10
        return [{"reference": "TRI-1", "subject": query[:20]}][:limit]

    def requester_tickets(self, *, limit: int) -> list[dict]:
        assert 1 <= limit <= 10
        return []


def tool_call_target(name: str, arguments: str) -> Outcome:
    """A tool call as the model sent it: always an answer object for the model, never an exception."""
    try:
        output = run_tool(_Lookup(), name=name, arguments=arguments)
    except Exception as exc:
        raise Crash(f"run_tool raised {type(exc).__name__}: {str(exc)[:200]}") from exc
    if not isinstance(output, dict) or not (set(output) <= {"error", "tickets"}) or not output:
        raise Crash(f"run_tool answered {output!r}")
    return Outcome(ok="tickets" in output, detail=str(output.get("error", "")))
