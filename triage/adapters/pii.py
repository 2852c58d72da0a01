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
    # digits may follow (OCR drops the space before a date), and a hyphen that starts no label
    # ("…example.fr- build": a dash OCR glued on)
    r"[A-Za-z]{2,24}(?![A-Za-z]|-[A-Za-z0-9])"
)
_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----.*?(?:-----END (?:[A-Z]+ )?PRIVATE KEY-----|\Z)", re.S
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_KEY_SHAPES = (
    r"(?:"
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
    r")"
)
_TOKEN = re.compile(rf"(?<![\w-]){_KEY_SHAPES}(?![\w-])")
# OCR glues a token to the words around it ("clave APIxoxb-…", "…hcNUinvoice"): the prefixes are
# distinctive enough to go without bounds
_TOKEN_OCR = re.compile(_KEY_SHAPES)
_BEARER = re.compile(r"(?i)\b(?:bearer|token)\s+([A-Za-z0-9._~+/=-]{16,})")
# `password: value` in the five languages; the value is what goes (up to the end of the word)
_PAIR_WORDS = (
    r"passwor[dt]|passwd|pwd|pass(?:phrase)?|kennwort|mot\s*de\s*passe|mdp|contrase(?:ñ|n)?a|clave|senha"
    r"|api[\s_-]?key|api[\s_-]?token|access[\s_-]?token|auth[\s_-]?token|client[\s_-]?secret|secret"
    r"|token|pin"
)
_PAIR_REST = r"\b(?:\s+(?:is|ist|est|es|é|era|war|lautet))?\s*[:=]\s*[\"']?(?P<value>[^\s\"',;]{4,})"
_PAIR = re.compile(rf"(?i)\b(?:{_PAIR_WORDS}){_PAIR_REST}")
# OCR drops the space before the key ("…02:27:48mot de passe: …", "HTTP 500contraseña:")
# or to the word before ("…4804xmot de passe:"): the long words, with their colon, need no bound
_PAIR_OCR = re.compile(
    rf"(?i)(?:(?<![^\W\d_])(?:{_PAIR_WORDS})|passwor[dt]|passwd|kennwort|mot\s*de\s*passe|contrase(?:ñ|n)?a|senha)"
    rf"{_PAIR_REST}"
)
_CARD = re.compile(r"(?<![\w+-])(?:\d[ -]?){12,18}\d(?![\w-])")
# OCR drops spaces ("card4242 4242 ...", "…9182 2026-06-25" read as "…91822026-06-25"): in OCR
# lines only digits bound a number, and a run too long for its network is tried at its lengths
_CARD_OCR = re.compile(r"(?<![\d+-])(?:\d[ -]?){12,30}\d")
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
_IBAN_SHAPE = r"(?:(?<=IBAN)|\b)[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?"
_IBAN = re.compile(rf"{_IBAN_SHAPE}\b")
_IBAN_OCR = re.compile(_IBAN_SHAPE)  # "…211264Total": the checksum trims what OCR glued on
_IP_OCTETS = r"(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)"
_IP = re.compile(rf"(?<![\w.]){_IP_OCTETS}(?![\w.])")
# "173.132.9.21417/05/2024": the greedy last octet, whatever digits OCR glued after it
_IP_OCR = re.compile(rf"(?<![\d.]){_IP_OCTETS}(?!\.\d)")
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


def _card_lengths(digits: str) -> tuple[int, ...]:
    return next((lengths for prefix, lengths in _CARD_NETWORKS if prefix.match(digits)), ())


def _cards(text: str, pattern: re.Pattern[str] = _CARD, *, ocr: bool = False) -> Iterable[Finding]:
    for m in pattern.finditer(text):
        raw = m.group()
        positions = [i for i, ch in enumerate(raw) if ch.isdigit()]
        digits = "".join(raw[i] for i in positions)
        lengths = _card_lengths(digits)
        if len(digits) in lengths:
            tries: Sequence[int] = (len(digits),)
        elif ocr:  # longer than its network's numbers: something was glued on after it
            tries = sorted((n for n in lengths if n < len(digits)), reverse=True)
        else:
            continue
        for n in tries:
            number = digits[:n]
            if _luhn_ok(number) and len(set(number)) > 1:
                end = m.start() + positions[n - 1] + 1
                yield Finding("card", m.start(), end, text[m.start() : end], number)
                break


def _ibans(text: str, pattern: re.Pattern[str] = _IBAN) -> Iterable[Finding]:
    for m in pattern.finditer(text):
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
# in OCR lines a number may run into what follows it: the end is found by _phones
_PHONE_CANDIDATE_OCR = re.compile(r"(?<![\d+/.:-])(?:\+|00)?(?:\(\d{1,5}\)[ .-]?)?\d[\d \t().\/-]{4,30}\d")
_DATE_LIKE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}|\d+\.\d+\.\d+")


def _phones(
    text: str, regions: Sequence[str], pattern: re.Pattern[str] = _PHONE_CANDIDATE, *, ocr: bool = False
) -> Iterable[Finding]:
    """Runs of digits that libphonenumber parses as a valid number: international ones (+, 00) as
    they are, national ones in the first region (of `regions`) where they are valid. A bare run of
    digits counts only after a phone word; dates and version strings never. In OCR text an
    international number that fails is tried without what may have been glued after it
    ("+351 913 3471322026-07-20", "+33 6 24 59 44 43 - 0rder"), longest first."""
    for candidate in pattern.finditer(text):
        raw = candidate.group().rstrip(" \t.-/(")
        international = raw.lstrip("(").startswith(("+", "00"))
        ends = [len(raw)]
        if ocr and international:
            ends = [n for n in range(len(raw), 0, -1) if raw[n - 1].isdigit()]
        for end in ends:
            found = _phone(text, candidate.start(), raw[:end], regions, international=international)
            if found is not None:
                yield found
                break


def _phone(text: str, start: int, raw: str, regions: Sequence[str], *, international: bool) -> Finding | None:
    digits = sum(c.isdigit() for c in raw)
    if not 7 <= digits <= 15 or _DATE_LIKE.search(raw):
        return None
    grouped = bool(re.search(r"[\s().-]", raw))
    context = bool(_PHONE_CONTEXT.search(text[max(0, start - 24) : start]))
    if not (international or context or (grouped and digits >= 9)):
        return None
    number_text = "+" + raw[2:] if raw.startswith("00") else raw
    for region in regions[:1] if international else regions:
        try:
            number = phonenumbers.parse(number_text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            key = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            return Finding("phone", start, start + len(raw), raw, key)
    return None


def _secrets(text: str, *, ocr: bool = False) -> Iterable[Finding]:
    for pattern in (_PRIVATE_KEY, _JWT, _TOKEN_OCR if ocr else _TOKEN):
        for m in pattern.finditer(text):
            yield Finding("secret", m.start(), m.end(), m.group(), m.group())
    for m in _BEARER.finditer(text):
        yield Finding("secret", m.start(1), m.end(1), m.group(1), m.group(1))
    for m in (_PAIR_OCR if ocr else _PAIR).finditer(text):
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
        found += _secrets(text, ocr=ocr)
    if "email" in kinds and "@" in text:
        found += (
            Finding("email", m.start(), m.end(), m.group(), m.group().lower()) for m in _EMAIL.finditer(text)
        )
    if "iban" in kinds:
        found += _ibans(text, _IBAN_OCR if ocr else _IBAN)
    if "card" in kinds:
        found += _cards(text, _CARD_OCR if ocr else _CARD, ocr=ocr)
    if "ip" in kinds:
        for m in (_IP_OCR if ocr else _IP).finditer(text):
            before = text[max(0, m.start() - 8) : m.start()].lower()
            if not re.search(r"(?:v|version|versão|versión|build)\s*$", before):
                found.append(Finding("ip", m.start(), m.end(), m.group(), m.group()))
    if "phone" in kinds and sum(c.isdigit() for c in text) >= 6:
        region = LANGUAGE_REGIONS.get((language or "")[:2].lower())
        regions = dict.fromkeys([region, *_FALLBACK_REGIONS] if region else _FALLBACK_REGIONS)
        pattern = _PHONE_CANDIDATE_OCR if ocr else _PHONE_CANDIDATE
        found += _phones(text, [r for r in regions if r], pattern, ocr=ocr)
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
    """The rectangles that hide what was found in OCR lines ({"text", "box"[, "chars"]} as stored
    on RenditionText). With "chars" (the recognizer's left and right edge of each character that
    is not a space, in order) a finding's rectangle runs from its first character's left edge to
    its last one's right edge, widened by half a character. Without them (lines read before the
    engine gave them) it is estimated from its characters' share of the line, widened by more
    further along the line (proportional fonts are not uniform). Either is a few pixels taller
    than the line: OCR boxes are tight."""
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
        chars = _char_edges(text, line.get("chars"))
        for f in findings:
            if chars is not None and any(chars[f.start : f.end]):
                edges = [e for e in chars[f.start : f.end] if e is not None]
                x0 = edges[0][0] - per_char / 2
                x1 = edges[-1][1] + per_char / 2
            else:
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


def _char_edges(text: str, chars: object) -> list[tuple[int, int] | None] | None:
    """Per character of `text`, its (left, right) from the stored edges of the non-space
    characters; None for a space. None when the edges do not fit the text."""
    if not isinstance(chars, list | tuple):
        return None
    visible = sum(1 for ch in text if not ch.isspace())
    if len(chars) != visible:
        return None
    edges: list[tuple[int, int] | None] = []
    stored = iter(chars)
    for ch in text:
        if ch.isspace():
            edges.append(None)
            continue
        pair = next(stored)
        if not (isinstance(pair, list | tuple) and len(pair) == 2):
            return None
        edges.append((int(pair[0]), int(pair[1])))
    return edges


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
