"""What a model reads of a ticket's text: capped, and chosen.

A ticket's full text stays on the ticket; models get at most `max_chars` of it. An 8 MB mail body
read whole took 95 s to triage and grew the llm worker by 1.2 GB (every classifier, the language
detector and the Kimi prompt read all of it); the evidence a model needs is at the start of the
newest message (what the requester says now) and at the ends of a long body (the greeting and
question first, the closing, the last error lines or the signature last). So:

- messages go newest first: a follow-up before the mail that opened the ticket (quoted history
  after what is new);
- a message longer than its share keeps its head and its tail, with a marker saying how much of
  the middle was left out (models see that something is missing, never a silent cut);
- the opening message keeps a share of the budget (it says what the ticket is about); the newest
  follow-up may take most of the rest, and older follow-ups are dropped (counted in a marker)
  once the budget is spent.

Pure: strings in, a string out; the cost is a few slices, whatever the size of the input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Share of a cut message kept from its start; the rest comes from its end.
HEAD_SHARE = 0.7
# While older follow-ups follow, the newest takes at most this share of what is left for them.
NEWEST_SHARE = 0.6
# When follow-ups come first, the message that opened the ticket keeps up to this share.
OPENING_SHARE = 0.3
# A message is not cut to less than this (a marker and a few words are no help); below it, the
# remaining messages are only counted.
MIN_PART_CHARS = 400
# What the offline language detector reads: the start of the newest message is the requester's
# own language (quoted mail, logs and signatures come later); lingua's cost grows with the text.
LANGUAGE_CHARS = 2_000


@dataclass(frozen=True)
class ModelText:
    text: str
    total_chars: int  # the length of everything offered
    kept_chars: int  # characters of the messages that reached `text` (markers not counted)

    @property
    def shortened(self) -> bool:
        return self.kept_chars < self.total_chars


def head_tail(text: str, max_chars: int) -> str:
    """`text` if it fits, else its head and tail within `max_chars`, joined by a marker."""
    return _cut(text, max_chars)[0]


def _cut(text: str, max_chars: int) -> tuple[str, int]:
    """(`text` or its head + marker + tail within `max_chars`, characters of `text` kept)."""
    if len(text) <= max_chars:
        return text, len(text)
    # The marker states how much is missing; its width depends on that number, which depends on
    # the room the marker leaves: the width of len(text) is an upper bound, so compute with it.
    marker_room = len(f"\n[... {len(text):,} characters of this message left out ...]\n")
    room = max(0, max_chars - marker_room)
    head = int(room * HEAD_SHARE)
    tail = room - head
    marker = f"\n[... {len(text) - room:,} characters of this message left out ...]\n"
    if len(marker) > max_chars:
        return text[:max_chars], max_chars
    return text[:head] + marker + (text[len(text) - tail :] if tail else ""), room


def model_text(messages: Sequence[str], *, max_chars: int) -> ModelText:
    """The messages (newest first; the last one opened the ticket) within `max_chars`: whole while
    they fit, head and tail when a message is longer than its share. The opening message keeps
    up to OPENING_SHARE of the budget (it says what the ticket is about); the follow-ups share the
    rest, newest first, and the oldest are left out (and counted) once it is spent."""
    total = sum(len(m) for m in messages)
    if not messages:
        return ModelText(text="", total_chars=0, kept_chars=0)
    separator = "\n\n"
    *newer, opening = messages
    opening_room = max_chars
    if newer:
        opening_room = min(len(opening), max(MIN_PART_CHARS, int(max_chars * OPENING_SHARE)), max_chars)
    opening_part, kept = _cut(opening, opening_room)
    budget = max_chars - len(opening_part) - len(separator)
    parts: list[str] = []
    used = 0
    for index, message in enumerate(newer):
        older = len(newer) - index - 1
        # room for the "left out" note, should a later message not fit
        reserve = len(_left_out(len(newer))) + len(separator) if older else 0
        remaining = budget - used - (len(separator) if parts else 0) - reserve
        if remaining < min(MIN_PART_CHARS, len(message)):
            note = _left_out(len(newer) - index)
            if used + (len(separator) if parts else 0) + len(note) <= budget:
                parts.append(note)
            break
        # While older follow-ups follow, this one leaves them room.
        share = remaining if not older else max(MIN_PART_CHARS, int(remaining * NEWEST_SHARE))
        part, n = _cut(message, min(share, remaining))
        kept += n
        used += len(part) + (len(separator) if parts else 0)
        parts.append(part)
    text = separator.join([*parts, opening_part]) if parts else opening_part
    return ModelText(text=text, total_chars=total, kept_chars=kept)


def _left_out(count: int) -> str:
    return f"[{count} earlier message(s) left out]"


def language_sample(text: str) -> str:
    """What the language detector reads: the head of the (already chosen) text."""
    return text[:LANGUAGE_CHARS]
