"""The offline model's lifecycle: train on reviewed tickets, store versions, serve the newest.

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
from triage.adapters.llm.learned import TrainedModel
from triage.adapters.llm.local import LocalTriageModel, local_model_train, taxonomy_key
from triage.fields import TAXONOMY_FIELDS
from triage.models import REVIEWED_STATES, ClassifierVersion, Ticket
from triage.services.ocr import ticket_ocr_text

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


def classifier_active() -> ClassifierVersion | None:
    return ClassifierVersion.objects.order_by("-created_at", "-id").first()


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
    active = classifier_active()
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
    model_dir = Path(settings.TRIAGE_MODEL_DIR)
    model_dir.mkdir(parents=True, exist_ok=True)
    name = f"{version}.joblib"
    # Write then rename: a worker loading the newest version never reads half a file.
    fd, tmp = tempfile.mkstemp(dir=model_dir, suffix=".part")
    os.close(fd)
    joblib.dump(trained, tmp, compress=3)
    os.replace(tmp, model_dir / name)
    metrics = {
        "heldout": trained.heldout,
        "reliability": trained.reliability,
        "low_below": getattr(trained, "low_below", {}),
        "n_reviewed": {name: trained.fields[name].n_reviewed for name in trained.fields},
        "calibrated": {name: trained.fields[name].calibrator is not None for name in trained.fields},
    }
    try:
        with transaction.atomic():
            row = ClassifierVersion.objects.create(
                version=version,
                path=name,
                data_fingerprint=fingerprint,
                taxonomy_key=tax_key,
                n_reviewed=len(samples),
                training_seconds=seconds,
                metrics=metrics,
            )
    except IntegrityError:  # another worker trained on the same data meanwhile
        (model_dir / name).unlink(missing_ok=True)
        return None
    logger.info("trained offline model %s on %d reviewed tickets in %.1f s", version, len(samples), seconds)
    return row


# --- serving ---------------------------------------------------------------------------------------
_lock = threading.Lock()
_serving: dict[str, LocalTriageModel] = {}


def local_model_get() -> LocalTriageModel:
    """The offline model with the newest trained version, reloaded when a newer one exists.

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
            trained: TrainedModel | None = None
            if active is not None:
                try:
                    trained = joblib.load(Path(settings.TRIAGE_MODEL_DIR) / active.path)
                except (OSError, EOFError, ValueError) as exc:  # a missing file: serve day one, say so
                    logger.error("offline model %s could not be loaded (%s): using day one", key, exc)
            model = LocalTriageModel(trained=trained, language_accuracy=settings.TRIAGE_LANGUAGE_ACCURACY)
            _serving.clear()  # the previous version is not needed any more
            _serving[key] = model
        return model


def local_model_reset() -> None:
    """Forget the served model (tests; a settings change)."""
    with _lock:
        _serving.clear()
