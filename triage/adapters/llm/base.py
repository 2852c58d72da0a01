"""Value objects and the Protocol every triage provider implements."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, make_dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from triage.adapters.llm.schema import TriageResult
from triage.fields import BY_NAME, TAXONOMY, ClassifiedField


@dataclass(frozen=True)
class TaxonomyEntry:
    value: str
    label: str
    description: str = ""
    examples: tuple[str, ...] = ()


def _declared_entries(declared: ClassifiedField) -> tuple[TaxonomyEntry, ...]:
    return tuple(TaxonomyEntry(value=value, label=label) for value, label in declared.defaults)


class _TaxonomyMethods:
    """What every Taxonomy does with its per-field tuples of entries."""

    def entries(self, field_name: str) -> tuple[TaxonomyEntry, ...]:
        entries: tuple[TaxonomyEntry, ...] = getattr(self, BY_NAME[field_name].plural)
        return entries

    def values(self, field_name: str) -> tuple[str, ...]:
        return tuple(e.value for e in self.entries(field_name))

    @property
    def fingerprint(self) -> str:
        """sha256 over every field: changes whenever a value, label, description or example does."""
        # Frozen dataclasses of str/tuple: repr is deterministic and covers every field.
        return hashlib.sha256(repr(self).encode()).hexdigest()


if TYPE_CHECKING:
    # The dataclass is made from triage/fields.py below, which the type checker cannot follow: it
    # sees a frozen dataclass whose attributes (categories, priorities, ...) are tuples of entries.
    class Taxonomy(_TaxonomyMethods):
        __dataclass_fields__: ClassVar[dict[str, Any]]

        def __init__(self, **entries: tuple[TaxonomyEntry, ...]) -> None: ...

        def __getattr__(self, plural: str) -> tuple[TaxonomyEntry, ...]: ...

else:
    # Taxonomy(categories=(...), priorities=(...), ...): one attribute per taxonomy field, in the
    # declared order, so its repr (and the fingerprint over it) is what the hand-written class gave.
    # A field declared with default values may be left out: it has those.
    Taxonomy = make_dataclass(
        "Taxonomy",
        [
            (f.plural, tuple[TaxonomyEntry, ...], field(default=_declared_entries(f)))
            if f.defaults
            else (f.plural, tuple[TaxonomyEntry, ...])
            for f in TAXONOMY
        ],
        bases=(_TaxonomyMethods,),
        frozen=True,
    )
    Taxonomy.__module__ = __name__  # pickles and reprs as the class it replaces


def taxonomy_of(grouped: Mapping[str, Iterable[TaxonomyEntry]]) -> Taxonomy:
    """The Taxonomy from entries grouped by field name; a field `grouped` lacks has no values."""
    return Taxonomy(**{f.plural: tuple(grouped.get(f.name, ())) for f in TAXONOMY})


@dataclass(frozen=True)
class ImagePart:
    """An image the model sees: a normalized screenshot or a sampled video frame."""

    data: bytes
    mime: str
    label: str  # e.g. "screenshot 'login.png'" or "frame at 00:00:03 of 'recording.mp4'"
    kind: str = "image"  # image | frame | storyboard: what a request over budget drops first


@dataclass(frozen=True)
class VideoPart:
    """A recording the model sees as video (providers with `accepts_video` only)."""

    data: bytes
    mime: str  # video/mp4: the pipeline's transcode for the model
    label: str  # e.g. "recording 'bug.mov' (42 s), sent as video"
    filename: str = "recording.mp4"
    frames: tuple[ImagePart, ...] = ()  # what replaces the video when the request is over budget


class TicketLookup(Protocol):
    """Read-only questions the model may ask about our own data while it triages (tool calls)."""

    def similar_tickets(self, *, query: str, limit: int) -> list[dict[str, Any]]: ...

    def requester_tickets(self, *, limit: int) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class TicketInput:
    ticket_id: int
    subject: str
    body: str
    requester: str = ""
    images: tuple[ImagePart, ...] = ()
    videos: tuple[VideoPart, ...] = ()
    notes: tuple[str, ...] = ()  # e.g. "attachment 'x.mov' was rejected: no video stream"
    ocr_text: str = ""  # text read from the screenshots and frames, one line per OCR line
    # the offline model's lowest field confidence, when the service asked it (thinking "auto")
    offline_confidence: float | None = None
    lookup: TicketLookup | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TriageOutcome:
    """What one provider call produced. `result` is None exactly when `error_kind` is set."""

    provider: str
    model: str
    prompt_version: str
    result: TriageResult | None
    raw_output: str = ""
    reasoning: str = ""
    error_kind: str = ""  # bad_output | upstream | timeout | bad_input | bug
    error_message: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    latency_ms: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.result is not None and not self.error_kind


class TriageClient(Protocol):
    # read-only: a class attribute or a property (LimitedClient forwards its client's)
    @property
    def provider(self) -> str: ...

    @property
    def accepts_video(self) -> bool:
        """Whether TicketInput.videos reach the model (else frames are sent)."""
        ...

    def triage(self, ticket: TicketInput, taxonomy: Taxonomy) -> TriageOutcome:
        """Never raises for model or API trouble: that is reported in the outcome."""
        ...
