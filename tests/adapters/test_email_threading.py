from __future__ import annotations

from triage.adapters.email.html import html_to_text
from triage.adapters.email.threading import (
    message_id_normalize,
    message_ids_parse,
    reply_address_make,
    reply_token_find,
    reply_token_make,
    subject_refs,
)


def test_message_ids_are_normalized_and_deduplicated_in_order():
    assert message_id_normalize(" <Abc@Host> ") == "Abc@Host"
    assert message_ids_parse("<a@x> <b@y>\r\n\t<a@x>") == ("a@x", "b@y")
    assert message_ids_parse("a@x, b@y") == ("a@x", "b@y")  # brackets forgotten by some clients
    assert message_ids_parse("") == ()


def test_reply_token_round_trip_and_forgery():
    address = reply_address_make(address="support@triage.local", ticket_id=42, secret="s3cret")
    assert address.startswith("support+t42-")
    assert reply_token_find(["other@x.org", address.upper()], secret="s3cret") == 42
    assert reply_token_find([address], secret="another") is None
    forged = address.replace("t42-", "t43-")
    assert reply_token_find([forged], secret="s3cret") is None
    assert reply_token_make(ticket_id=42, secret="s3cret") != reply_token_make(ticket_id=43, secret="s3cret")


def test_subject_refs():
    assert subject_refs("Re: [TRI-12] Checkout (was tri-7)") == (12, 7)
    assert subject_refs("DISTRI-5 nope") == ()


def test_html_to_text_keeps_structure_and_drops_active_content():
    html = (
        "<p>Hello&amp;bye</p><script>evil()</script><blockquote>quoted<br>line</blockquote>"
        "<a href='https://x.example/doc'>docs</a><a href='javascript:alert(1)'>x</a><pre>a  b</pre>"
    )
    text = html_to_text(html)
    assert "Hello&bye" in text
    assert "evil" not in text and "javascript" not in text
    assert "> quoted" in text
    assert "docs <https://x.example/doc>" in text
    assert "a  b" in text


def test_html_to_text_survives_broken_markup():
    assert html_to_text("<div><p>unclosed <b>bold <i>x</div></td></table><").startswith("unclosed bold x")
