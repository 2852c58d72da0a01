"""`Idempotency-Key` for ticket creation: the same key and the same request create one ticket.

The key row is inserted in the ticket's own transaction, under a unique (user, key) constraint: of
two concurrent requests with one key, the second's insert fails, its ticket rolls back with it, and
it answers with the first's ticket. A key reused with another body is refused, never silently
answered with a ticket the client did not ask for.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from triage.models import ApiIdempotencyKey, Ticket
from triage.services.tickets import StagedUpload, Upload, ticket_create


class IdempotencyMismatch(Exception):
    """The key was used before with a different request."""


def _replay(*, user: User, key: str, fingerprint: str) -> Ticket | None:
    row = ApiIdempotencyKey.objects.select_related("ticket").filter(user=user, key=key).first()
    if row is None:
        return None
    if row.request_sha256 != fingerprint:
        raise IdempotencyMismatch(key)
    return row.ticket


def ticket_create_idempotent(
    *,
    key: str | None,
    fingerprint: str,
    user: User,
    subject: str,
    description: str,
    requester_email: str,
    uploads: Sequence[Upload] = (),
    staged: Sequence[StagedUpload] = (),
) -> tuple[Ticket, bool]:
    """(ticket, created). Raises IdempotencyMismatch, MediaRejected."""

    def create() -> Ticket:
        return ticket_create(
            subject=subject,
            description=description,
            requester_email=requester_email,
            uploads=uploads,
            staged=staged,
            created_by=user,
        )

    if not key:
        return create(), True
    if (found := _replay(user=user, key=key, fingerprint=fingerprint)) is not None:
        return found, False
    try:
        with transaction.atomic():
            ticket = create()
            ApiIdempotencyKey.objects.create(user=user, key=key, request_sha256=fingerprint, ticket=ticket)
    except IntegrityError:
        found = _replay(user=user, key=key, fingerprint=fingerprint)
        if found is None:
            raise
        return found, False
    return ticket, True
