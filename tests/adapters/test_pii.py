"""The detectors: each kind found in the five languages, look-alikes left alone, one placeholder a value."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from triage.adapters.pii import Redactor, counts_phrase, cover_boxes, detect, paint_covers


def kinds(text: str, language: str = "") -> list[tuple[str, str]]:
    return [(f.kind, f.value) for f in detect(text, language=language)]


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Schreiben Sie an anna.schmidt@example.de bitte", "de", ("email", "anna.schmidt@example.de")),
        ("Appelez-moi au +33 6 12 34 56 78 svp", "fr", ("phone", "+33 6 12 34 56 78")),
        ("Telefon: 030 12345678", "de", ("phone", "030 12345678")),
        ("Llámeme al 0034 612 345 678", "es", ("phone", "0034 612 345 678")),
        ("ligue para 912 345 678", "pt", ("phone", "912 345 678")),
        ("Call me at (415) 555-2671", "en", ("phone", "(415) 555-2671")),
        ("card 4242 4242 4242 4242 declined", "en", ("card", "4242 4242 4242 4242")),
        ("Karte 5555-5555-5555-4444", "de", ("card", "5555-5555-5555-4444")),
        ("IBAN: DE89 3704 0044 0532 0130 00 merci", "fr", ("iban", "DE89 3704 0044 0532 0130 00")),
        ("IBAN FR1420041010050500013M02606", "fr", ("iban", "FR1420041010050500013M02606")),
        ("mi contraseña: Sol2026!x", "es", ("secret", "Sol2026!x")),
        ("Passwort = hunter2hunter", "de", ("secret", "hunter2hunter")),
        ("mot de passe : azerty99", "fr", ("secret", "azerty99")),
        ("minha senha é: segredo42", "pt", ("secret", "segredo42")),
        ("key sk-proj-abcdefghijklmnop1234 leaked", "en", ("secret", "sk-proj-abcdefghijklmnop1234")),
        ("AWS AKIAIOSFODNN7EXAMPLE", "en", ("secret", "AKIAIOSFODNN7EXAMPLE")),
        ("server 192.168.10.20 refused", "en", ("ip", "192.168.10.20")),
    ],
)
def test_each_kind_is_found(text, language, expected):
    assert expected in kinds(text, language)


def test_jwt_and_private_key():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"
    found = kinds(f"Authorization: {jwt}\n{key}")
    assert ("secret", jwt) in found and ("secret", key) in found


@pytest.mark.parametrize(
    "text",
    [
        "Order #100234556 placed on 2026-11-29 14:03:22",
        "version 2.14.3, build 10.0.19045.3803, v1.2.3.4",
        "invoice 4242424242424241 is wrong",  # fails Luhn
        "Bestellnummer 2026112914, Kunde 4155550123",  # bare digits, no phone word
        "DE89 3704 0044 0532 0130 01",  # IBAN checksum off by one
        "password: [secret 1]",  # already a placeholder
        "the pin on 12/27, ref 1234-5678",
    ],
)
def test_look_alikes_are_left_alone(text):
    assert kinds(text) == []


def test_the_same_value_keeps_its_placeholder_and_cards_show_their_last_four():
    r = Redactor(language="en")
    first = r.redact("From Anna@Example.com, card 4242 4242 4242 4242")
    second = r.redact("again anna@example.com and bob@example.org; 4242424242424242")
    assert first == "From [email 1], card [card ••••4242]"
    assert second == "again [email 1] and [email 2]; [card ••••4242]"
    assert r.counts == {"email": 3, "card": 2}
    assert r.restore("we wrote to [email 2]") == "we wrote to bob@example.org"
    assert counts_phrase(r.counts) == "3 emails, 2 card numbers"


def test_cover_boxes_cover_the_finding_not_the_whole_line_and_paint_is_solid():
    line = {"text": "Contact: anna@example.com", "box": [100, 50, 350, 70]}
    (cover,) = cover_boxes([line, {"text": "Total 129 EUR", "box": [0, 0, 90, 10]}])
    left, top, right, bottom = cover.box
    assert cover.kind == "email" and 170 < left < 190 and right >= 350 and top < 50 and bottom > 70
    img = Image.new("RGB", (400, 100), (255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    painted = Image.open(io.BytesIO(paint_covers(buf.getvalue(), [cover], mime="image/png")))
    assert painted.getpixel((250, 60)) == (0, 0, 0) and painted.getpixel((120, 60)) == (255, 255, 255)


def test_ocr_lines_that_lost_their_spaces_still_give_up_their_numbers():
    line = "Server120.47.139.73Order #9307169849 llame al+44 20 7946 1089Total card4242 4242 4242 4242ref"
    assert [f.kind for f in detect(line, ocr=True)] == ["ip", "phone", "card"]
    assert detect(line) == []  # typed text: a number glued to a word is not one of these
    (cover,) = cover_boxes([{"text": "Server120.47.139.73Order", "box": [0, 0, 240, 20]}])
    assert cover.kind == "ip"


@pytest.mark.parametrize(
    ("line", "kind", "value"),
    [
        # the next word or a date glued on after the value: the checksum or the network's length
        # finds where the value ends
        ("meine Karte 5516-6339-9635-91822026-06-25 19:00:50", "card", "5516-6339-9635-9182"),
        ("mi tarjeta 374431142779136 16/10/2024", "card", "374431142779136"),
        ("IBAN DE83504879589959211264Total 145,18 EUR", "iban", "DE83504879589959211264"),
        ("IBAN PT50000201231234567890154invoice 4628", "iban", "PT50000201231234567890154"),
        ("servidor 173.132.9.21417/05/2024", "ip", "173.132.9.214"),
        ("llame al +351 913 3471322026-07-20 00:05:47", "phone", "+351 913 347132"),
        ("ligue para +33 6 24 59 44 43 - 0rder #3695926195", "phone", "+33 6 24 59 44 43"),
        # the key glued to the word before it, or read without its ñ
        ("2025-08-22 02:27:48mot de passe: U#38P2zqxR - HTTP 404", "secret", "U#38P2zqxR"),
        ("invoice 4913559585942804xmot de passe: xVLnoRG1Mn", "secret", "xVLnoRG1Mn"),
        ("contrasea:Bj2AVQbisq HTTP 400", "secret", "Bj2AVQbisq"),
        ("mot depasse:!BGPR2qCZJ04/04/2024", "secret", "!BGPR2qCZJ"),
        ("clave APIxoxb-7203239615-OwKArj3ozylzo1Idz09t6Kwr24hc0rBgDhY", "secret", "xoxb-7203239615-"),
        (
            "escriba a emma.garcia@mail.example.fr- build 10.0.22201.2209",
            "email",
            "emma.garcia@mail.example.fr",
        ),
    ],
)
def test_ocr_values_glued_to_what_follows_are_found_up_to_their_end(line, kind, value):
    found = [(f.kind, f.value) for f in detect(line, language="es", ocr=True)]
    assert any(k == kind and v.startswith(value) for k, v in found), found
    if kind in ("card", "iban", "ip", "phone", "email"):
        assert (kind, value) in found, "no more than the value"


@pytest.mark.parametrize(
    "line",
    [
        "invoice 4242424242424241x, build 10.0.21513.1703, v1.2.3.4",  # 16 digits failing Luhn
        "Order #1993607177 ref 4094-9350 2025-12-16 11:53:20",
        "DE89 3704 0044 0532 0130 01Total",  # IBAN checksum off by one
        "desenha o gráfico, compass heading 270",
    ],
)
def test_ocr_look_alikes_are_still_left_alone(line):
    assert detect(line, ocr=True) == []


def test_character_edges_put_the_cover_where_the_value_is_drawn():
    # a proportional font: "WWWW" is wide, so the share of characters would put the address too far left
    text = "WWWWWWWWWW mail ana@ex.com"
    visible = [ch for ch in text if ch != " "]
    edges, x = [], 10
    for ch in visible:
        width = 30 if ch == "W" else 8
        edges.append([x, x + width])
        x += width + (6 if ch in "Wl" and x > 0 else 0)
    line = {"text": text, "box": [10, 0, x, 20], "chars": edges}
    (cover,) = cover_boxes([line])
    first, last = edges[visible.index("a", 14)], edges[-1]
    assert cover.box[0] <= first[0] and cover.box[2] >= last[1]
    assert cover.box[0] > edges[visible.index("l")][1] - 8, "the word before stays visible"
    (estimated,) = cover_boxes([{"text": text, "box": line["box"]}])  # old lines without chars
    assert estimated.box[0] < cover.box[0]
    wrong = {**line, "chars": edges[:-1]}  # edges that do not fit the text are not used
    assert cover_boxes([wrong]) == [estimated]
