"""The offline model's lifecycle: train on reviewed tickets, store versions, serve the newest.

Day one (no review yet): once TRIAGE_DAYONE_MIN_TICKETS tickets are stored, `dayone_fit` fits the
day-one queue on their texts alone (adapters/llm/dayone.py: no label is read, none exists) and
stores it the same way, as a ClassifierVersion of kind "dayone"; it is refitted when
TRIAGE_DAYONE_REFIT_EVERY tickets are new. A trained version, once there, is served instead and
no day-one version is fitted any more.

Training reads every REVIEWED ticket (the values a human confirmed or corrected) and the current
taxonomy, fits the learned classifiers (adapters/llm/learned.py) with no transaction open, writes
the file under TRIAGE_MODEL_DIR to a temporary name and renames it, then records a
ClassifierVersion. The data fingerprint (reviews + taxonomy) is unique: a second run on the same
data, or two workers racing, create one version.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import tempfile
import threading
import time
from pathlib import Path

import joblib
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from triage import selectors
from triage.adapters.llm.base import TicketInput
from triage.adapters.llm.dayone import MAX_TEXTS, UnlabelledModel
from triage.adapters.llm.learned import TrainedModel
from triage.adapters.llm.local import (
    LocalTriageModel,
    local_model_fit_unlabelled,
    local_model_train,
    taxonomy_key,
)
from triage.fields import TAXONOMY_FIELDS
from triage.models import REVIEWED_STATES, ClassifierVersion, RenditionText, Ticket
from triage.selectors.calibration import classifier_active
from triage.services.ocr import ticket_ocr_text

TRAINED = ClassifierVersion.Kind.TRAINED
DAYONE = ClassifierVersion.Kind.DAYONE

logger = logging.getLogger(__name__)


def _reviewed_samples() -> list[tuple[TicketInput, dict[str, str]]]:
    tickets = Ticket.objects.filter(status__in=REVIEWED_STATES).order_by("id")
    samples = []
    for ticket in tickets:
        labels = {name: getattr(ticket, name) for name in TAXONOMY_FIELDS if getattr(ticket, name)}
        ticket_input = TicketInput(
            ticket_id=ticket.id,
            subject=ticket.subject,
            body=ticket.description,
            ocr_text=ticket_ocr_text(ticket_id=ticket.id),
        )
        samples.append((ticket_input, labels))
    return samples


def _fingerprint(samples: list[tuple[TicketInput, dict[str, str]]], tax_key: str) -> str:
    digest = hashlib.sha256(tax_key.encode())
    for ticket_input, labels in samples:
        digest.update(
            repr((ticket_input.ticket_id, sorted(labels.items()), len(ticket_input.ocr_text))).encode()
        )
    return digest.hexdigest()


def _newest(kind: str) -> ClassifierVersion | None:
    return ClassifierVersion.objects.filter(kind=kind).order_by("-created_at", "-id").first()


def _store(model: object, *, version: str, **fields: object) -> ClassifierVersion | None:
    """Write the model file under TRIAGE_MODEL_DIR and record its ClassifierVersion row (`fields`:
    the row's other columns); None when another worker recorded the same data meanwhile."""
    model_dir = Path(settings.TRIAGE_MODEL_DIR)
    model_dir.mkdir(parents=True, exist_ok=True)
    # Two workers fitting the same data in the same second make the same version name: each writes
    # its own file, so the loser of the unique fingerprint removes its file, never the winner's.
    name = f"{version}-{secrets.token_hex(4)}.joblib"
    # Write then rename: a worker loading the newest version never reads half a file.
    fd, tmp = tempfile.mkstemp(dir=model_dir, suffix=".part")
    os.close(fd)
    joblib.dump(model, tmp, compress=3)
    os.replace(tmp, model_dir / name)
    try:
        with transaction.atomic():
            return ClassifierVersion.objects.create(version=version, path=name, **fields)
    except IntegrityError:  # the same data_fingerprint: another worker fitted the same data
        (model_dir / name).unlink(missing_ok=True)
        return None


def classifier_train(*, force: bool = False) -> ClassifierVersion | None:
    """Train a new version when reviews or the taxonomy changed. Returns None when nothing to do.

    Idempotent: the same reviews and taxonomy give the same fingerprint, which is recorded once.
    `force` retrains even if fewer than TRIAGE_RETRAIN_MIN_NEW_REVIEWS reviews are new.
    """
    samples = _reviewed_samples()
    if not samples:
        return None  # day one: the taxonomy model needs no training
    taxonomy = selectors.taxonomy_get()
    tax_key = taxonomy_key(taxonomy)
    fingerprint = _fingerprint(samples, tax_key)
    active = _newest(TRAINED)
    if ClassifierVersion.objects.filter(data_fingerprint=fingerprint).exists():
        return None
    if (
        not force
        and active is not None
        and active.taxonomy_key == tax_key
        and len(samples) - active.n_reviewed < settings.TRIAGE_RETRAIN_MIN_NEW_REVIEWS
    ):
        return None
    version = f"v{timezone.now():%Y%m%dT%H%M%S}-{fingerprint[:6]}"
    started = time.monotonic()
    trained = local_model_train(labeled=samples, taxonomy=taxonomy, version=version)
    seconds = round(time.monotonic() - started, 2)
    row = _store(
        trained,
        version=version,
        kind=TRAINED,
        data_fingerprint=fingerprint,
        taxonomy_key=tax_key,
        n_reviewed=len(samples),
        training_seconds=seconds,
        metrics={
            "heldout": trained.heldout,
            "reliability": trained.reliability,
            "low_below": getattr(trained, "low_below", {}),
            "n_reviewed": {field: trained.fields[field].n_reviewed for field in trained.fields},
            "calibrated": {field: trained.fields[field].calibrator is not None for field in trained.fields},
        },
    )
    if row is None:
        return None
    logger.info("trained offline model %s on %d reviewed tickets in %.1f s", version, len(samples), seconds)
    return row


# --- day one: fitted on the stored tickets' texts, before any review ------------------------------
def _unreviewed_inputs() -> list[TicketInput]:
    """The newest MAX_TEXTS tickets as the model reads them (subject, description, OCR text), in
    id order; two queries, whatever the number of tickets."""
    rows = list(Ticket.objects.order_by("-id").values_list("id", "subject", "description")[:MAX_TEXTS])[::-1]
    if not rows:
        return []
    ocr: dict[int, list[str]] = {}
    texts = (
        RenditionText.objects.filter(rendition__attachment__ticket_id__gte=rows[0][0])
        .exclude(text="")
        .order_by("rendition__attachment_id", "rendition__kind", "rendition__index")
        .values_list("rendition__attachment__ticket_id", "text")
    )
    for ticket_id, text in texts:
        seen = ocr.setdefault(ticket_id, [])
        if text not in seen:  # as ticket_ocr_text: sampled frames of a static screen read the same
            seen.append(text)
    return [
        TicketInput(ticket_id=i, subject=subject, body=description, ocr_text="\n".join(ocr.get(i, ())))
        for i, subject, description in rows
    ]


def dayone_fit(*, force: bool = False) -> ClassifierVersion | None:
    """Fit and store a day-one version on the stored tickets' texts. Returns None when nothing to do:
    a trained version exists, fewer than TRIAGE_DAYONE_MIN_TICKETS tickets, fewer than
    TRIAGE_DAYONE_REFIT_EVERY new since the last day-one version of this taxonomy (unless `force`),
    or the same data was fitted already (two workers racing store one version)."""
    if ClassifierVersion.objects.filter(kind=TRAINED).exists():
        return None  # reviews decide from now on
    count = Ticket.objects.count()
    if count < settings.TRIAGE_DAYONE_MIN_TICKETS:
        return None
    taxonomy = selectors.taxonomy_get()
    tax_key = taxonomy_key(taxonomy)
    last = _newest(DAYONE)
    if (
        not force
        and last is not None
        and last.taxonomy_key == tax_key
        and count - int(last.metrics.get("n_tickets", 0)) < settings.TRIAGE_DAYONE_REFIT_EVERY
    ):
        return None
    newest_id = Ticket.objects.order_by("-id").values_list("id", flat=True).first()
    fingerprint = hashlib.sha256(f"dayone|{tax_key}|{count}|{newest_id}".encode()).hexdigest()
    if ClassifierVersion.objects.filter(data_fingerprint=fingerprint).exists():
        return None
    inputs = _unreviewed_inputs()
    started = time.monotonic()
    fitted: UnlabelledModel | None = local_model_fit_unlabelled(inputs, taxonomy)
    seconds = round(time.monotonic() - started, 2)
    if fitted is None:
        return None
    version = f"d{timezone.now():%Y%m%dT%H%M%S}-{fingerprint[:6]}"
    fitted.version = version
    row = _store(
        fitted,
        version=version,
        kind=DAYONE,
        data_fingerprint=fingerprint,
        taxonomy_key=tax_key,
        n_reviewed=0,
        training_seconds=seconds,
        metrics={"n_tickets": count, "n_texts": fitted.n_texts, "fields": sorted(fitted.fields)},
    )
    if row is None:
        return None
    logger.info(
        "fitted day-one model %s on %d unreviewed tickets in %.1f s", version, fitted.n_texts, seconds
    )
    return row


def offline_model_refresh(*, force: bool = False) -> ClassifierVersion | None:
    """The scheduled job: train on reviews when there are any, else fit day one on the tickets."""
    if Ticket.objects.filter(status__in=REVIEWED_STATES).exists():
        return classifier_train(force=force)
    return dayone_fit(force=force)


# --- serving ---------------------------------------------------------------------------------------
_lock = threading.Lock()
_serving: dict[str, LocalTriageModel] = {}


def local_model_get() -> LocalTriageModel:
    """The offline model with the served version (classifier_active: the newest trained one, else
    the newest day-one one), reloaded when another one is served.

    One indexed query per call tells whether a worker's copy is stale; the file is loaded once
    per version and process.
    """
    active = classifier_active()
    key = active.version if active is not None else ""
    model = _serving.get(key)
    if model is not None:
        return model
    with _lock:
        model = _serving.get(key)
        if model is None:
            stored: TrainedModel | UnlabelledModel | None = None
            if active is not None:
                try:
                    stored = joblib.load(Path(settings.TRIAGE_MODEL_DIR) / active.path)
                except (OSError, EOFError, ValueError) as exc:  # a missing file: serve day one, say so
                    logger.error("offline model %s could not be loaded (%s): using day one", key, exc)
            model = LocalTriageModel(
                trained=stored if isinstance(stored, TrainedModel) else None,
                unlabelled=stored if isinstance(stored, UnlabelledModel) else None,
                language_accuracy=settings.TRIAGE_LANGUAGE_ACCURACY,
            )
            _serving.clear()  # the previous version is not needed any more
            _serving[key] = model
        return model


def local_model_reset() -> None:
    """Forget the served model (tests; a settings change)."""
    with _lock:
        _serving.clear()
