"""What the offline classifiers read of a ticket's body: the requester's own words, without the
quoted mail below them and the signature block after them.

A reply quotes earlier mail (often support's own answer, about this or another topic). It says
nothing about what this ticket asks, how urgent it is or which team should take it, and its
character n-grams cost training and serving time in proportion to its length. Mail that came in
by email had its quoted part split off at intake already (triage/adapters/email/parse.py
`reply_split`, which also knows email-reply-parser's rules); this reads text from any channel (a
web form, an imported set, a pasted mail, a body assembled from several messages) the same way
with line rules only, and `ticket_text` applies it to the body for the day-one similarity,
training and serving alike.

Removed, by rules that hold for any desk (nothing here is fitted to a data set):
- quoted lines (starting with ">") and the attribution line that introduces them ("On ... wrote:",
  "Am ... schrieb ...:", "Le ... a écrit :", "El ... escribió:", "Em ... escreveu:", ...);
- an Outlook-style separator ("-----Original Message-----", "-----Ursprüngliche Nachricht-----",
  a line of underscores) and everything after it: the quoted mail below it is not marked line by line;
- a signature block at the end, from the signature separator ("-- ", RFC 3676) on, when at most
  MAX_TRAILER_LINES short lines follow it; and phone footers ("Sent from my iPhone",
  "Von meinem iPhone gesendet").
A text that would be left empty is kept as it was (a ticket that is only a quote is still a ticket).

Not removed: closing formulas and the sender's name ("Kind regards,\nAnna"). Measured on the five
labelled sets (bench/RESULTS.md), removing them too moved the hard sets' queue margins by -0.01 to
-0.04 and their queue calibration error over 0.05: on short tickets they are a good share of the
text, and the models had learned with them. The sentiment alone reads the text `without_courtesy`:
"Vielen Dank." closing a complaint about a double charge is courtesy, not a happy customer.

Pure: a string in, a string out; a few regular expressions over the lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from triage.adapters.mail_quotes import ATTRIBUTION, ORIGINAL_MESSAGE

# Lines a signature block may have after its separator (name, title, company, phone, disclaimer).
MAX_TRAILER_LINES = 6
# A line longer than this after a separator is text, not a signature (disclaimers run to ~200).
MAX_TRAILER_LINE_CHARS = 240

_QUOTED_LINE = re.compile(r"^\s*>")
_ATTRIBUTION = re.compile(rf"^\s*{ATTRIBUTION}\s*$", re.IGNORECASE)
_SEPARATOR = re.compile(rf"^\s*{ORIGINAL_MESSAGE}\s*$", re.IGNORECASE)
_SIGNATURE_SEPARATOR = re.compile(r"^--\s?$")
_PHONE_FOOTER = re.compile(
    r"^\s*(?:sent from my [\w ]{1,30}|get outlook for \w+|von meinem [\w ]{1,30} gesendet"
    r"|enviado desde mi [\w ]{1,30}|envoyé de mon [\w ]{1,30}|enviado do meu [\w ]{1,30})\s*$",
    re.IGNORECASE,
)


def classifier_body(text: str) -> str:
    """`text` without quoted mail and its attribution line, a trailing signature block and phone
    footers; `text` itself when nothing else would be left."""
    lines = text.splitlines()
    kept: list[str] = []
    for line in lines:
        if _SEPARATOR.match(line):
            break  # an unmarked quoted mail follows
        if _QUOTED_LINE.match(line) or _ATTRIBUTION.match(line) or _PHONE_FOOTER.match(line):
            continue
        kept.append(line)
    kept = _without_signature(kept)
    if len(kept) == len(lines):
        return text  # nothing removed: the text as it was, to the character
    body = "\n".join(kept).strip()
    return body if body else text


def _without_signature(lines: list[str]) -> list[str]:
    """`lines` up to the last signature separator that only a short block follows (at most
    MAX_TRAILER_LINES non-empty lines, none longer than MAX_TRAILER_LINE_CHARS)."""
    after = 0
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if not line.strip():
            continue
        if _SIGNATURE_SEPARATOR.match(line):
            return lines[:index]
        after += 1
        if after > MAX_TRAILER_LINES or len(line) > MAX_TRAILER_LINE_CHARS:
            break
    return lines


# --- courtesy, for the sentiment ----------------------------------------------------------------
# "Thanks." / "Vielen Dank im Voraus!" / "Merci d'avance," closes complaints and questions alike: it is
# courtesy, not how the requester feels. A thanks that says more ("Thanks, it works again") is not a
# closing formula and stays.
_THANKS = (
    r"(?:many thanks|thanks (?:a lot|so much|again)|thank you(?: (?:very|so) much)?|thanks|thx|cheers"
    r"|vielen (?:lieben )?dank|herzlichen dank|besten dank|danke(?: schön| sehr)?"
    r"|muchas gracias|gracias|merci(?: beaucoup)?|muito obrigad[oa]|obrigad[oa])"
)
_THANKS_FOR = (
    r"(?:in advance|for (?:your|the) (?:help|time|support|assistance|reply|patience)"
    r"|im voraus|für ihre (?:hilfe|unterstützung|mühe|rückmeldung)"
    r"|de antemano|por (?:su|tu) (?:ayuda|atención)|d'avance|par avance|pour votre aide|desde já|pela ajuda)"
)
_REGARDS = (
    r"(?:(?:best|kind|warm|many)? ?regards|best(?: wishes)?|all the best|sincerely|yours(?: sincerely)?"
    r"|mit freundlichen grüßen|viele grüße|beste grüße|liebe grüße|grüße|lg|mfg"
    r"|saludos(?: cordiales)?|un saludo|atentamente|cordialement|bien à vous|atenciosamente|abraços)"
)
_CLOSING = re.compile(
    rf"(?:{_THANKS}(?:\s+{_THANKS_FOR})*(?:\s+again)?|{_REGARDS})\s*[.!,;]*",
    re.IGNORECASE,
)
# a name after the closing: "Thanks, Anna" / "Best regards,\nAnna Berg" (case-sensitive: capitals)
_SIGNED = re.compile(r"(?:[,\s]+[A-ZÄÖÜÁÉÍÓÚÇ][\w'.-]*){1,2}\s*$")
# A sentence ends at . ! ? and a space, or at a line break; not inside "P.S." / "P. S." / "P.P.S."
# (its last "P.S."), whose sentence goes on after it.
_SENTENCE_OR_LINE = re.compile(r"(?<=[.!?])(?<!\b[Pp]\.)(?<!\b[Pp]\.[Ss]\.)(?<!\b[Pp]\.\s[Ss]\.)\s+|\s*\n\s*")


def without_courtesy(text: str) -> str:
    """`text` without its courtesy: each sentence or line that is only a thanks formula ("Thanks in
    advance.", "Vielen Dank.") or a regards formula, with or without the sender's name, and the name
    on its own line after one. Anywhere, not only at the end: the classifiers read the body with the
    text read from screenshots after it. `text` itself when nothing else would be left (a thank-you
    note is all thanks)."""
    parts = [p.strip() for p in _SENTENCE_OR_LINE.split(text.strip()) if p.strip()]
    kept: list[str] = []
    after_closing = False
    for part in parts:
        if _is_closing(part):
            after_closing = True
            continue
        if after_closing and _SIGNED.fullmatch(" " + part):
            after_closing = False  # the sender's name below the closing
            continue
        after_closing = False
        kept.append(part)
    if len(kept) == len(parts) or not kept:
        return text
    return "\n".join(kept)


def _is_closing(part: str) -> bool:
    return bool(_CLOSING.fullmatch(part) or _CLOSING.fullmatch(_SIGNED.sub("", part)))


# Side remarks: a sentence that opens with one of these names another topic than the ticket's own
# problem ("By the way, the printer also jams."). The trained classifiers and the day-one queue
# fitted on unreviewed tickets read the text without them, the summary takes neither its problem
# nor its error from one, and the ticket page lists them apart.
_SIDE_REMARK = re.compile(
    r"^\W*(?:(?:by the way|btw|by the by|on an unrelated note|unrelated|"
    r"übrigens|nebenbei( bemerkt)?|ganz nebenbei|"
    r"por cierto|a propósito|au fait|d'ailleurs|aliás)\b"
    # "P.S.", "P. S.", "PS:", "PPS": a word boundary cannot follow their closing dot or colon
    r"|p\.\s?(?:p\.\s?)?s\.?|p?ps\b)",
    re.IGNORECASE,
)


def without_side_remarks(text: str) -> str:
    """`text` without its side-remark sentences (line breaks between the sentences kept)."""
    return _sentences_without(text, is_side_remark)


def _sentences_without(text: str, *drop: Callable[[str], bool]) -> str:
    """The sentences of `text` that none of `drop` matches, one per line."""
    return "\n".join(s for s in _SENTENCE_OR_LINE.split(text) if s.strip() and not any(d(s) for d in drop))


def side_remarks(text: str) -> list[str]:
    """The side-remark sentences of `text` that `without_side_remarks` leaves out, each once."""
    found = (s.strip() for s in _SENTENCE_OR_LINE.split(text) if s.strip() and is_side_remark(s))
    return list(dict.fromkeys(found))


def is_side_remark(sentence: str) -> bool:
    return _SIDE_REMARK.match(sentence) is not None


# An apology for writing ("Sorry to bother you.", "Entschuldigen Sie die Störung."), after a
# greeting or on its own: courtesy that names no topic, and its words can be a topic's own
# ("Störung" is also a line fault). Side remarks and these are the asides of a ticket.
_APOLOGY = re.compile(
    r"^\W*(?:[^\W\d][\w ]{0,30},\s*)?(?:"
    r"(?:so\s+)?sorry\s+(?:to\s+(?:bother|trouble|disturb)\s+you|for\s+(?:the\s+)?"
    r"(?:trouble|bother|disturbance|inconvenience))(?:\s+again)?"
    r"|(?:entschuldigen|verzeihen)\s+sie\s+(?:bitte\s+)?(?:die|meine)\s+störung"
    r"|entschuldigung\s+für\s+die\s+störung"
    r"|(?:perdone|disculpe)\s+(?:la|las)\s+molestias?|désolée?\s+de\s+vous\s+déranger"
    r"|excusez-moi\s+de\s+vous\s+déranger)\W*$",
    re.IGNORECASE,
)


def is_apology(sentence: str) -> bool:
    return _APOLOGY.match(sentence.strip()) is not None


def without_asides(text: str) -> str:
    """`text` without its side remarks and its apologies for writing (line breaks between the
    sentences kept): what the day-one queue fitted on unreviewed tickets reads."""
    return _sentences_without(text, is_side_remark, is_apology)
