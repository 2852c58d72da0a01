from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.factories import DATEV_TICKETS, TicketFactory
from triage.fields import REVIEWED_FIELDS
from triage.models import ClassifierVersion, Ticket, TriageRun
from triage.services import offline_model, review, triage

pytestmark = pytest.mark.django_db


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
    _triaged(*DATEV_TICKETS[0])
    assert offline_model.classifier_train() is None
    assert not ClassifierVersion.objects.exists()


def test_reviews_train_a_version_that_the_next_runs_use_and_record(taxonomy, reviewer):
    neighbour = _triaged(
        "DATEV export empty", "The DATEV export for our tax advisor arrived without any data."
    )
    first_run = neighbour.latest_run
    assert first_run.model == "local-tfidf-2" and neighbour.category != "integration"

    for subject, body in DATEV_TICKETS:
        _correct(_triaged(subject, body), reviewer, category="integration", queue="tier2")
    version = offline_model.classifier_train()
    assert version is not None and version.n_reviewed == len(DATEV_TICKETS)
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


def test_a_trained_version_lists_the_side_remarks_it_left_out_on_the_ticket_page(taxonomy, reviewer, client):
    aside = "By the way, the office printer also jams."
    day_one = _triaged("DATEV export empty", f"The DATEV export arrived without any data. {aside}")
    assert day_one.latest_run.details["side_remarks"] == []  # day one read the whole text
    for subject, body in DATEV_TICKETS:
        _correct(_triaged(subject, body), reviewer, category="integration", queue="tier2")
    assert offline_model.classifier_train() is not None

    ticket = _triaged("DATEV-Export ohne Daten", f"Der DATEV-Export kam ohne Daten an. {aside}")
    assert ticket.latest_run.details["side_remarks"] == [aside]
    assert ticket.queue == "tier2"  # routed on the DATEV export, not the printer
    client.force_login(reviewer)
    html = client.get(reverse("triage:ticket-detail", args=[ticket.id])).content.decode()
    assert 'id="side-remarks"' in html and "the office printer also jams" in html
    html = client.get(reverse("triage:ticket-detail", args=[day_one.id])).content.decode()
    assert 'id="side-remarks"' not in html


def test_retraining_on_the_same_reviews_is_a_no_op(taxonomy, reviewer):
    for subject, body in DATEV_TICKETS[:3]:
        _correct(_triaged(subject, body), reviewer, category="integration")
    assert offline_model.classifier_train() is not None
    assert offline_model.classifier_train() is None
    assert offline_model.classifier_train(force=True) is None  # same fingerprint: nothing new to learn
    assert ClassifierVersion.objects.count() == 1


def test_a_new_review_makes_a_new_version_and_workers_reload_it(taxonomy, reviewer):
    _correct(_triaged(*DATEV_TICKETS[0]), reviewer, category="integration")
    first = offline_model.classifier_train()
    served = offline_model.local_model_get()
    assert offline_model.local_model_get() is served  # cached while nothing changes
    _correct(_triaged(*DATEV_TICKETS[1]), reviewer, category="integration")
    second = offline_model.classifier_train()
    assert second is not None and second.version != first.version
    assert offline_model.local_model_get().trained.version == second.version


def test_a_missing_model_file_falls_back_to_day_one(taxonomy, reviewer, settings):
    _correct(_triaged(*DATEV_TICKETS[0]), reviewer, category="integration")
    version = offline_model.classifier_train()
    (settings.TRIAGE_MODEL_DIR / version.path).unlink()
    offline_model.local_model_reset()
    assert offline_model.local_model_get().trained is None


def test_the_train_task_and_command_train(taxonomy, reviewer, capsys):
    from django.core.management import call_command

    from triage.tasks import classifier_train_task

    _correct(_triaged(*DATEV_TICKETS[0]), reviewer, category="integration")
    classifier_train_task.run(force=False)
    assert ClassifierVersion.objects.count() == 1
    _correct(_triaged(*DATEV_TICKETS[1]), reviewer, category="integration")
    call_command("triage_train")
    assert ClassifierVersion.objects.count() == 2
    assert '"n_reviewed": 2' in capsys.readouterr().out


# --- day one fitted on unreviewed tickets -----------------------------------------------------------
def _stored_tickets(n: int, start: int = 0) -> list[Ticket]:
    """Unreviewed tickets with the texts of the labelled helpdesk set (their labels are not stored)."""
    from tests.factories import eval_rows

    return [
        TicketFactory(subject=row.subject, description=row.body, status=Ticket.Status.NEEDS_REVIEW)
        for row in eval_rows("helpdesk")[start : start + n]
    ]


def test_day_one_is_not_fitted_on_too_few_tickets(taxonomy, settings):
    settings.TRIAGE_DAYONE_MIN_TICKETS = 50
    _stored_tickets(49)
    assert offline_model.dayone_fit() is None
    assert not ClassifierVersion.objects.exists()


def test_day_one_is_fitted_on_stored_tickets_stored_as_a_version_and_served(taxonomy, settings):
    settings.TRIAGE_DAYONE_MIN_TICKETS = 50
    tickets = _stored_tickets(60)
    row = offline_model.dayone_fit()
    assert row is not None and row.kind == ClassifierVersion.Kind.DAYONE and row.n_reviewed == 0
    assert row.metrics["n_texts"] == 60 and row.metrics["fields"] == ["queue"]
    assert (settings.TRIAGE_MODEL_DIR / row.path).exists()
    served = offline_model.local_model_get()
    assert served.trained is None and served.unlabelled.version == row.version
    assert served.model == f"local-tfidf-2+{row.version}"

    again = TicketFactory(
        subject=tickets[0].subject, description=tickets[0].description, status=Ticket.Status.TRIAGING
    )
    run = triage.ticket_triage(ticket_id=again.id, provider="local")
    assert run.model == f"local-tfidf-2+{row.version}"
    assert (
        run.details["decided_by"]["queue"] == row.version
        and run.details["decided_by"]["category"] == "day-one"
    )


def test_day_one_refits_only_when_enough_tickets_are_new(taxonomy, settings):
    settings.TRIAGE_DAYONE_MIN_TICKETS = 50
    settings.TRIAGE_DAYONE_REFIT_EVERY = 20
    _stored_tickets(60)
    first = offline_model.dayone_fit()
    assert first is not None
    assert offline_model.dayone_fit() is None  # nothing new
    _stored_tickets(19, start=60)
    assert offline_model.dayone_fit() is None  # 19 < 20 new
    assert offline_model.dayone_fit(force=True) is not None  # "Retrain now"
    assert offline_model.dayone_fit(force=True) is None  # same data: the fingerprint is taken
    _stored_tickets(20, start=79)
    third = offline_model.dayone_fit()
    assert third is not None and third.metrics["n_texts"] == 99
    assert offline_model.local_model_get().unlabelled.version == third.version


def test_a_trained_version_takes_precedence_and_stops_day_one(taxonomy, settings, reviewer):
    settings.TRIAGE_DAYONE_MIN_TICKETS = 50
    _stored_tickets(60)
    dayone = offline_model.dayone_fit()
    assert offline_model.local_model_get().unlabelled is not None
    _correct(_triaged(*DATEV_TICKETS[0]), reviewer, category="integration")
    trained = offline_model.offline_model_refresh()  # reviews exist: the scheduled job trains
    assert trained is not None and trained.kind == ClassifierVersion.Kind.TRAINED
    assert offline_model.classifier_active() == trained
    served = offline_model.local_model_get()
    assert served.trained.version == trained.version and served.unlabelled is None
    _stored_tickets(60, start=60)
    assert offline_model.dayone_fit(force=True) is None
    assert offline_model.classifier_active() == trained and dayone.version != trained.version


def test_the_scheduled_task_fits_day_one_before_any_review(taxonomy, settings):
    from triage.tasks import classifier_train_task, dayone_fit_task

    settings.TRIAGE_DAYONE_MIN_TICKETS = 50
    _stored_tickets(60)
    classifier_train_task.run(force=False)
    assert ClassifierVersion.objects.filter(kind=ClassifierVersion.Kind.DAYONE).count() == 1
    dayone_fit_task.run()  # nothing new: no second version
    assert ClassifierVersion.objects.count() == 1


def test_ticket_creation_queues_the_day_one_fit_every_k_tickets(
    taxonomy, settings, django_capture_on_commit_callbacks, monkeypatch
):
    from triage import tasks
    from triage.services.tickets import ticket_create

    queued = []
    monkeypatch.setattr(tasks.dayone_fit_task, "delay", lambda **kw: queued.append(kw))
    settings.TRIAGE_DAYONE_REFIT_EVERY = 3
    ids = []
    for n in range(6):
        with django_capture_on_commit_callbacks(execute=True):
            ids.append(
                ticket_create(
                    subject=f"Printer {n}", description="It jams.", requester_email="", acknowledge=False
                ).id
            )
    assert len(queued) == sum(1 for i in ids if i % 3 == 0) == 2
