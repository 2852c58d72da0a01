"""Personal data and secrets in ticket text and OCR lines: find them, replace them, cover them (pure).

What is found, and how each finding is confirmed, so that order numbers, timestamps and version
strings are left alone:
- email addresses: a plain pattern (the domain needs a dot and a letter TLD);
- phone numbers: Google's libphonenumber (`phonenumberslite`, metadata only) with leniency VALID,
  international (+, 00) in any format, national numbers in the ticket language's country; a bare
  run of digits counts only after a word like "phone", "Tel.", "téléphone", "teléfono", "telefone";
- payment cards: 13-19 digits, grouped or not, with a card network's prefix and a valid Luhn sum;
- IBANs: `python-stdnum`'s ISO 13616 check (country length and mod-97);
- secrets: keys and tokens of well-known shapes (sk-/sk_live_, AKIA, ghp_, github_pat_, xox?-,
  glpat-, AIza, Bearer ...), JWTs, PEM private keys, and `password: value`-style pairs in English,
  German, French, Spanish and Portuguese (the key stays, the value goes);
- IPv4 addresses (four octets <= 255, not a version string such as "v1.2.3.4").

Why not Microsoft Presidio: its analyzer loads a spaCy pipeline (en_core_web_lg, ~600 MB, one per
language) for names and locations, which we do not detect; its pattern recognizers for our kinds
are the same checksums as here, and it would bring spaCy, its models and their download step.
phonenumberslite (~5 MB) and python-stdnum (~2 MB) are the checks Presidio itself delegates to.

`Redactor` keeps one placeholder per value across a ticket: the same address is "[email 1]" in the
subject, the body, every follow-up and the OCR text, so the model can still reason about it.
`cover_boxes` turns OCR lines into the rectangles to paint over in an image.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import phonenumbers
from stdnum import iban as stdnum_iban

KINDS = ("email", "phone", "card", "iban", "secret", "ip")
# how the ticket page counts them: "2 emails, 1 card number"
KIND_LABELS = {
    "email": ("email", "emails"),
    "phone": ("phone number", "phone numbers"),
    "card": ("card number", "card numbers"),
    "iban": ("IBAN", "IBANs"),
    "secret": ("secret", "secrets"),
    "ip": ("IP address", "IP addresses"),
}
# a region for national phone numbers, from the ticket's language
LANGUAGE_REGIONS = {"en": "US", "de": "DE", "fr": "FR", "es": "ES", "pt": "PT"}
_FALLBACK_REGIONS = ("US", "GB", "DE", "FR", "ES", "PT", "BR")


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    value: str  # as written
    key: str  # normalized: the same value written two ways has one key (and one placeholder)


_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24}(?![A-Za-z-])"  # digits may follow: OCR drops the space before a date
)
_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----.*?(?:-----END (?:[A-Z]+ )?PRIVATE KEY-----|\Z)", re.S
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_TOKEN = re.compile(
    r"(?<![\w-])(?:"
    r"sk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}"  # OpenAI, Anthropic, Moonshot style
    r"|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|whsec_[A-Za-z0-9]{16,}"
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}"  # AWS access key id
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}"
    r"|glpat-[A-Za-z0-9_-]{20,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|AIza[A-Za-z0-9_-]{35}"  # Google API key
    r"|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"  # SendGrid
    r"|npm_[A-Za-z0-9]{36}"
    r")(?![\w-])"
)
_BEARER = re.compile(r"(?i)\b(?:bearer|token)\s+([A-Za-z0-9._~+/=-]{16,})")
# `password: value` in the five languages; the value is what goes (up to the end of the word)
_PAIR_WORDS = (
    r"passwor[dt]|passwd|pwd|pass(?:phrase)?|kennwort|mot\s+de\s+passe|mdp|contrase(?:ñ|n)a|clave|senha"
    r"|api[\s_-]?key|api[\s_-]?token|access[\s_-]?token|auth[\s_-]?token|client[\s_-]?secret|secret"
    r"|token|pin"
)
_PAIR = re.compile(
    rf"(?i)\b(?:{_PAIR_WORDS})\b(?:\s+(?:is|ist|est|es|é|era|war|lautet))?\s*[:=]\s*[\"']?"
    r"(?P<value>[^\s\"',;]{4,})"
)
_CARD = re.compile(r"(?<![\w+-])(?:\d[ -]?){12,18}\d(?![\w-])")
# OCR drops spaces ("card4242 4242 ..."): in OCR lines only digits bound a number
_CARD_OCR = re.compile(r"(?<![\d+-])(?:\d[ -]?){12,18}\d(?![\d-])")
# a network's prefix and the lengths its numbers have (Visa, Mastercard, Amex, Diners, Discover/
# UnionPay, JCB)
_CARD_NETWORKS = (
    (re.compile(r"^4"), (13, 16, 19)),
    (re.compile(r"^(?:5[1-5]|2[2-7])"), (16,)),
    (re.compile(r"^3[47]"), (15,)),
    (re.compile(r"^3(?:0[0-5]|[689])"), (14, 15, 16, 17, 18, 19)),
    (re.compile(r"^(?:6011|65|64[4-9]|62)"), (16, 17, 18, 19)),
    (re.compile(r"^35"), (16, 17, 18, 19)),
)
_IBAN = re.compile(r"(?:(?<=IBAN)|\b)[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_IP_OCTETS = r"(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)"
_IP = re.compile(rf"(?<![\w.]){_IP_OCTETS}(?![\w.])")
_IP_OCR = re.compile(rf"(?<![\d.]){_IP_OCTETS}(?![\d.])")
_PHONE_CONTEXT = re.compile(
    r"(?i)(?:phone|tel(?:efon|éfono|efone|ephone|éphone)?|mobile?|cell|handy|portable|móvil|celular|"
    r"whatsapp|call|anrufen|appel(?:er|ez)?|ligue|llame|fax)\W{0,6}$"
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for n, ch in enumerate(reversed(digits)):
        d = int(ch)
        if n % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _cards(text: str, pattern: re.Pattern[str] = _CARD) -> Iterable[Finding]:
    for m in pattern.finditer(text):
        raw = m.group()
        digits = re.sub(r"\D", "", raw)
        network = any(p.match(digits) and len(digits) in lengths for p, lengths in _CARD_NETWORKS)
        if not network or not _luhn_ok(digits):
            continue
        if len(set(digits)) == 1:
            continue
        yield Finding("card", m.start(), m.end(), raw, digits)


def _ibans(text: str) -> Iterable[Finding]:
    for m in _IBAN.finditer(text):
        raw = m.group()
        compact = raw.replace(" ", "")
        # the regex may run one group too far (a word after the IBAN): trim until it checks
        while len(compact) >= 15:
            if stdnum_iban.is_valid(compact):
                end = m.start()
                seen = 0
                while seen < len(compact):  # map the compact length back onto the text
                    if text[end] != " ":
                        seen += 1
                    end += 1
                yield Finding("iban", m.start(), end, text[m.start() : end], compact)
                break
            compact = compact[:-1]


_PHONE_CANDIDATE = re.compile(
    r"(?<![\w+/.:-])(?:\+|00)?(?:\(\d{1,5}\)[ .-]?)?\d[\d \t().\/-]{4,20}\d(?![\w/:-])"
)
_PHONE_CANDIDATE_OCR = re.compile(
    r"(?<![\d+/.:-])(?:\+|00)?(?:\(\d{1,5}\)[ .-]?)?\d[\d \t().\/-]{4,20}\d(?![\d/:-])"
)
_DATE_LIKE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}|\d+\.\d+\.\d+")


def _phones(
    text: str, regions: Sequence[str], pattern: re.Pattern[str] = _PHONE_CANDIDATE
) -> Iterable[Finding]:
    """Runs of digits that libphonenumber parses as a valid number: international ones (+, 00) as
    they are, national ones in the first region (of `regions`) where they are valid. A bare run of
    digits counts only after a phone word; dates and version strings never."""
    for candidate in pattern.finditer(text):
        raw = candidate.group().rstrip(" \t.-/(")
        digits = sum(c.isdigit() for c in raw)
        if not 7 <= digits <= 15 or _DATE_LIKE.search(raw):
            continue
        international = raw.lstrip("(").startswith(("+", "00"))
        grouped = bool(re.search(r"[\s().-]", raw))
        context = bool(_PHONE_CONTEXT.search(text[max(0, candidate.start() - 24) : candidate.start()]))
        if not (international or context or (grouped and digits >= 9)):
            continue
        number_text = "+" + raw[2:] if raw.startswith("00") else raw
        for region in regions[:1] if international else regions:
            try:
                number = phonenumbers.parse(number_text, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):
                key = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                yield Finding("phone", candidate.start(), candidate.start() + len(raw), raw, key)
                break


def _secrets(text: str) -> Iterable[Finding]:
    for pattern in (_PRIVATE_KEY, _JWT, _TOKEN):
        for m in pattern.finditer(text):
            yield Finding("secret", m.start(), m.end(), m.group(), m.group())
    for m in _BEARER.finditer(text):
        yield Finding("secret", m.start(1), m.end(1), m.group(1), m.group(1))
    for m in _PAIR.finditer(text):
        value = m.group("value")
        if value.startswith("[") or value.lower() in {"none", "null", "empty", "leer", "vide", "vacío"}:
            continue
        yield Finding("secret", m.start("value"), m.end("value"), value, value)


def detect(
    text: str, *, language: str = "", kinds: Sequence[str] = KINDS, ocr: bool = False
) -> list[Finding]:
    """Every finding in `text`, without overlaps (the earlier and longer one wins; secrets and
    checksummed numbers before phones, so a card is not also read as a phone number). `ocr`: text
    read from pixels, where spaces go missing ("Server10.0.0.1"): numbers are bounded by digits
    only, not by letters."""
    if not text:
        return []
    found: list[Finding] = []
    if "secret" in kinds:
        found += _secrets(text)
    if "email" in kinds and "@" in text:
        found += (
            Finding("email", m.start(), m.end(), m.group(), m.group().lower()) for m in _EMAIL.finditer(text)
        )
    if "iban" in kinds:
        found += _ibans(text)
    if "card" in kinds:
        found += _cards(text, _CARD_OCR if ocr else _CARD)
    if "ip" in kinds:
        for m in (_IP_OCR if ocr else _IP).finditer(text):
            before = text[max(0, m.start() - 8) : m.start()].lower()
            if not re.search(r"(?:v|version|versão|versión|build)\s*$", before):
                found.append(Finding("ip", m.start(), m.end(), m.group(), m.group()))
    if "phone" in kinds and sum(c.isdigit() for c in text) >= 6:
        region = LANGUAGE_REGIONS.get((language or "")[:2].lower())
        regions = dict.fromkeys([region, *_FALLBACK_REGIONS] if region else _FALLBACK_REGIONS)
        pattern = _PHONE_CANDIDATE_OCR if ocr else _PHONE_CANDIDATE
        found += _phones(text, [r for r in regions if r], pattern)
    chosen: list[Finding] = []
    taken: list[tuple[int, int]] = []
    for f in found:  # in priority order; keep a finding only where nothing earlier overlaps
        if any(f.start < end and start < f.end for start, end in taken):
            continue
        chosen.append(f)
        taken.append((f.start, f.end))
    return sorted(chosen, key=lambda f: f.start)


@dataclass
class Redactor:
    """Typed placeholders, one per value across a ticket, in the order values are first met."""

    language: str = ""
    kinds: Sequence[str] = KINDS
    placeholders: dict[tuple[str, str], str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # findings per kind (every occurrence)
    originals: dict[str, str] = field(default_factory=dict)  # placeholder -> the value first met

    def placeholder(self, finding: Finding) -> str:
        slot = (finding.kind, finding.key)
        if slot not in self.placeholders:
            same_kind = sum(1 for kind, _ in self.placeholders if kind == finding.kind) + 1
            if finding.kind == "card":
                tail = f"••••{finding.key[-4:]}"
                clash = sum(
                    1 for (kind, key) in self.placeholders if kind == "card" and key[-4:] == finding.key[-4:]
                )
                self.placeholders[slot] = f"[card {clash + 1} {tail}]" if clash else f"[card {tail}]"
            else:
                self.placeholders[slot] = f"[{finding.kind} {same_kind}]"
            self.originals[self.placeholders[slot]] = finding.value
        return self.placeholders[slot]

    def restore(self, text: str) -> str:
        """The placeholders in a model's answer put back to their values (for a person's eyes:
        a drafted reply that says "we wrote to [email 1]")."""
        for placeholder, value in sorted(self.originals.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(placeholder, value)
        return text

    def redact(self, text: str) -> str:
        if not text:
            return text
        out: list[str] = []
        last = 0
        for finding in detect(text, language=self.language, kinds=self.kinds):
            out += [text[last : finding.start], self.placeholder(finding)]
            last = finding.end
            self.counts[finding.kind] = self.counts.get(finding.kind, 0) + 1
        out.append(text[last:])
        return "".join(out)


@dataclass(frozen=True)
class Cover:
    kind: str
    box: tuple[int, int, int, int]  # left, top, right, bottom in the image's pixels


def cover_boxes(lines: Iterable[dict], *, language: str = "", kinds: Sequence[str] = KINDS) -> list[Cover]:
    """The rectangles that hide what was found in OCR lines ({"text", "box"} as stored on
    RenditionText). A line's box spans its text; a finding's part of it is estimated from its
    characters' share of the line, widened by a character on each side and a few pixels up and
    down (OCR boxes are tight; proportional fonts are not uniform)."""
    covers: list[Cover] = []
    for line in lines:
        text, box = str(line.get("text") or ""), line.get("box") or ()
        if len(box) != 4 or not text:
            continue
        left, top, right, bottom = (int(v) for v in box)
        findings = detect(text, language=language, kinds=kinds, ocr=True)
        if not findings:
            continue
        per_char = (right - left) / max(1, len(text))
        pad_y = max(2, (bottom - top) // 6)
        for f in findings:
            # an average width drifts along a long line of a proportional font: more slack further on
            slack = per_char * (1.5 + 0.04 * f.start)
            x0 = left + per_char * f.start - slack
            x1 = left + per_char * f.end + slack
            covers.append(
                Cover(
                    f.kind,
                    (
                        max(0, int(x0)),
                        max(0, top - pad_y),
                        min(int(x1 + 1), right + int(per_char * 2)),
                        bottom + pad_y,
                    ),
                )
            )
    return covers


def paint_covers(image: bytes, covers: Sequence[Cover], *, mime: str) -> bytes:
    """A copy of the image with each cover painted solid black; the same format as the input
    (JPEG for JPEG frames and storyboards, PNG otherwise)."""
    from PIL import Image, ImageDraw

    with Image.open(io.BytesIO(image)) as img:
        rgb = img.convert("RGB")
    draw = ImageDraw.Draw(rgb)
    for cover in covers:
        draw.rectangle(cover.box, fill=(0, 0, 0))
    out = io.BytesIO()
    if mime in ("image/jpeg", "image/jpg"):
        rgb.save(out, format="JPEG", quality=90)
    else:
        rgb.save(out, format="PNG", optimize=False, compress_level=3)
    return out.getvalue()


def counts_phrase(counts: dict[str, int]) -> str:
    """ "2 emails, 1 card number" in KINDS order; "" for nothing."""
    parts = []
    for kind in KINDS:
        n = counts.get(kind, 0)
        if n:
            one, many = KIND_LABELS[kind]
            parts.append(f"{n} {one if n == 1 else many}")
    return ", ".join(parts)
