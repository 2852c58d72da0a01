from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from tests.factories import (
    AttachmentFactory,
    RenditionFactory,
    StaffUserFactory,
    TicketFactory,
    calibrated_version,
)
from triage.models import ClassifierVersion, RenditionText, Ticket

pytestmark = pytest.mark.django_db

RELIABILITY = [
    {"bucket": "0.0-0.2", "n": 3, "mean_confidence": 0.15, "accuracy": 0.333},
    {"bucket": "0.8-1.0", "n": 37, "mean_confidence": 0.91, "accuracy": 0.892},
]


def _manager():
    # the page is for managers (triage.roles); staff alone is not a role
    user = StaffUserFactory()
    user.groups.add(Group.objects.get_or_create(name="managers")[0])
    return user


def _ocr(ticket, text: str) -> None:
    rendition = RenditionFactory(attachment=AttachmentFactory(ticket=ticket))
    RenditionText.objects.create(rendition=rendition, text=text, engine="test")


def test_staff_see_the_reliability_table_of_the_newest_version(client):
    client.force_login(_manager())
    ClassifierVersion.objects.create(
        version="v-test",
        path="v-test.joblib",
        data_fingerprint="f" * 64,
        taxonomy_key="k",
        n_reviewed=40,
        metrics={
            "heldout": {"category": {"n": 40, "accuracy": 0.875, "macro_f1": 0.81}},
            "reliability": {"category": RELIABILITY},
            "calibrated": {"category": True},
        },
    )
    page = client.get(reverse("triage:model-health")).content.decode()
    assert "Version v-test" in page and "0.875" in page
    assert "<td>0.8-1.0</td><td>37</td><td>0.91</td><td>0.892</td>" in page


def test_day_one_is_explained_before_any_training(client):
    client.force_login(_manager())
    page = client.get(reverse("triage:model-health")).content.decode()
    assert "Day one." in page
    # the descriptions and phrases it reads are edited on our own Taxonomy page, not the admin
    assert f'on the <a href="{reverse("triage:taxonomy")}">Taxonomy</a> page' in page


def test_agents_and_staff_who_are_not_managers_cannot_see_it(agent, client):
    assert agent.get(reverse("triage:model-health")).status_code == 403
    client.force_login(StaffUserFactory())
    assert client.get(reverse("triage:model-health")).status_code == 403


def test_retrain_now_queues_the_training(client, django_capture_on_commit_callbacks, monkeypatch):
    from triage import tasks

    TicketFactory(status=Ticket.Status.REVIEWED)
    queued = []
    monkeypatch.setattr(tasks.classifier_train_task, "delay", lambda **kw: queued.append(kw))
    client.force_login(_manager())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("triage:model-health"))
    assert response.status_code == 302 and queued == [{"force": True}]


def test_retrain_now_says_there_is_nothing_to_learn_from_instead_of_queueing_nothing(
    client, django_capture_on_commit_callbacks, monkeypatch, settings
):
    """The demo's first hour: 5 tickets, none reviewed. Retraining would neither train (no review) nor
    fit day one (under TRIAGE_DAYONE_MIN_TICKETS), while the page promised a new version."""
    from triage import tasks

    settings.TRIAGE_DAYONE_MIN_TICKETS = 50
    for _ in range(5):
        TicketFactory(status=Ticket.Status.NEEDS_REVIEW)
    queued = []
    monkeypatch.setattr(tasks.classifier_train_task, "delay", lambda **kw: queued.append(kw))
    client.force_login(_manager())
    page = client.get(reverse("triage:model-health")).content.decode()
    assert 'disabled aria-describedby="retrain-refusal"' in page
    assert "before any review the queue is learned from 50 stored tickets (5 so far)" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("triage:model-health"), follow=True)
    assert queued == []
    assert "Nothing to learn from yet" in response.content.decode()


def test_text_read_from_screenshots_is_searchable(agent):
    found = TicketFactory(subject="See the screenshot", description="It broke.")
    _ocr(found, "ERR_CERT_DATE_INVALID\nThe connection is not private")
    other = TicketFactory(subject="Another problem", description="Nothing to see.")
    page = agent.get(reverse("triage:review-queue"), {"q": "err_cert_date"}).content.decode()
    assert found.subject in page and other.subject not in page
    once = page.count(found.subject)
    # several matching renditions still list the ticket once
    _ocr(found, "ERR_CERT_DATE_INVALID again")
    page = agent.get(reverse("triage:review-queue"), {"q": "ERR_CERT"}).content.decode()
    assert page.count(found.subject) == once


def test_the_ticket_page_shows_the_text_read_from_a_screenshot(agent):
    ticket = TicketFactory(subject="Login error")
    _ocr(ticket, "Invalid two-factor code (E1042)")
    page = agent.get(reverse("triage:ticket-detail", args=[ticket.id])).content.decode()
    assert "Text read from the screenshot" in page and "Invalid two-factor code (E1042)" in page


def test_the_calibration_error_and_the_low_level_per_field_are_shown(client):
    client.force_login(_manager())
    ClassifierVersion.objects.create(
        version="v-cal",
        path="v-cal.joblib",
        data_fingerprint="e" * 64,
        taxonomy_key="k",
        n_reviewed=40,
        metrics={
            "heldout": {
                "queue": {"n": 40, "accuracy": 0.8, "macro_f1": 0.7, "ece": 0.031, "left_out_as_noise": 3}
            },
            "reliability": {"queue": RELIABILITY},
            "calibrated": {"queue": True},
            "low_below": {"queue": 0.6},
        },
    )
    page = client.get(reverse("triage:model-health")).content.decode()
    assert "calibration error (ECE) 0.031 (within the goal of 0.05)" in page
    assert "3 reviews left out as likely wrong labels" in page
    assert "low confidence below 0.60 (held-out accuracy under 70% there)" in page


def test_the_page_shows_the_auto_accept_levels_derived_from_the_calibration(client, settings):
    client.force_login(_manager())
    settings.TRIAGE_AUTO_ACCEPT_ACCURACY = 0.95
    page = client.get(reverse("triage:model-health")).content.decode()
    assert "nobody is auto-accepted yet" in page
    calibrated_version({"category": 0.6, "priority": 0.8, "queue": 0.4, "sentiment": 0.2})
    page = client.get(reverse("triage:model-health")).content.decode()
    assert "<tr><td>Category</td><td>0.60</td></tr>" in page
    assert "<tr><td>Queue</td><td>0.40</td></tr>" in page
    assert "<tr><td>Language</td><td>0.95</td></tr>" in page


def test_the_page_says_auto_accept_is_off_by_default(client):
    client.force_login(_manager())
    assert "Off: a person reviews every ticket" in client.get(reverse("triage:model-health")).content.decode()


def _dayone_row(version: str = "d-test") -> ClassifierVersion:
    return ClassifierVersion.objects.create(
        version=version,
        kind=ClassifierVersion.Kind.DAYONE,
        path=f"{version}.joblib",
        data_fingerprint=version.ljust(64, "0"),
        taxonomy_key="k",
        metrics={"n_tickets": 120, "n_texts": 120, "fields": ["queue"]},
    )


def test_the_page_says_a_day_one_version_fitted_on_unreviewed_tickets_is_in_use(client):
    client.force_login(_manager())
    _dayone_row()
    page = client.get(reverse("triage:model-health")).content.decode()
    assert 'data-kind="dayone"' in page and "Version d-test" in page
    assert "texts of 120 tickets" in page and "Day one (unreviewed tickets)" in page


def test_a_trained_version_is_shown_in_use_even_when_a_day_one_version_is_newer(client):
    client.force_login(_manager())
    ClassifierVersion.objects.create(
        version="v-trained", path="v.joblib", data_fingerprint="a" * 64, taxonomy_key="k", n_reviewed=40
    )
    _dayone_row("d-newer")
    page = client.get(reverse("triage:model-health")).content.decode()
    assert 'data-kind="trained"' in page and "Version v-trained" in page
    assert 'data-kind="dayone"' not in page and "d-newer" in page  # listed among the versions


def test_a_field_whose_calibration_error_is_over_the_goal_says_so(client):
    client.force_login(_manager())
    ClassifierVersion.objects.create(
        version="v-overconfident",
        path="v-overconfident.joblib",
        data_fingerprint="f" * 64,
        taxonomy_key="k",
        n_reviewed=40,
        metrics={
            "heldout": {"queue": {"n": 40, "accuracy": 0.6, "macro_f1": 0.5, "ece": 0.12}},
            "reliability": {"queue": RELIABILITY},
            "calibrated": {"queue": True},
        },
    )
    page = client.get(reverse("triage:model-health")).content.decode()
    assert "calibration error (ECE) 0.120 (<strong>over</strong> the goal of 0.05)" in page
