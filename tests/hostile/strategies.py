"""Hypothesis strategies for hostile input: MIME messages built from random headers, charsets,
transfer encodings, boundaries and nesting; byte mutations of real files; model replies."""

from __future__ import annotations

import base64
import binascii
import json
import quopri

from hypothesis import strategies as st

from tests.hostile.targets import TAXONOMY
from triage.fields import TAXONOMY_FIELDS

# Real labels, aliases we map, labels Python does not know, and outright garbage.
CHARSETS = (
    "utf-8", "us-ascii", "iso-8859-1", "windows-1252", "koi8-r", "shift_jis", "iso-2022-jp", "gb2312",
    "big5", "utf-16", "utf-16-le", "utf-7", "utf8mb4", "ks_c_5601-1987", "x-user-defined", "unknown-8bit",
    "x-no-such-charset", "", "\"utf-8\"", "utf-8\x00", "rot13", "base64", "idna", "punycode", "hex",
    "zlib", "bz2", "uu", "quopri",
)  # fmt: skip
ENCODINGS = ("7bit", "8bit", "binary", "base64", "quoted-printable", "x-uuencode", "uuencode", "x-bogus", "")
HEADER_NAMES = (
    "From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "Reply-To",
    "Delivered-To", "X-Original-To", "Auto-Submitted", "Precedence", "X-Auto-Response-Suppress",
    "Return-Path", "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Content-ID",
    "MIME-Version", "X-Triage-Loop", "X-Autoreply",
)  # fmt: skip
TEXT_TYPES = ("text/plain", "text/html", "text/rfc822-headers", "message/delivery-status", "text/enriched")
BINARY_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "application/octet-stream",
    "application/pdf",
    "video/mp4",
)
MULTIPART = ("mixed", "alternative", "related", "report", "signed", "digest", "x-bogus")

_text = st.text(st.characters(codec="utf-8"), max_size=120)
_ascii_line = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)


@st.composite
def header_values(draw: st.DrawFn) -> str:
    """A header value: plain text, RFC 2047 encoded words (valid or broken), addresses, ids."""
    kind = draw(st.sampled_from(("plain", "encoded", "broken-encoded", "address", "ids", "params")))
    if kind == "plain":
        return draw(_ascii_line)
    if kind == "encoded":
        charset = draw(st.sampled_from(CHARSETS))
        data = draw(_text).encode("utf-8", "replace")
        if draw(st.booleans()):
            return f"=?{charset}?B?{base64.b64encode(data).decode()}?="
        return f"=?{charset}?Q?{quopri.encodestring(data, header=True).decode('ascii', 'replace')}?="
    if kind == "broken-encoded":
        return draw(st.sampled_from(("=?", "=?utf-8?", "=?utf-8?B?", "=?utf-8?X?abc?=", "=?utf-8?B?!!!?=")))
    if kind == "address":
        name, local, domain = draw(_text), draw(_ascii_line), draw(_ascii_line)
        return draw(st.sampled_from((f'"{name}" <{local}@{domain}>', f"{local}@{domain}", f"<{local}>, @,")))
    if kind == "ids":
        ids = draw(st.lists(_ascii_line, max_size=5))
        return " ".join(f"<{i}>" for i in ids)
    key, value = draw(_ascii_line), draw(_ascii_line)
    return f'x/y; {key}="{value}"; charset={draw(st.sampled_from(CHARSETS))}; boundary={value}'


def _encode_body(data: bytes, encoding: str, *, corrupt: bool) -> bytes:
    if encoding == "base64":
        out = base64.encodebytes(data)
    elif encoding == "quoted-printable":
        out = quopri.encodestring(data)
    elif encoding in ("x-uuencode", "uuencode"):
        out = b"begin 644 file\n" + b"".join(
            binascii.b2a_uu(data[i : i + 45]) for i in range(0, len(data), 45)
        )
        out += b"`\nend\n"
    else:
        out = data
    if corrupt and out:
        # cut in the middle of a base64 quantum / a =XX escape / a uu line
        out = out[: len(out) // 2] + b"=Z!" + out[len(out) // 2 + 1 :]
    return out


@st.composite
def mime_leaf(draw: st.DrawFn) -> tuple[list[tuple[str, str]], bytes]:
    ctype = draw(st.sampled_from(TEXT_TYPES + BINARY_TYPES))
    charset = draw(st.sampled_from(CHARSETS))
    encoding = draw(st.sampled_from(ENCODINGS))
    if ctype.startswith(("text/", "message/")):
        text = draw(_text)
        try:
            data = text.encode(charset or "utf-8")
        except (LookupError, UnicodeError, TypeError, ValueError):
            data = text.encode("utf-8")
    else:
        data = draw(st.binary(max_size=300))
    headers = [("Content-Type", f'{ctype}; charset="{charset}"')]
    if encoding:
        headers.append(("Content-Transfer-Encoding", encoding))
    if draw(st.booleans()):
        disposition = draw(st.sampled_from(("attachment", "inline", "bogus", "")))
        name = draw(st.sampled_from(("../../etc/passwd", "C:\\x\\shot.png", "a\x00b.png", "")) | _text)
        headers.append(("Content-Disposition", f'{disposition}; filename="{name}"'))
    if draw(st.booleans()):
        headers.append(("Content-ID", f"<{draw(_ascii_line)}>"))
    return headers, _encode_body(data, encoding, corrupt=draw(st.booleans()))


def _render(node: tuple, *, boundary_suffix: str) -> tuple[list[tuple[str, str]], bytes]:
    kind = node[0]
    if kind == "leaf":
        return node[1]
    if kind == "rfc822":
        headers, body = _render(node[2], boundary_suffix=boundary_suffix + "r")
        inner = b"".join(f"{k}: {v}\r\n".encode("utf-8", "surrogateescape") for k, v in node[1] + headers)
        return [("Content-Type", "message/rfc822")], inner + b"\r\n" + body
    _, subtype, boundary, children, close = node
    boundary = boundary + boundary_suffix
    out = [b"preamble\r\n"]
    for i, child in enumerate(children):
        headers, body = _render(child, boundary_suffix=f"{boundary_suffix}{i}")
        out.append(f"--{boundary}\r\n".encode("utf-8", "surrogateescape"))
        out.append(b"".join(f"{k}: {v}\r\n".encode("utf-8", "surrogateescape") for k, v in headers))
        out.append(b"\r\n" + body + b"\r\n")
    if close:
        out.append(f"--{boundary}--\r\n".encode("utf-8", "surrogateescape"))
    return [("Content-Type", f'multipart/{subtype}; boundary="{boundary}"')], b"".join(out)


_boundaries = st.sampled_from(("b1", "", " ", "=_abc", "--", '"', "x" * 200)) | _ascii_line
_tree = st.recursive(
    st.tuples(st.just("leaf"), mime_leaf()),
    lambda children: st.one_of(
        st.tuples(
            st.just("multipart"),
            st.sampled_from(MULTIPART),
            _boundaries,
            st.lists(children, max_size=4),
            st.booleans(),
        ),
        st.tuples(
            st.just("rfc822"),
            st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_values()), max_size=4),
            children,
        ),
    ),
    max_leaves=8,
)


@st.composite
def mime_messages(draw: st.DrawFn) -> bytes:
    """A whole message: random top-level headers over a random MIME tree, maybe damaged after."""
    headers = draw(st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_values()), max_size=10))
    body_headers, body = _render(draw(_tree), boundary_suffix="")
    line_end = draw(st.sampled_from(("\r\n", "\n", "\r")))
    head = "".join(f"{k}: {v}{line_end}" for k, v in headers + body_headers).encode(
        "utf-8", "surrogateescape"
    )
    raw = head + line_end.encode() + body
    damage = draw(st.sampled_from(("none", "none", "truncate", "flip", "nul")))
    if damage == "truncate" and raw:
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif damage == "flip" and raw:
        at = draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + bytes([raw[at] ^ draw(st.integers(1, 255))]) + raw[at + 1 :]
    elif damage == "nul":
        raw = raw.replace(b":", b":\x00", 1)
    return raw


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes], *, header_bias: int = 64) -> bytes:
    """A real file with a few mutations, mostly in its first bytes (where the headers are)."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(("flip", "set", "insert", "delete", "truncate", "int")))
        if not data:
            break
        limit = len(data) - 1 if draw(st.booleans()) else min(len(data) - 1, header_bias)
        at = draw(st.integers(0, limit))
        if op == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif op == "set":
            data[at] = draw(st.sampled_from((0x00, 0xFF, 0x7F, 0x80)))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "truncate":
            del data[at:]
        else:  # a size or dimension field set to an extreme
            data[at : at + 4] = draw(
                st.sampled_from((b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff"))
            )
    return bytes(data)


def _guess(value: str) -> dict:
    return {"value": value, "confidence": 0.5, "source": "body"}


VALID_REPLY = {
    "summary": "The checkout fails.",
    **{name: _guess(TAXONOMY.values(name)[0]) for name in TAXONOMY_FIELDS},
    "language": _guess("en"),
}

_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=50),
    st.sampled_from(("", " ", "\x00", "\ud7ff", "ünïcödé ✓ 🙂", "TRI-1", "x" * 5000)),
)
json_values = st.recursive(
    _json_leaf,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def model_replies(draw: st.DrawFn) -> str:
    """Reply text: a valid reply with fields broken, arbitrary JSON, deep nesting, huge strings,
    fences and prose, tool-call-looking garbage."""
    kind = draw(st.sampled_from(("mutated", "arbitrary", "deep", "huge", "wrapped", "garbage", "text")))
    if kind == "mutated":
        reply = json.loads(json.dumps(VALID_REPLY))
        for _ in range(draw(st.integers(1, 4))):
            key = draw(
                st.sampled_from([*reply, "problem", "steps_to_reproduce", "duplicate_of", "environment"])
            )
            target = reply[key] if isinstance(reply.get(key), dict) and draw(st.booleans()) else reply
            field = (
                draw(st.sampled_from(("value", "confidence", "source", "text")))
                if target is not reply
                else key
            )
            target[field] = draw(json_values)
        return json.dumps(reply, allow_nan=True)
    if kind == "arbitrary":
        return json.dumps(draw(json_values), allow_nan=True)
    if kind == "deep":
        depth = draw(st.integers(100, 200_000))
        opener, closer = draw(st.sampled_from((("[", "]"), ('{"a":', "}"), ('{"summary":[', "]}"))))
        return opener * depth + "1" + closer * draw(st.integers(0, depth))
    if kind == "huge":
        size = draw(st.integers(4000, 2_000_000))
        reply = dict(VALID_REPLY, summary="ä" * size)
        return json.dumps(reply, ensure_ascii=draw(st.booleans()))
    if kind == "wrapped":
        inner = json.dumps(VALID_REPLY)
        return draw(
            st.sampled_from(("```json\n{}\n```", "Here: {} ok", "```\n{}", "{}}}", "{{{}", "[{}]"))
        ).replace("{}", inner, 1)
    if kind == "garbage":
        return draw(
            st.sampled_from(
                (
                    "<|tool_calls_section_begin|><|tool_call_begin|>functions.find_similar_tickets:0"
                    '<|tool_call_argument_begin|>{"query": "x"}<|tool_call_end|>',
                    '{"tool_calls": [{"function": {"name": null, "arguments": 3}}]}',
                    '{"summary": "x", "category": "billing"}',
                    "NaN",
                    "{" * 3 + "}" * 2,
                    "\x00{}",
                    "\ufeff" + json.dumps(VALID_REPLY),
                )
            )
        )
    return draw(st.text(max_size=500))
