"""factory-boy factories for the triage models, plus helpers for taxonomy rows and tiny media files."""

from __future__ import annotations

import functools
import hashlib
import io

import factory
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from PIL import Image

from tests.declared import DECLARED_GUESSES, DECLARED_ROWS
from triage.fields import CLASSIFIED_FIELDS
from triage.models import (
    Attachment,
    ClassifierVersion,
    Rendition,
    ReviewDecision,
    TaxonomyValue,
    Ticket,
    TriageRun,
)
from triage.services.storage import content_key, content_store

PASSWORD = "correct-horse-battery"

# A subset of the real defaults (same values and labels), enough for every test.
TAXONOMY_ROWS: dict[str, list[tuple[str, str]]] = {
    "category": [
        ("bug", "Bug / error"),
        ("account_access", "Account & login"),
        ("billing", "Billing & payments"),
        ("how_to", "How-to question"),
    ],
    "priority": [("low", "Low"), ("normal", "Normal"), ("high", "High"), ("urgent", "Urgent")],
    "queue": [
        ("tier1", "Tier 1 support"),
        ("tier2", "Tier 2 support"),
        ("engineering", "Engineering"),
        ("billing_team", "Billing team"),
    ],
    "sentiment": [("negative", "Negative"), ("neutral", "Neutral"), ("positive", "Positive")],
    **DECLARED_ROWS,
}

PROPOSAL = {
    "summary": "Card payments fail at checkout with HTTP 500.",
    "category": {"value": "bug", "confidence": 0.92},
    "priority": {"value": "high", "confidence": 0.81},
    "queue": {"value": "engineering", "confidence": 0.74},
    "sentiment": {"value": "negative", "confidence": 0.55},
    "language": {"value": "en", "confidence": 0.99},
    **DECLARED_GUESSES,
}


def taxonomy_rows() -> list[TaxonomyValue]:
    """Create the test taxonomy rows unless they exist (a data migration may have seeded them)."""
    rows = []
    for field, entries in TAXONOMY_ROWS.items():
        for position, (value, label) in enumerate(entries):
            row, _ = TaxonomyValue.objects.get_or_create(
                field=field, value=value, defaults={"label": label, "position": position}
            )
            rows.append(row)
    return rows


def taxonomy_label(field: str, value: str) -> str:
    return TaxonomyValue.objects.get(field=field, value=value).label


def png_bytes(width: int = 64, height: int = 40, color: tuple[int, int, int] = (40, 90, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


# Not a playable video: the views never decode it, they only stream its bytes.
FAKE_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 40


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"agent{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    first_name = "Ana"
    last_name = factory.Sequence(lambda n: f"Reviewer{n}")
    password = factory.django.Password(PASSWORD)


class StaffUserFactory(UserFactory):
    username = factory.Sequence(lambda n: f"manager{n}")
    is_staff = True


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket

    subject = factory.Sequence(lambda n: f"Checkout fails with error 500 (case {n})")
    description = "Every card payment fails at the last step."
    requester_email = factory.Sequence(lambda n: f"customer{n}@example.com")
    channel = Ticket.Channel.WEB
    status = Ticket.Status.PROCESSING


class _StoredFileFactory(factory.django.DjangoModelFactory):
    """Rows whose `file` is really in storage, under the content key of `content`."""

    class Meta:
        abstract = True

    content = b""
    extension = "bin"
    sha256 = factory.LazyAttribute(lambda o: hashlib.sha256(o.content).hexdigest())
    size_bytes = factory.LazyAttribute(lambda o: len(o.content))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        content = kwargs.pop("content")
        kwargs.pop("extension")
        content_store(key=kwargs["file"], content=ContentFile(content))
        return super()._create(model_class, *args, **kwargs)

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        kwargs.pop("content")
        kwargs.pop("extension")
        return super()._build(model_class, *args, **kwargs)


class AttachmentFactory(_StoredFileFactory):
    class Meta:
        model = Attachment

    ticket = factory.SubFactory(TicketFactory)
    kind = Attachment.Kind.IMAGE
    status = Attachment.Status.DONE
    content = factory.LazyFunction(png_bytes)
    extension = "png"
    mime = "image/png"
    file = factory.LazyAttribute(
        lambda o: content_key(prefix="originals", sha256=o.sha256, extension=o.extension)
    )
    original_name = factory.Sequence(lambda n: f"screenshot-{n}.png")
    width = 64
    height = 40

    class Params:
        video = factory.Trait(
            kind=Attachment.Kind.VIDEO,
            content=FAKE_MP4,
            extension="mp4",
            mime="video/mp4",
            original_name=factory.Sequence(lambda n: f"recording-{n}.mp4"),
            width=640,
            height=360,
            duration_s=4.0,
        )


class RenditionFactory(_StoredFileFactory):
    class Meta:
        model = Rendition

    attachment = factory.SubFactory(AttachmentFactory)
    kind = Rendition.Kind.IMAGE
    index = 0
    content = factory.LazyFunction(lambda: png_bytes(32, 20, (200, 60, 60)))
    extension = "png"
    mime = "image/png"
    file = factory.LazyAttribute(
        lambda o: content_key(prefix="renditions", sha256=o.sha256, extension=o.extension)
    )
    width = 32
    height = 20
    timestamp_ms = None


class TriageRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TriageRun

    ticket = factory.SubFactory(TicketFactory, status=Ticket.Status.NEEDS_REVIEW)
    provider = "local"
    model = "local-tfidf-v1"
    prompt_version = "v1"
    status = TriageRun.Status.DONE
    result = factory.LazyFunction(
        lambda: {k: (dict(v) if isinstance(v, dict) else v) for k, v in PROPOSAL.items()}
    )
    latency_ms = 42
    prompt_tokens = 1200
    completion_tokens = 180

    class Params:
        failed = factory.Trait(
            status=TriageRun.Status.FAILED,
            result=None,
            error_kind=TriageRun.ErrorKind.TIMEOUT,
            error_message="Request timed out after 300 s (kimi-k2.6)",
            latency_ms=300000,
            completion_tokens=0,
        )


class ReviewDecisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReviewDecision

    ticket = factory.SubFactory(TicketFactory, status=Ticket.Status.REVIEWED)
    user = factory.SubFactory(UserFactory)
    action = ReviewDecision.Action.ACCEPT
    before = factory.LazyFunction(dict)
    after = factory.LazyFunction(dict)


def triaged_ticket(*, result: dict | None = None, **ticket_fields) -> Ticket:
    """A NEEDS_REVIEW ticket whose latest run proposed `result` (PROPOSAL by default), as the
    triage service leaves it: current values = the proposal, confidence = the lowest one."""
    result = {**DECLARED_GUESSES, **(result or PROPOSAL)}  # a result written out before a declared field
    ticket = TicketFactory(status=Ticket.Status.NEEDS_REVIEW, **ticket_fields)
    run = TriageRunFactory(ticket=ticket, result=result)
    fields = CLASSIFIED_FIELDS
    for name in fields:
        setattr(ticket, name, result[name]["value"])
    ticket.summary = result["summary"]
    ticket.confidence = min(result[name]["confidence"] for name in fields)
    ticket.latest_run = run
    ticket.triaged_at = run.started_at
    ticket.save()
    return ticket


def failed_ticket(**ticket_fields) -> Ticket:
    """A MANUAL_TRIAGE ticket whose latest run timed out."""
    ticket = TicketFactory(status=Ticket.Status.MANUAL_TRIAGE, **ticket_fields)
    run = TriageRunFactory(ticket=ticket, failed=True)
    ticket.latest_run = run
    ticket.triaged_at = run.started_at
    ticket.save()
    return ticket


def calibrated_version(levels: dict[str, float], *, version: str = "v-calibrated") -> ClassifierVersion:
    """A trained version whose held-out calibration supports auto-accept from `levels[field]`: its
    reviews were all right at or above that confidence band and all wrong below it (40 a band).
    No model file: serving falls back to day one, the calibration is what is read."""
    reliability = {
        name: [
            {
                "bucket": f"{low:.1f}-{low + 0.2:.1f}",
                "n": 40,
                "mean_confidence": low + 0.1,
                "accuracy": 1.0 if low >= level - 1e-9 else 0.0,
            }
            for low in (0.0, 0.2, 0.4, 0.6, 0.8)
        ]
        for name, level in levels.items()
    }
    return ClassifierVersion.objects.create(
        version=version,
        path=f"{version}.joblib",
        data_fingerprint=version.ljust(64, "0")[:64],
        taxonomy_key="k",
        n_reviewed=200,
        metrics={"reliability": reliability, "calibrated": dict.fromkeys(levels, True)},
    )


@functools.cache
def eval_rows(name: str) -> tuple:
    """The rows of a labelled set in tests/fixtures/eval (subject, body, labels), read once."""
    from pathlib import Path

    from triage.adapters.llm.evaluation import dataset_read

    return tuple(dataset_read(Path(__file__).resolve().parent / "fixtures" / "eval" / f"{name}.csv"))


def eval_generator(name: str = "make_sets"):  # noqa: ANN201 - a module loaded from a file
    """A generator of the labelled sets (tests/fixtures/eval/make_sets.py, or `name`.py there),
    loaded afresh on each call."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).resolve().parent / "fixtures" / "eval" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


# Six tickets about one narrow problem in three languages, which no taxonomy phrase mentions: a
# correction of them must move how their neighbours classify (learned model and training service).
DATEV_TICKETS = (
    ("DATEV export", "The nightly DATEV export to our accountant is empty again."),
    ("DATEV Export leer", "Der nächtliche DATEV-Export an unseren Steuerberater ist wieder leer."),
    ("DATEV export missing", "Our accountant did not get the DATEV export file this week."),
    ("Exportación DATEV vacía", "La exportación DATEV para la gestoría llega vacía."),
    ("DATEV export has no bookings", "The DATEV export contains no bookings since Monday."),
    ("DATEV Datei fehlt", "Die DATEV-Datei für die Buchhaltung fehlt seit Montag."),
)


def pasted_log(n_chars: int) -> str:
    """A log of at least n_chars whose every line says where it is: a leak from the middle shows."""
    lines, size, i = [], 0, 0
    while size < n_chars:
        line = f"line {i:08d} of the pasted log\n"
        lines.append(line)
        size += len(line)
        i += 1
    return "".join(lines)
