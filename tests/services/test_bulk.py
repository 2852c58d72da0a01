from __future__ import annotations

import pytest

from tests.factories import TicketFactory, UserFactory, failed_ticket, taxonomy_rows, triaged_ticket
from triage.models import Ticket, TicketEvent
from triage.services.bulk import bulk_apply, bulk_summary, ticket_versions
from triage.services.review import ticket_version

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _taxonomy():
    taxonomy_rows()


def test_set_priority_changes_each_ticket_and_records_who(db):
    user = UserFactory()
    a, b = triaged_ticket(), failed_ticket()
    Ticket.objects.filter(id=b.id).update(priority="low")
    result = bulk_apply(ticket_ids=[a.id, b.id], user=user, action="priority", value="urgent")
    assert result.done == [a.reference, b.reference] and not result.skipped
    assert set(Ticket.objects.values_list("priority", flat=True)) == {"urgent"}
    event = TicketEvent.objects.get(ticket=b)
    assert event.user == user and event.before == {"priority": "low"} and event.after["priority"] == "urgent"


def test_a_ticket_changed_since_the_list_was_loaded_is_skipped_and_the_others_go_ahead(db):
    user = UserFactory()
    a, b = triaged_ticket(), triaged_ticket()
    seen = {a.id: ticket_version(ticket=a), b.id: ticket_version(ticket=b)}
    b.summary = "a colleague edited it"
    b.save()
    result = bulk_apply(ticket_ids=[a.id, b.id], user=user, action="accept", seen=seen)
    assert result.done == [a.reference]
    assert result.skipped == [(b.reference, "changed since you loaded the list, open it to check")]
    assert Ticket.objects.get(id=b.id).status == Ticket.Status.NEEDS_REVIEW
    done, skipped = bulk_summary(result=result, action="accept")
    assert done == "Accepted 1 ticket as proposed." and b.reference in skipped


def test_in_progress_and_impossible_duplicates_are_skipped_with_the_reason(db):
    user = UserFactory()
    original = triaged_ticket()
    busy = TicketFactory(status=Ticket.Status.PROCESSING)
    result = bulk_apply(
        ticket_ids=[original.id, busy.id], user=user, action="duplicate", value=original.reference
    )
    assert dict(result.skipped) == {
        original.reference: f"{original.reference} is this ticket or already a duplicate of it",
        busy.reference: "still being processed",
    }


def test_assign_and_unchanged(db):
    user, ana = UserFactory(), UserFactory(username="ana")
    a, b = triaged_ticket(), triaged_ticket(assignee=UserFactory(username="ana2"))
    Ticket.objects.filter(id=a.id).update(assignee=ana)
    result = bulk_apply(ticket_ids=[a.id, b.id], user=user, action="assign", assignee=ana)
    assert result.done == [b.reference] and result.unchanged == [a.reference]
    assert Ticket.objects.get(id=b.id).assignee == ana
    assert bulk_summary(result=result, action="assign")[0] == "Assign to: 1 ticket done, 1 already so."


def test_ticket_versions_reads_the_current_versions(db):
    a = triaged_ticket()
    assert ticket_versions(ticket_ids=[a.id]) == {a.id: ticket_version(ticket=a)}


def test_set_category_and_mark_duplicates_in_bulk(db):
    user = UserFactory()
    original, a, b = triaged_ticket(), triaged_ticket(), triaged_ticket()
    result = bulk_apply(ticket_ids=[a.id, b.id], user=user, action="category", value="billing")
    assert result.done == [a.reference, b.reference]
    assert set(Ticket.objects.filter(id__in=[a.id, b.id]).values_list("category", flat=True)) == {"billing"}
    result = bulk_apply(ticket_ids=[a.id, b.id], user=user, action="duplicate", value=original.reference)
    assert result.done == [a.reference, b.reference] and not result.skipped
    assert {t.duplicate_of_id for t in Ticket.objects.filter(id__in=[a.id, b.id])} == {original.id}
