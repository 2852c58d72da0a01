"""Uploads staged ahead of their ticket (services.tickets.upload_stage / staged_upload_get)."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage

from tests.factories import FAKE_MP4, UserFactory, png_bytes
from triage.adapters.media import MediaRejected
from triage.models import Attachment, Ticket
from triage.services.tickets import Upload, staged_upload_get, ticket_create, upload_stage

pytestmark = pytest.mark.django_db


def stage(data: bytes, name: str, user) -> str:
    return upload_stage(
        upload=Upload(fileobj=io.BytesIO(data), name=name, size_bytes=len(data)), user=user
    ).token


def test_a_staged_upload_comes_back_from_its_token_as_checked_and_stored():
    user = UserFactory()
    data = png_bytes(50, 40)
    staged = staged_upload_get(token=stage(data, "shot.png", user), user=user)
    assert staged.checked.sniff.kind == "image" and staged.checked.sniff.mime == "image/png"
    assert staged.checked.size_bytes == len(data) and staged.checked.name == "shot.png"
    with default_storage.open(staged.key, "rb") as fh:
        assert fh.read() == data


def test_the_same_bytes_staged_twice_are_stored_once():
    user = UserFactory()
    data = png_bytes(51, 40)
    first = staged_upload_get(token=stage(data, "a.png", user), user=user)
    second = staged_upload_get(token=stage(data, "b.png", user), user=user)
    assert first.key == second.key
    folder = first.key.rsplit("/", 1)[0]
    assert default_storage.listdir(folder)[1] == [first.key.rsplit("/", 1)[1]]


def test_a_token_is_its_users_only():
    token = stage(png_bytes(), "shot.png", UserFactory())
    with pytest.raises(MediaRejected, match="not an upload of yours"):
        staged_upload_get(token=token, user=UserFactory())


def test_a_token_whose_blob_is_gone_asks_for_the_file_again():
    user = UserFactory()
    token = stage(png_bytes(52, 40), "shot.png", user)
    default_storage.delete(staged_upload_get(token=token, user=user).key)
    with pytest.raises(MediaRejected, match="the uploaded file is gone"):
        staged_upload_get(token=token, user=user)


def test_staging_checks_the_bytes_like_the_form():
    with pytest.raises(MediaRejected, match="looks like plain text"):
        stage(b"hello, not a picture\n", "notes.png", UserFactory())


def test_staged_uploads_become_attachments_each_queued_on_commit(django_capture_on_commit_callbacks):
    user = UserFactory()
    staged = [
        staged_upload_get(token=stage(png_bytes(53, 40), "shot.png", user), user=user),
        staged_upload_get(token=stage(FAKE_MP4, "rec.mp4", user), user=user),
    ]
    with django_capture_on_commit_callbacks() as callbacks:
        ticket = ticket_create(
            subject="s", description="", requester_email="", staged=staged, created_by=user
        )
    assert ticket.status == Ticket.Status.PROCESSING
    assert list(ticket.attachments.values_list("original_name", "kind", "file")) == [
        ("shot.png", Attachment.Kind.IMAGE, staged[0].key),
        ("rec.mp4", Attachment.Kind.VIDEO, staged[1].key),
    ]
    assert len(callbacks) == 2


# --- the purge of abandoned uploads -------------------------------------------------------------
def _upload(data: bytes) -> Upload:
    return Upload(fileobj=io.BytesIO(data), name="shot.png", size_bytes=len(data))


def _days_later(days: float):
    from django.utils import timezone

    return timezone.now() + timezone.timedelta(days=days)


def test_an_upload_no_ticket_took_is_purged_after_a_day_and_a_second_purge_does_nothing():
    from triage.services.tickets import upload_stage_purge

    user = UserFactory()
    staged = upload_stage(upload=_upload(png_bytes(61, 40)), user=user)
    assert upload_stage_purge(now=_days_later(0.5)) == 0  # its token is still good
    assert default_storage.exists(staged.key)
    assert upload_stage_purge(now=_days_later(1.1)) == 1
    assert not default_storage.exists(staged.key)
    assert upload_stage_purge(now=_days_later(1.1)) == 0  # idempotent


def test_an_upload_a_ticket_took_is_kept():
    from triage.services.tickets import upload_stage_purge

    user = UserFactory()
    staged = upload_stage(upload=_upload(png_bytes(62, 40)), user=user)
    ticket_create(
        subject="s", description="d", requester_email="a@example.com", staged=[staged], created_by=user
    )
    assert upload_stage_purge(now=_days_later(2)) == 0
    assert default_storage.exists(staged.key)


def test_a_ticket_created_after_the_purge_says_the_file_is_gone_rather_than_pointing_at_nothing():
    from triage.services.tickets import upload_stage_purge

    user = UserFactory()
    staged = upload_stage(upload=_upload(png_bytes(63, 40)), user=user)
    assert upload_stage_purge(now=_days_later(1.1)) == 1
    with pytest.raises(MediaRejected):
        ticket_create(
            subject="s", description="d", requester_email="a@example.com", staged=[staged], created_by=user
        )
    assert not Ticket.objects.exists()


def test_a_purge_skips_an_upload_whose_row_a_ticket_creation_holds(transactional_db):
    """The race: a ticket being created holds the row; the purge skips it and the blob stays."""
    import threading

    from django.db import connection, transaction

    from triage.models import UploadStage
    from triage.services.tickets import upload_stage_purge

    user = UserFactory()
    staged = upload_stage(upload=_upload(png_bytes(64, 40)), user=user)
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    result: list[int] = []
    with transaction.atomic():
        list(UploadStage.objects.select_for_update().filter(key=staged.key))  # what ticket_create takes
        thread = threading.Thread(
            target=lambda: (result.append(upload_stage_purge(now=_days_later(1.1))), connection.close())
        )
        thread.start()
        thread.join(timeout=30)
    assert result == [0] and default_storage.exists(staged.key)
