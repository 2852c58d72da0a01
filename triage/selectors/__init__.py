"""Reads, one module per domain: querysets decide their joins here so views never trigger N+1 queries.

queue (the review queue), tickets (one ticket and its neighbours), taxonomy, attachments (each
file's stage), costs (model spend), inbound_email (quarantine), reports (the managers' dashboard)
and rollups (the same dashboard from per-day rollups).
The names below are re-exported so `from triage import selectors; selectors.taxonomy_get()` reads
the same whichever module holds it; reports and rollups are imported as their own modules.
"""

from __future__ import annotations

from triage.selectors.attachments import attachment_stage, attachment_stages
from triage.selectors.costs import RunStats, daily_cost_usd, daily_run_stats, ticket_cost_usd, utc_day_bounds
from triage.selectors.inbound_email import email_quarantine_list
from triage.selectors.queue import (
    LOW_CONFIDENCE,
    QUEUE_SORTS,
    QueueFilters,
    review_queue_filtered,
    review_queue_list,
    review_queue_new_count,
    review_queue_page,
    review_queue_rows,
    ticket_newest_id,
)
from triage.selectors.queue_nav import Neighbours, review_queue_neighbours
from triage.selectors.taxonomy import (
    TaxonomySnapshot,
    priority_ranks,
    taxonomy_choices,
    taxonomy_get,
    taxonomy_labels,
    taxonomy_snapshot,
)
from triage.selectors.tickets import (
    assignee_list,
    requester_ticket_list,
    ticket_get_for_decision,
    ticket_get_for_review,
    ticket_similar_list,
    ticket_status_counts,
    tickets_by_reference,
)

__all__ = [
    "QueueFilters",
    "QUEUE_SORTS",
    "LOW_CONFIDENCE",
    "review_queue_list",
    "review_queue_rows",
    "review_queue_filtered",
    "review_queue_page",
    "review_queue_new_count",
    "ticket_newest_id",
    "Neighbours",
    "review_queue_neighbours",
    "ticket_get_for_decision",
    "ticket_get_for_review",
    "ticket_status_counts",
    "ticket_similar_list",
    "requester_ticket_list",
    "tickets_by_reference",
    "assignee_list",
    "taxonomy_get",
    "taxonomy_choices",
    "taxonomy_labels",
    "taxonomy_snapshot",
    "TaxonomySnapshot",
    "priority_ranks",
    "email_quarantine_list",
    "utc_day_bounds",
    "ticket_cost_usd",
    "RunStats",
    "daily_run_stats",
    "daily_cost_usd",
    "attachment_stage",
    "attachment_stages",
]
