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
