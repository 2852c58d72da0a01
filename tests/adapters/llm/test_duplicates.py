from __future__ import annotations

import csv
from pathlib import Path

from triage.adapters.llm.duplicates import TicketText, error_codes, find_duplicates

DUPLICATE_SET = Path(__file__).resolve().parents[2] / "fixtures" / "eval" / "duplicates.csv"

SYNC_TIMEOUT = TicketText(
    id=1,
    subject="Sync stopped",
    body="Hi, the sync stopped this morning. Thanks",
    ocr_text="00:00:02.500\nSync error E_TIMEOUT at 00:00:02.500\nREC ●",
)
SYNC_CONFLICT = TicketText(
    id=2,
    subject="Sync stopped",
    body="Hi, the sync stopped this morning and nothing arrives on my phone. Thanks",
    ocr_text="Sync failed: SYNC_CONFLICT (E2231)",
)
EXPORT = TicketText(
    id=3,
    subject="Export broken",
    body="The CSV export does nothing.",
    ocr_text="Error: disk quota exceeded (Q-17)",
)


def test_the_same_error_on_screen_beats_the_same_words():
    new = TicketText(
        id=9,
        subject="Data not syncing",
        body="Changes on my laptop never reach the other devices.",
        ocr_text="12:04\nSync error E_TIMEOUT",
    )
    matches = find_duplicates(new, [SYNC_CONFLICT, SYNC_TIMEOUT, EXPORT])
    assert matches[0].id == SYNC_TIMEOUT.id
    assert matches[0].reason == "same error 'E_TIMEOUT' in screenshot"
    assert EXPORT.id not in [m.id for m in matches]


def test_an_error_quoted_in_the_text_is_named_as_seen_in_both_tickets():
    new = TicketText(
        id=9, subject="Export", body="The export fails. It says: Error: disk quota exceeded (Q-17)"
    )
    (match,) = find_duplicates(new, [SYNC_TIMEOUT, EXPORT], limit=1)
    assert match.id == EXPORT.id and match.reason == "same error 'Q-17' in both tickets"


def test_without_an_error_the_reason_names_the_shared_subject_words():
    new = TicketText(
        id=9, subject="Sync stopped again", body="Hi, the sync stopped this morning again. Thanks"
    )
    matches = find_duplicates(new, [SYNC_TIMEOUT, EXPORT])
    assert matches and matches[0].id == SYNC_TIMEOUT.id
    assert matches[0].reason == "subject words: stopped, sync"


def test_unrelated_tickets_are_not_proposed_and_the_ticket_itself_never():
    new = TicketText(id=3, subject="Invoice address", body="Please change the address on my invoices.")
    assert find_duplicates(new, [SYNC_TIMEOUT, EXPORT, new]) == []


def test_a_side_remark_does_not_make_a_duplicate_of_the_ticket_about_it():
    """A side remark ("By the way, ...") names another problem on purpose (the ticket page lists it
    as one that may need a ticket of its own): its error code and words do not pair this ticket
    with that problem's."""
    new = TicketText(
        id=9,
        subject="Invoice address",
        body="Please change the address on my invoices. By the way, the CSV export fails: Error: disk "
        "quota exceeded (Q-17)",
    )
    assert find_duplicates(new, [SYNC_TIMEOUT, EXPORT]) == []
    # the same words as its main request still pair it
    main_request = TicketText(
        id=4, subject="Invoice address", body="Please change the address on my invoices."
    )
    assert [m.id for m in find_duplicates(new, [main_request, EXPORT])] == [main_request.id]


def test_timestamps_and_version_numbers_are_not_error_codes():
    assert error_codes("Chrome 126.0.6478 on Windows 11, since 12:04") == []
    assert error_codes("Sync error E_TIMEOUT (E1042), HTTP 413, card_declined, SyncAbortedException") == [
        "E_TIMEOUT",
        "E1042",
        "413",
        "card_declined",
        "SyncAbortedException",
    ]


def test_precision_at_one_on_the_labelled_duplicate_set_is_at_least_0_8():
    with DUPLICATE_SET.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    tickets = [
        TicketText(id=int(r["id"]), subject=r["subject"], body=r["body"], ocr_text=r["ocr_text"])
        for r in rows
    ]
    incident = {int(r["id"]): int(r["duplicate_of"] or r["id"]) for r in rows}
    right = asked = 0
    for index, ticket in enumerate(tickets):
        earlier = tickets[:index]
        if not any(incident[t.id] == incident[ticket.id] for t in earlier):
            continue
        asked += 1
        top = find_duplicates(ticket, earlier, limit=1, min_score=0.0)
        right += bool(top) and incident[top[0].id] == incident[ticket.id]
    assert asked >= 100
    assert right / asked >= 0.8
