"""MIME -> ParsedEmail over the .eml fixtures in tests/fixtures/email (no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage.adapters.email import EmailUnparseable
from triage.adapters.email.headers import content_hash, header_peek
from triage.adapters.email.parse import email_parse, reply_split, text_decode

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "email"
OURS = ("support@triage.local",)


def parse(name: str):
    return email_parse((FIXTURES / name).read_bytes(), our_addresses=OURS)


def test_every_fixture_parses_or_raises_unparseable_never_crashes():
    for path in [p for p in FIXTURES.iterdir() if p.is_file()]:
        try:
            parsed = email_parse(path.read_bytes(), our_addresses=OURS)
        except EmailUnparseable:
            assert path.suffix == ".bin"
        else:
            assert parsed.subject, path.name


def test_plain_text_new_message_splits_off_the_signature():
    parsed = parse("plain_new.eml")
    assert parsed.message_id == "CAF-plain-001@mail.example.com"
    assert parsed.from_email == "maria@example.com"
    assert parsed.from_name == "Maria Lopez"
    assert parsed.to == ("support@triage.local",)
    assert parsed.body_source == "plain"
    assert parsed.new_text.endswith("Thanks,\nMaria")
    assert "Head of Ops" in parsed.quoted_text
    assert parsed.auto_kind == ""


def test_multipart_alternative_prefers_plain_text_and_decodes_the_subject():
    parsed = parse("alternative.eml")
    assert parsed.subject == "Passwort zurücksetzen geht nicht"
    assert "Zurücksetzen" in parsed.text
    assert "HTML VERSION" not in parsed.text


def test_html_only_becomes_safe_text_without_script_or_style():
    parsed = parse("html_only.eml")
    assert parsed.body_source == "html"
    assert "19 % VAT" in parsed.text
    assert "Please fix it – urgent." in parsed.text  # windows-1252 en dash
    assert "- Invoice 2026-031" in parsed.text
    for unsafe in ("alert", "color:red", "<", "steal"):
        assert unsafe not in parsed.text


def test_apple_mail_inline_image_is_a_part_with_its_content_id():
    (part,) = parse("apple_inline.eml").parts
    assert part.filename == "Screenshot 2026-03-04.png"
    assert part.content_id == "F00D-1@apple"
    assert part.inline
    assert part.data.startswith(b"\x89PNG")


def test_outlook_inline_images_without_disposition_are_found_and_the_pixel_is_dropped():
    parts = {p.filename: p for p in parse("outlook_inline.eml").parts}
    assert set(parts) == {"image001.png", "image002.png", "image003.gif"}
    assert parts["image001.png"].inline and parts["image001.png"].drop_reason == ""
    assert parts["image003.gif"].drop_reason == "tracking pixel"


def test_attachment_names_never_carry_folders():
    parts = parse("attachments.eml").parts
    assert [(p.filename, p.content_type) for p in parts] == [
        ("crash.png", "image/png"),
        ("log.pdf", "application/pdf"),
    ]


def test_latin1_body_and_encoded_words_decode():
    parsed = parse("latin1.eml")
    assert parsed.subject == "Problème de facturation"
    assert parsed.from_name == "André Dupré"
    assert "erronée" in parsed.text and "dépasse" in parsed.text


def test_unknown_and_lying_charsets_are_decoded_or_replaced():
    parsed = parse("broken_charset.eml")
    assert "café" in parsed.subject
    assert "Café crème: l'été" in parsed.text  # x-bogus-charset: the bytes were UTF-8
    assert "caf" in parsed.text  # invalid UTF-8: falls back instead of raising
    assert "无法登录账户" in parsed.text  # labelled gb2312, decoded as its superset


@pytest.mark.parametrize(
    ("data", "charset", "expected"),
    [
        (b"caf\xc3\xa9", "utf-8", "café"),
        (b"caf\xe9", "utf-8", "café"),
        (b"caf\xe9", "no-such-charset", "café"),
        (b"caf\xe9", None, "café"),
        ("Привет".encode("koi8-r"), "koi8-r", "Привет"),
        (b"\x81\x8d\x8f", "utf-8", "\ufffd\ufffd\ufffd"),
    ],
)
def test_text_decode_never_raises(data, charset, expected):
    assert text_decode(data, charset) == expected


def test_forwarded_message_text_and_its_image_are_kept():
    parsed = parse("forwarded.eml")
    assert "take care of this" in parsed.text
    assert "Forwarded message" in parsed.text
    assert "account locked" in parsed.new_text  # a forward's content counts as new text
    assert [p.filename for p in parsed.parts] == ["locked.png"]


def test_reply_threading_headers_and_quote_split():
    parsed = parse("reply_in_reply_to.eml")
    assert parsed.in_reply_to == ("CAF-plain-001@mail.example.com",)
    assert parsed.references == ("CAF-plain-001@mail.example.com",)
    assert parsed.new_text == "It also happens with PayPal now."
    assert "every card payment fails" in parsed.quoted_text


def test_outlook_original_message_block_is_quoted():
    parsed = parse("outlook_reply.eml")
    assert parsed.new_text == "Still hanging after the update."
    assert parsed.quoted_text.startswith("-----Original Message-----")


@pytest.mark.parametrize(
    "attribution",
    [
        "Am Do., 3. Dez. 2026 um 10:14 Uhr schrieb Anna Schmidt <anna@example.com>:",  # Gmail, German
        "Am 03.12.2026 um 10:14 schrieb Anna Schmidt:",  # Thunderbird, German
        "Op do 3 dec. 2026 om 10:14 schreef Anna de Vries <anna@example.com>:",  # Gmail, Dutch
        "Le jeu. 3 déc. 2026 à 10:14, Anna <anna@example.com> a écrit :",  # Gmail, French
        "Am 03.12.2026 schrieb:",
    ],
)
def test_a_reply_is_split_at_its_attribution_line_in_each_language(attribution):
    text = f"Der Export bricht immer noch ab.\n\n{attribution}\n> Bitte senden Sie einen Screenshot.\n"
    assert reply_split(text) == (
        "Der Export bricht immer noch ab.",
        f"{attribution}\n> Bitte senden Sie einen Screenshot.",
    )


def test_a_sentence_about_someone_writing_is_not_an_attribution():
    text = "Am Montag schrieb mir Ihr Kollege, dass es behoben ist\nEs ist nicht behoben."
    assert reply_split(text) == (text, "")


def test_reply_split_of_text_that_is_all_quote_keeps_the_text():
    assert reply_split("> only a quote") == ("> only a quote", "")


@pytest.mark.parametrize(
    ("name", "kind"),
    [("auto_reply.eml", "auto_reply"), ("bounce.eml", "bounce"), ("plain_new.eml", "")],
)
def test_auto_replies_and_bounces_are_marked(name, kind):
    assert parse(name).auto_kind == kind


def test_mail_from_our_own_address_is_a_loop():
    raw = b"From: support@triage.local\r\nTo: support@triage.local\r\nSubject: x\r\n\r\nbody\r\n"
    assert email_parse(raw, our_addresses=OURS).auto_kind == "loop"


def test_not_an_email_is_unparseable():
    with pytest.raises(EmailUnparseable):
        email_parse((FIXTURES / "not_an_email.bin").read_bytes())
    with pytest.raises(EmailUnparseable):
        email_parse(b"   ")


def test_header_peek_keys_by_message_id_or_normalized_content():
    peek = header_peek((FIXTURES / "plain_new.eml").read_bytes())
    assert peek.message_id == "CAF-plain-001@mail.example.com"
    raw = (FIXTURES / "no_message_id.eml").read_bytes()
    assert header_peek(raw).message_id == ""
    # another relay: LF line endings, an extra Received header, trailing spaces: same content key
    relayed = b"Received: from relay2 by mx; Sun, 8 Mar 2026\n" + raw.replace(b"\r\n", b"\n").replace(
        b"again.", b"again.  "
    )
    assert content_hash(relayed) == content_hash(raw)
    assert content_hash(raw.replace(b"nightly", b"weekly")) != content_hash(raw)
