from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.factories import TicketFactory
from triage.fields import REVIEWED_FIELDS
from triage.models import ClassifierVersion, Ticket, TriageRun
from triage.services import offline_model, review, triage

pytestmark = pytest.mark.django_db

DATEV = [
    ("DATEV export", "The nightly DATEV export to our accountant is empty again."),
    ("DATEV Export leer", "Der nächtliche DATEV-Export an unseren Steuerberater ist wieder leer."),
    ("DATEV export missing", "Our accountant did not get the DATEV export file this week."),
    ("Exportación DATEV vacía", "La exportación DATEV para la gestoría llega vacía."),
    ("DATEV export has no bookings", "The DATEV export contains no bookings since Monday."),
    ("DATEV Datei fehlt", "Die DATEV-Datei für die Buchhaltung fehlt seit Montag."),
]


@pytest.fixture(autouse=True)
def _model_dir(settings, tmp_path):
    settings.TRIAGE_MODEL_DIR = tmp_path / "models"
    offline_model.local_model_reset()
    yield
    offline_model.local_model_reset()


@pytest.fixture
def reviewer(db):
    return get_user_model().objects.create_user("reviewer", password="x", is_staff=True)


def _triaged(subject: str, body: str) -> Ticket:
    ticket = TicketFactory(subject=subject, description=body, status=Ticket.Status.TRIAGING)
    triage.ticket_triage(ticket_id=ticket.id, provider="local")
    ticket.refresh_from_db()
    return ticket


def _correct(ticket: Ticket, user, **values: str) -> None:
    current = {name: getattr(ticket, name) for name in REVIEWED_FIELDS}
    review.review_record(ticket_id=ticket.id, user=user, values={**current, **values})


def test_nothing_is_trained_before_any_review(taxonomy):
    _triaged(*DATEV[0])
    assert offline_model.classifier_train() is None
    assert not ClassifierVersion.objects.exists()


def test_reviews_train_a_version_that_the_next_runs_use_and_record(taxonomy, reviewer):
    neighbour = _triaged(
        "DATEV export empty", "The DATEV export for our tax advisor arrived without any data."
    )
    first_run = neighbour.latest_run
    assert first_run.model == "local-tfidf-2" and neighbour.category != "integration"

    for subject, body in DATEV:
        _correct(_triaged(subject, body), reviewer, category="integration", queue="tier2")
    version = offline_model.classifier_train()
    assert version is not None and version.n_reviewed == len(DATEV)
    assert (offline_model.local_model_get().trained.version) == version.version

    again = TicketFactory(
        subject="DATEV-Export ohne Daten",
        description="Der DATEV-Export für den Steuerberater kam ohne Daten an.",
        status=Ticket.Status.TRIAGING,
    )
    run = triage.ticket_triage(ticket_id=again.id)
    again.refresh_from_db()
    assert run.model == f"local-tfidf-2+{version.version}"
    assert again.category == "integration" and again.queue == "tier2"
    assert TriageRun.objects.get(id=first_run.id).model == "local-tfidf-2"  # history keeps its version


def test_retraining_on_the_same_reviews_is_a_no_op(taxonomy, reviewer):
    for subject, body in DATEV[:3]:
        _correct(_triaged(subject, body), reviewer, category="integration")
    assert offline_model.classifier_train() is not None
    assert offline_model.classifier_train() is None
    assert offline_model.classifier_train(force=True) is None  # same fingerprint: nothing new to learn
    assert ClassifierVersion.objects.count() == 1


def test_a_new_review_makes_a_new_version_and_workers_reload_it(taxonomy, reviewer):
    _correct(_triaged(*DATEV[0]), reviewer, category="integration")
    first = offline_model.classifier_train()
    served = offline_model.local_model_get()
    assert offline_model.local_model_get() is served  # cached while nothing changes
    _correct(_triaged(*DATEV[1]), reviewer, category="integration")
    second = offline_model.classifier_train()
    assert second is not None and second.version != first.version
    assert offline_model.local_model_get().trained.version == second.version


def test_a_missing_model_file_falls_back_to_day_one(taxonomy, reviewer, settings):
    _correct(_triaged(*DATEV[0]), reviewer, category="integration")
    version = offline_model.classifier_train()
    (settings.TRIAGE_MODEL_DIR / version.path).unlink()
    offline_model.local_model_reset()
    assert offline_model.local_model_get().trained is None


def test_the_train_task_and_command_train(taxonomy, reviewer, capsys):
    from django.core.management import call_command

    from triage.tasks import classifier_train_task

    _correct(_triaged(*DATEV[0]), reviewer, category="integration")
    classifier_train_task.run(force=False)
    assert ClassifierVersion.objects.count() == 1
    _correct(_triaged(*DATEV[1]), reviewer, category="integration")
    call_command("triage_train")
    assert ClassifierVersion.objects.count() == 2
    assert '"n_reviewed": 2' in capsys.readouterr().out
