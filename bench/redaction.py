"""Redaction figures: recall and precision per kind, in text and in pixels, and the time it adds.

    python bench/redaction.py [--texts 400] [--screens 60] [--recordings 4] [--seed 7]

A labelled set made here, nothing downloaded:
- texts: ticket bodies in en/de/fr/es/pt with planted values (emails, phones, cards, IBANs,
  secrets, IPs) among look-alikes (order numbers, timestamps, version strings, Luhn-failing
  numbers, near-IBANs); every planted value's span is known;
- screenshots: application windows drawn with several fonts (Pillow's, DejaVu Sans/Mono/Serif,
  Liberation Sans), sizes 14-22 px, light and dark themes, the same mix of values and look-alikes,
  every value's pixel box known;
- recordings: frames as the pipeline samples them (1280x720 JPEG) of a window scrolling past
  values.
Text: a value counts as found when findings cover its whole span; precision is the share of
findings that overlap a planted value. Pixels: the screenshot is read by the app's OCR, then
`cover_boxes` + `paint_covers`; a value counts as covered when >= 95 % of its pixel box is under a
cover; precision is the share of covers that overlap a planted value. The time is what redaction
adds: per text ticket the Redactor, per image cover_boxes + paint_covers (OCR runs anyway).

Prints one JSON object per line: {"metric", "value", "unit"[, "goal", "n"]}.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import string
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "triage.settings")

from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from triage.adapters.pii import KINDS, Redactor, cover_boxes, detect, paint_covers  # noqa: E402

GOALS_RECALL = {"email": 0.98, "card": 0.98, "iban": 0.98, "phone": 0.98, "secret": 0.95, "ip": 0.95}
GOAL_PRECISION = 0.95
FONTS = [
    None,  # Pillow's bundled font
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
]
LANGUAGES = ("en", "de", "fr", "es", "pt")


def emit(metric: str, value: float | None, unit: str, **extra: object) -> None:
    shown = None if value is None else round(value, 4)
    print(json.dumps({"metric": metric, "value": shown, "unit": unit, **extra}), flush=True)


# ------------------------------------------------------------------ values and look-alikes

FIRST = ["anna", "jonas", "maria", "joao", "lucia", "pierre", "emma", "noah", "ines", "lukas"]
LAST = ["schmidt", "lopez", "dupont", "silva", "garcia", "muller", "martin", "costa", "rossi"]
DOMAINS = ["example.com", "example.de", "mail.example.fr", "example.es", "example.com.br", "acme.io"]


def _luhn_complete(prefix: str, length: int, rnd: random.Random) -> str:
    body = prefix + "".join(rnd.choice(string.digits) for _ in range(length - len(prefix) - 1))
    total = 0
    for n, ch in enumerate(reversed(body)):
        d = int(ch)
        if n % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def _es_ccc(rnd: random.Random) -> str:
    """A Spanish account number (CCC) with its two national check digits, as real ones have."""
    from stdnum.es import ccc

    bank, branch, account = ("".join(rnd.choice(string.digits) for _ in range(n)) for n in (4, 4, 10))
    return bank + branch + ccc.calc_check_digits(bank + branch + "00" + account) + account


def _iban(country: str, bban: str) -> str:
    moved = bban + country + "00"
    number = int("".join(str(int(c, 36)) for c in moved))
    return f"{country}{98 - number % 97:02d}{bban}"


def make_value(kind: str, rnd: random.Random, language: str) -> str:
    if kind == "email":
        sep = rnd.choice([".", "_", ""])
        return f"{rnd.choice(FIRST)}{sep}{rnd.choice(LAST)}{rnd.randint(1, 99) if rnd.random() < 0.3 else ''}@{rnd.choice(DOMAINS)}"
    if kind == "phone":
        return rnd.choice(
            [
                f"+49 151 {rnd.randint(1000, 9999)}{rnd.randint(1000, 9999)}",
                # French mobiles: 06 10-89 are allocated (libphonenumber checks the ranges)
                f"+33 6 {rnd.randint(10, 89)} {rnd.randint(10, 99)} {rnd.randint(10, 99)} {rnd.randint(10, 99)}",
                f"+34 6{rnd.randint(10, 99)} {rnd.randint(100, 999)} {rnd.randint(100, 999)}",
                f"+351 91{rnd.randint(1, 9)} {rnd.randint(100, 999)} {rnd.randint(100, 999)}",
                f"+1 (415) 555-{rnd.randint(1000, 9999)}",
                f"+44 20 7946 {rnd.randint(1000, 9999)}",
                f"0049 30 {rnd.randint(1000000, 9999999)}",
            ]
        )
    if kind == "card":
        prefix, length = rnd.choice([("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16), ("22", 16)])
        digits = _luhn_complete(prefix, length, rnd)
        if rnd.random() < 0.6:
            groups = [digits[i : i + 4] for i in range(0, len(digits), 4)]
            return rnd.choice([" ", "-"]).join(groups)
        return digits
    if kind == "iban":
        country, bban = rnd.choice(
            [
                ("DE", "".join(rnd.choice(string.digits) for _ in range(18))),
                ("FR", "".join(rnd.choice(string.digits) for _ in range(23))),
                ("ES", _es_ccc(rnd)),
                ("PT", "".join(rnd.choice(string.digits) for _ in range(21))),
                ("NL", "ABNA" + "".join(rnd.choice(string.digits) for _ in range(10))),
            ]
        )
        value = _iban(country, bban)
        if rnd.random() < 0.6:
            return " ".join(value[i : i + 4] for i in range(0, len(value), 4))
        return value
    if kind == "secret":
        alnum = string.ascii_letters + string.digits
        token = "".join(rnd.choice(alnum) for _ in range(rnd.randint(24, 40)))
        return rnd.choice(
            [
                f"sk-{token}",
                f"sk_live_{token}",
                "AKIA" + "".join(rnd.choice(string.ascii_uppercase + string.digits) for _ in range(16)),
                f"ghp_{token}{token[:10]}",
                f"xoxb-{rnd.randint(10**9, 10**10)}-{token}",
            ]
        )
    if kind == "ip":
        return f"{rnd.randint(11, 223)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
    raise ValueError(kind)


PASSWORD_WORDS = {
    "en": "password",
    "de": "Passwort",
    "fr": "mot de passe",
    "es": "contraseña",
    "pt": "senha",
}
LEADS = {
    "email": {
        "en": "write to",
        "de": "schreiben Sie an",
        "fr": "écrivez à",
        "es": "escriba a",
        "pt": "escreva para",
    },
    "phone": {"en": "call", "de": "rufen Sie", "fr": "appelez le", "es": "llame al", "pt": "ligue para"},
    "card": {"en": "my card", "de": "meine Karte", "fr": "ma carte", "es": "mi tarjeta", "pt": "meu cartão"},
    "iban": {"en": "IBAN", "de": "IBAN", "fr": "IBAN", "es": "IBAN", "pt": "IBAN"},
    "secret": {"en": "key", "de": "Schlüssel", "fr": "clé", "es": "clave API", "pt": "chave"},
    "ip": {"en": "server", "de": "Server", "fr": "serveur", "es": "servidor", "pt": "servidor"},
}
FILLER = {
    "en": "The checkout fails after the last step",
    "de": "Die Zahlung schlägt im letzten Schritt fehl",
    "fr": "Le paiement échoue à la dernière étape",
    "es": "El pago falla en el último paso",
    "pt": "O pagamento falha no último passo",
}


def look_alike(rnd: random.Random) -> str:
    return rnd.choice(
        [
            f"Order #{rnd.randint(10**8, 10**10)}",
            f"{rnd.randint(2024, 2026)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d} {rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d}",
            f"version {rnd.randint(1, 20)}.{rnd.randint(0, 30)}.{rnd.randint(0, 99)}",
            f"build 10.0.{rnd.randint(19000, 22999)}.{rnd.randint(1000, 4000)}",
            f"invoice {_luhn_complete('4', 16, rnd)[:-1]}{rnd.choice('0123456789')}x",  # not a number run
            f"ref {rnd.randint(1000, 9999)}-{rnd.randint(1000, 9999)}",
            f"ticket TRI-{rnd.randint(100, 99999)}",
            f"{rnd.randint(1, 28):02d}/{rnd.randint(1, 12):02d}/{rnd.randint(2024, 2026)}",
            f"HTTP {rnd.choice([400, 403, 404, 500, 502])}",
            f"Total {rnd.randint(10, 999)},{rnd.randint(0, 99):02d} EUR",
        ]
    )


@dataclass
class Planted:
    kind: str
    value: str
    start: int
    end: int


def make_segments(rnd: random.Random, language: str, n_values: int) -> list[tuple[str, str | None]]:
    """Lines as (text, kind or None); each planted line has exactly one value."""
    segments: list[tuple[str, str | None]] = []
    for _ in range(n_values):
        kind = rnd.choice(KINDS)
        if kind == "secret" and rnd.random() < 0.4:
            secret = "".join(rnd.choice(string.ascii_letters + string.digits + "!#") for _ in range(10))
            segments.append((f"{PASSWORD_WORDS[language]}: ", None))
            segments.append((secret, "secret"))
        else:
            segments.append((f"{LEADS[kind][language]} ", None))
            segments.append((make_value(kind, rnd, language), kind))
        segments.append((f" — {look_alike(rnd)}", None))
        segments.append(("\n", None))
    return segments


# ------------------------------------------------------------------ text


def text_set(n: int, rnd: random.Random) -> list[tuple[str, str, list[Planted]]]:
    tickets = []
    for _ in range(n):
        language = rnd.choice(LANGUAGES)
        parts = [f"{FILLER[language]}. {look_alike(rnd)}, {look_alike(rnd)}.\n"]
        planted: list[Planted] = []
        pos = len(parts[0])
        for text, kind in make_segments(rnd, language, rnd.randint(1, 4)):
            if kind:
                planted.append(Planted(kind, text, pos, pos + len(text)))
            parts.append(text)
            pos += len(text)
        tickets.append((language, "".join(parts), planted))
    return tickets


def bench_text(n: int, rnd: random.Random) -> None:
    tickets = text_set(n, rnd)
    found = {k: 0 for k in KINDS}
    total = {k: 0 for k in KINDS}
    true_pos = {k: 0 for k in KINDS}
    all_findings = {k: 0 for k in KINDS}
    # libphonenumber loads a region's metadata on first use: once per worker process
    start = time.perf_counter()
    for language, body, _ in tickets[:50]:
        Redactor(language=language).redact(body)
    emit("first 50 text tickets of a process (metadata loading)", (time.perf_counter() - start) * 1000, "ms")
    times = []
    for language, body, planted in tickets:
        start = time.perf_counter()
        Redactor(language=language).redact(body)
        times.append((time.perf_counter() - start) * 1000)
        findings = detect(body, language=language)
        for p in planted:
            total[p.kind] += 1
            covered = [f for f in findings if f.start < p.end and p.start < f.end]
            if covered and min(f.start for f in covered) <= p.start and max(f.end for f in covered) >= p.end:
                found[p.kind] += 1
        for f in findings:
            all_findings[f.kind] += 1
            if any(f.start < p.end and p.start < f.end for p in planted):
                true_pos[f.kind] += 1
    for kind in KINDS:
        if total[kind]:
            emit(
                f"text recall {kind}",
                found[kind] / total[kind],
                "ratio",
                goal=GOALS_RECALL[kind],
                n=total[kind],
            )
    for kind in KINDS:
        if all_findings[kind]:
            emit(
                f"text precision {kind}",
                true_pos[kind] / all_findings[kind],
                "ratio",
                goal=GOAL_PRECISION,
                n=all_findings[kind],
            )
    emit(
        "text precision all",
        sum(true_pos.values()) / max(1, sum(all_findings.values())),
        "ratio",
        goal=GOAL_PRECISION,
        n=sum(all_findings.values()),
    )
    emit("added time per text ticket (median)", statistics.median(times), "ms", goal=5, n=len(times))
    emit("added time per text ticket (p95)", sorted(times)[int(0.95 * len(times)) - 1], "ms", goal=5)


# ------------------------------------------------------------------ pixels


def _font(path: str | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is None or not Path(path).exists():
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size)


def render(rnd: random.Random, *, width: int, height: int, n_values: int, scroll: int = 0, lines=None):
    """A window with lines of text; returns (image, [(kind, value, box)], lines used)."""
    dark = rnd.random() < 0.5
    bg, fg = ((30, 32, 38), (229, 231, 235)) if dark else ((255, 255, 255), (17, 24, 39))
    font_path = rnd.choice(FONTS)
    size = rnd.randint(14, 22)
    font = _font(font_path, size)
    language = rnd.choice(LANGUAGES)
    if lines is None:
        lines = []
        current: list[tuple[str, str | None]] = [(f"{FILLER[language]} — {look_alike(rnd)}", None)]
        for text, kind in make_segments(rnd, language, n_values):
            if text == "\n":
                lines.append(current)
                current = []
            else:
                current.append((text, kind))
        lines.append(current)
    img = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, width, 40), fill=(55, 65, 81))
    draw.text((16, 12), "Account settings", fill=(243, 244, 246), font=_font(font_path, 16))
    planted = []
    y = 70 - scroll
    for line in lines:
        x = 40
        for text, kind in line:
            if 45 < y < height - size * 2:
                draw.text((x, y), text, fill=fg, font=font)
                if kind:
                    planted.append((kind, text, draw.textbbox((x, y), text, font=font)))
            x += int(draw.textlength(text, font=font))
        y += int(size * 2.2)
    return img, planted, lines, language


def _covered_share(box, covers) -> float:
    left, top, right, bottom = box
    area = max(1, (right - left) * (bottom - top))
    mask = Image.new("L", (right - left, bottom - top), 0)
    d = ImageDraw.Draw(mask)
    for c in covers:
        cl, ct, cr, cb = c.box
        if cr <= left or cl >= right or cb <= top or ct >= bottom:
            continue
        d.rectangle((cl - left, ct - top, cr - left - 1, cb - top - 1), fill=255)
    return mask.histogram()[255] / area


def bench_pixels(screens: int, recordings: int, rnd: random.Random) -> None:
    from triage.adapters.ocr import RapidOcrReader

    reader = RapidOcrReader()
    images: list[tuple[bytes, str, list, str]] = []
    for _ in range(screens):
        img, planted, _, language = render(rnd, width=1440, height=900, n_values=rnd.randint(2, 5))
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        images.append((buf.getvalue(), "image/png", planted, language))
    for _ in range(recordings):  # frames of a window scrolling past the values, as sampled (JPEG)
        lines = None
        for n in range(4):
            img, planted, lines, language = render(
                rnd, width=1280, height=720, n_values=6, scroll=n * 60, lines=lines
            )
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=85)
            images.append((buf.getvalue(), "image/jpeg", planted, language))

    found = {k: 0 for k in KINDS}
    total = {k: 0 for k in KINDS}
    covers_all = covers_true = 0
    added, ocr_ms = [], []
    for data, mime, planted, language in images:
        result = reader.read(data)
        ocr_ms.append(result.elapsed_ms)
        lines = [line.as_dict() for line in result.lines]  # as RenditionText stores them
        start = time.perf_counter()
        covers = cover_boxes(lines, language=language)
        paint_covers(data, covers, mime=mime)
        added.append((time.perf_counter() - start) * 1000)
        for kind, _value, box in planted:
            total[kind] += 1
            if _covered_share(box, covers) >= 0.95:
                found[kind] += 1
        for c in covers:
            covers_all += 1
            cl, ct, cr, cb = c.box
            if any(cl < b[2] and b[0] < cr and ct < b[3] and b[1] < cb for _, _, b in planted):
                covers_true += 1
    for kind in KINDS:
        if total[kind]:
            emit(
                f"pixels recall {kind}",
                found[kind] / total[kind],
                "ratio",
                goal=GOALS_RECALL[kind],
                n=total[kind],
            )
    emit("pixels precision all", covers_true / max(1, covers_all), "ratio", goal=GOAL_PRECISION, n=covers_all)
    emit(
        "added time per image (median, on top of OCR)", statistics.median(added), "ms", goal=150, n=len(added)
    )
    emit("added time per image (p95)", sorted(added)[int(0.95 * len(added)) - 1], "ms", goal=150)
    emit("OCR time per image (median, for scale)", statistics.median(ocr_ms), "ms", n=len(ocr_ms))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=400)
    parser.add_argument("--screens", type=int, default=60)
    parser.add_argument("--recordings", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    bench_text(args.texts, random.Random(args.seed))
    if args.screens or args.recordings:
        bench_pixels(args.screens, args.recordings, random.Random(args.seed + 1))


if __name__ == "__main__":
    main()
