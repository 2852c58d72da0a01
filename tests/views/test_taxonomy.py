"""The managers' taxonomy editor: add, rename, deactivate, reactivate; every change recorded."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from tests.factories import UserFactory, taxonomy_rows, triaged_ticket
from triage import selectors
from triage.models import TaxonomyChange, TaxonomyValue

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(client, view_taxonomy):
    user = UserFactory(username="mona")
    user.groups.add(Group.objects.get_or_create(name="managers")[0])
    client.force_login(user)
    return client


def _value(field: str, value: str) -> TaxonomyValue:
    return TaxonomyValue.objects.get(field=field, value=value)


def test_the_page_lists_every_field_and_its_values(manager):
    html = manager.get(reverse("triage:taxonomy")).content.decode()
    for field in ("Category", "Priority", "Queue", "Sentiment"):
        assert f">{field}</h2>" in html
    assert "Billing &amp; payments" in html and "<code>billing_team</code>" in html


def test_adding_a_value_offers_it_to_reviewers_and_the_model_and_records_who(manager):
    response = manager.post(
        reverse("triage:taxonomy"), {"field": "queue", "value": "refunds", "label": "Refunds"}
    )
    assert response.status_code == 302
    assert ("refunds", "Refunds") in selectors.taxonomy_choices(field="queue")
    assert "refunds" in [e.value for e in selectors.taxonomy_get().queues]
    change = TaxonomyChange.objects.get()
    assert (change.action, change.changed_by.username, change.after) == ("ADD", "mona", "Refunds")
    assert change.changed_at is not None


def test_a_value_that_exists_or_a_bad_slug_is_refused_with_the_reason(manager):
    response = manager.post(reverse("triage:taxonomy"), {"field": "queue", "value": "tier1", "label": "T1"})
    assert response.status_code == 400 and "already has the value" in response.content.decode()
    response = manager.post(
        reverse("triage:taxonomy"), {"field": "queue", "value": "no spaces!", "label": "x"}
    )
    assert response.status_code == 400 and "slug" in response.content.decode().lower()
    assert not TaxonomyChange.objects.exists()


def test_renaming_keeps_the_slug_tickets_store(manager):
    ticket = triaged_ticket()  # category "bug"
    row = _value("category", "bug")
    manager.post(reverse("triage:taxonomy-value", args=[row.id]), {"action": "rename", "label": "Defect"})
    row.refresh_from_db()
    ticket.refresh_from_db()
    assert row.label == "Defect" and row.value == "bug" and ticket.category == "bug"
    assert selectors.taxonomy_labels()["category"]["bug"] == "Defect"
    change = TaxonomyChange.objects.get()
    assert (change.action, change.before, change.after) == ("RENAME", "Bug / error", "Defect")


def test_deactivating_hides_a_value_from_new_choices_but_tickets_keep_it(manager):
    ticket = triaged_ticket()  # queue "engineering"
    row = _value("queue", "engineering")
    url = reverse("triage:taxonomy-value", args=[row.id])
    manager.post(url, {"action": "deactivate"})
    manager.post(url, {"action": "deactivate"})  # a double click records one change
    assert "engineering" not in dict(selectors.taxonomy_choices(field="queue"))
    assert TaxonomyValue.objects.filter(id=row.id).exists()
    ticket.refresh_from_db()
    assert ticket.queue == "engineering"
    assert manager.get(reverse("triage:ticket-detail", args=[ticket.id])).status_code == 200
    manager.post(url, {"action": "reactivate"})
    assert "engineering" in dict(selectors.taxonomy_choices(field="queue"))
    assert list(TaxonomyChange.objects.order_by("id").values_list("action", flat=True)) == [
        "DEACTIVATE",
        "REACTIVATE",
    ]


def test_the_last_active_value_of_a_field_stays(manager):
    rows = list(TaxonomyValue.objects.filter(field="sentiment"))
    for row in rows:
        manager.post(reverse("triage:taxonomy-value", args=[row.id]), {"action": "deactivate"})
    assert TaxonomyValue.objects.filter(field="sentiment", is_active=True).count() == 1
    page = manager.get(reverse("triage:taxonomy")).content.decode()
    assert "needs at least one active value" in page


def test_nothing_deletes_a_value(manager):
    before = TaxonomyValue.objects.count()
    row = _value("priority", "low")
    for action in ("delete", ""):
        manager.post(reverse("triage:taxonomy-value", args=[row.id]), {"action": action})
    assert TaxonomyValue.objects.count() == before


def test_agents_cannot_edit(agent):
    taxonomy_rows()
    row = _value("priority", "low")
    assert agent.get(reverse("triage:taxonomy")).status_code == 403
    response = agent.post(reverse("triage:taxonomy-value", args=[row.id]), {"action": "deactivate"})
    assert response.status_code == 403 and _value("priority", "low").is_active


def test_describing_a_value_changes_what_the_models_read_and_is_recorded(manager):
    from triage.adapters.llm.local import taxonomy_key
    from triage.adapters.llm.prompt import prompt_cache_key, system_prompt

    billing = _value("category", "billing")
    before = selectors.taxonomy_get()
    html = manager.get(reverse("triage:taxonomy")).content.decode()
    assert f'id="description-{billing.id}"' in html and f'id="examples-{billing.id}"' in html
    response = manager.post(
        reverse("triage:taxonomy-value", args=[billing.id]),
        {
            "action": "describe",
            "description": "  Invoices, refunds, card charges and VAT receipts. ",
            "examples": "I was charged twice\n\n  where is my VAT receipt?  \nReembolso por favor\n",
        },
    )
    assert response.status_code == 302
    billing.refresh_from_db()
    assert billing.description == "Invoices, refunds, card charges and VAT receipts."
    assert billing.examples == "I was charged twice\nwhere is my VAT receipt?\nReembolso por favor"
    after = selectors.taxonomy_get()
    entry = next(e for e in after.categories if e.value == "billing")
    assert entry.examples == ("I was charged twice", "where is my VAT receipt?", "Reembolso por favor")
    # the offline model refits for the new taxonomy, Kimi gets a new prompt and cache key
    assert taxonomy_key(after) != taxonomy_key(before)
    assert prompt_cache_key(after) != prompt_cache_key(before)
    assert "where is my VAT receipt?" in system_prompt(after)
    change = TaxonomyChange.objects.get()
    assert (change.action, change.changed_by.username) == ("DESCRIBE", "mona")
    assert change.after.startswith("Invoices, refunds") and change.after.endswith("(3 examples)")
    page = manager.get(reverse("triage:taxonomy")).content.decode()
    assert "Described category" in page


def test_saving_the_same_description_records_nothing(manager):
    row = _value("priority", "low")
    data = {"action": "describe", "description": row.description, "examples": row.examples}
    manager.post(reverse("triage:taxonomy-value", args=[row.id]), data)
    assert not TaxonomyChange.objects.exists()


def test_a_too_long_description_is_refused(manager):
    row = _value("priority", "low")
    response = manager.post(
        reverse("triage:taxonomy-value", args=[row.id]),
        {"action": "describe", "description": "x" * 2001},
        follow=True,
    )
    assert "at most 2,000 characters" in response.content.decode()
    assert _value("priority", "low").description == row.description


def test_agents_cannot_describe(agent, view_taxonomy):
    row = _value("priority", "low")
    response = agent.post(
        reverse("triage:taxonomy-value", args=[row.id]), {"action": "describe", "description": "x"}
    )
    assert response.status_code == 403 and _value("priority", "low").description == row.description
