"""The MIME parser on hostile bytes: it returns a ParsedEmail of str fields with bounded attachments,
or raises EmailUnparseable with a reason; nothing else, whatever the headers, charsets, transfer
encodings, boundaries or nesting."""

from __future__ import annotations

import base64
import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.hostile import strategies as hs
from tests.hostile.seeds import email_seeds
from tests.hostile.targets import email_target
from triage.adapters.email import EmailUnparseable
from triage.adapters.email.headers import header_peek
from triage.adapters.email.parse import email_parse


@settings(max_examples=300)
@given(st.binary(max_size=2000))
@example(b"")
@example(b"\x00" * 64)
@example(b"From: a@b\r\n\r\n")
@example(b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n--\r\n")
def test_arbitrary_bytes_parse_or_are_refused_with_a_reason(raw: bytes):
    email_target(raw)


@settings(max_examples=300)
@given(hs.mime_messages())
def test_generated_messages_with_random_headers_charsets_encodings_and_nesting_parse(raw: bytes):
    email_target(raw)


@settings(max_examples=200)
@given(hs.mutated(list(email_seeds()), header_bias=400))
def test_mutated_recorded_messages_parse(raw: bytes):
    email_target(raw)


def test_a_message_nested_thousands_deep_is_parsed_without_recursing_to_death():
    inner = b"From: a@example.com\r\nSubject: deep\r\n\r\nhello\r\n"
    for i in range(3000):
        inner = (
            f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n".encode()
            + inner
            + f"\r\n--b{i}--\r\n".encode()
        )
    raw = b"From: x@example.com\r\nSubject: nest\r\n" + inner
    outcome = email_target(raw)  # before the fix: RecursionError out of the stdlib parser
    assert not outcome.ok
    assert "nested too deeply" in outcome.detail


def test_headers_only_bytes_that_are_not_mail_are_refused_with_a_reason():
    with pytest.raises(EmailUnparseable, match="not an email"):
        email_parse(b"\x89PNG\r\n\x1a\n" + bytes(200))


def test_attachments_never_hold_more_bytes_than_the_message():
    data = bytes(range(256)) * 40

    raw = (
        b"From: a@example.com\r\nSubject: att\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="../../x.bin"\r\n\r\n'
        + base64.encodebytes(data)
        + b"\r\n--B--\r\n"
    )
    parsed = email_parse(raw)
    assert [p.data for p in parsed.parts] == [data]
    assert parsed.parts[0].filename == "x.bin"
    email_target(raw)


def test_a_header_of_a_million_encoded_words_is_decoded_in_linear_time():
    # bench/fuzz.py found it: the stdlib's decode_header is quadratic in the number of encoded
    # words (this 2.6 MB subject took 18 s of CPU before the cap; 40 MB, the size limit, hours)
    raw = b"From: a@example.com\r\nSubject: " + b"=?utf-8?B?" * 260_000 + b"\r\n\r\nbody"
    started = time.process_time()
    parsed = email_parse(raw)
    header_peek(raw)
    assert time.process_time() - started < 1.0
    assert parsed.text == "body" and len(parsed.subject) <= 300
