"""Retention (media and raw mail past their days), a requester's erasure and their data export."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from tests.factories import (
    AttachmentFactory,
    RenditionFactory,
    ReviewDecisionFactory,
    TicketFactory,
    png_bytes,
    triaged_ticket,
)
from tests.services.test_storage_s3 import s3_media, s3_server  # noqa: F401  (the moto fixtures)
from triage.models import (
    AckThrottle,
    Attachment,
    ErasureRecord,
    InboundEmail,
    OutboundEmail,
    Rendition,
    RenditionText,
    ReportExport,
    RetentionRun,
    Ticket,
    TicketNote,
)
from triage.services.retention import (
    requester_erase,
    requester_export_bytes,
    requester_hash,
    retention_run,
)
from triage.services.storage import bytes_store, content_store

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def aged(ticket: Ticket, days: int) -> Ticket:
    Ticket.objects.filter(id=ticket.id).update(created_at=NOW - timedelta(days=days))
    ticket.refresh_from_db()
    return ticket


def with_media(days: int, **fields) -> tuple[Ticket, Attachment, Rendition]:
    ticket = triaged_ticket(**fields)
    attachment = AttachmentFactory(ticket=ticket, content=png_bytes(color=(days % 255, 1, 2)))
    rendition = RenditionFactory(attachment=attachment, content=png_bytes(20, 10, (days % 255, 9, 9)))
    RenditionText.objects.create(rendition=rendition, text="card 4242", engine="test")
    return aged(ticket, days), attachment, rendition


def mail(ticket: Ticket | None, *, days: int, body: bytes = b"hello", sender: str = "a@example.com"):
    key, sha = bytes_store(prefix="mail", data=b"Subject: x\r\n\r\n" + body, extension="eml")
    email = InboundEmail.objects.create(
        dedupe_key=sha[:40] + str(ticket.id if ticket else 0),
        source="raw",
        raw=key,
        sha256=sha,
        size_bytes=default_storage.size(key),
        status=InboundEmail.Status.TICKETED if ticket else InboundEmail.Status.AUTOMATIC,
        ticket=ticket,
        from_email=sender,
        subject="x",
        body_text=body.decode(),
    )
    InboundEmail.objects.filter(id=email.id).update(received_at=NOW - timedelta(days=days))
    return email


# --- retention ----------------------------------------------------------------------------------
def test_retention_is_off_by_default(settings):
    assert settings.TRIAGE_RETAIN_MEDIA_DAYS == 0 and settings.TRIAGE_RETAIN_MAIL_DAYS == 0
    ticket, attachment, rendition = with_media(400)
    assert retention_run(now=NOW) is None
    assert default_storage.exists(attachment.file.name) and default_storage.exists(rendition.file.name)
    assert Ticket.objects.get(id=ticket.id).media_expired_at is None


def test_media_older_than_the_cutoff_is_deleted_and_the_record_stays():
    old, old_att, old_rend = with_media(31)
    young, young_att, young_rend = with_media(29)
    ReviewDecisionFactory(ticket=old, after={"category": "billing"})
    summary = old.summary

    record = retention_run(now=NOW, media_days=30, mail_days=0)

    assert record is not None and (record.tickets, record.attachments, record.renditions) == (1, 1, 1)
    assert record.files == 2 and record.bytes == old_att.size_bytes + old_rend.size_bytes
    assert not default_storage.exists(old_att.file.name) and not default_storage.exists(old_rend.file.name)
    assert default_storage.exists(young_att.file.name) and default_storage.exists(young_rend.file.name)
    old.refresh_from_db()
    assert old.media_expired_at == NOW
    # what stays: the ticket, its run, its review, its summary, the attachment's name and size
    assert old.summary == summary and old.latest_run_id and old.decisions.count() == 1
    kept = Attachment.objects.get(id=old_att.id)
    assert kept.file.name == "" and kept.original_name == old_att.original_name
    assert not Rendition.objects.filter(attachment=old_att).exists()
    assert not RenditionText.objects.filter(rendition_id=old_rend.id).exists()
    assert Ticket.objects.get(id=young.id).media_expired_at is None
    assert RetentionRun.objects.count() == 1


def test_retention_runs_again_as_a_no_op():
    with_media(40)
    assert retention_run(now=NOW, media_days=30, mail_days=0) is not None
    assert retention_run(now=NOW, media_days=30, mail_days=0) is None
    assert RetentionRun.objects.count() == 1


def test_a_file_another_ticket_still_uses_is_kept():
    """Storage is content-addressed: the same screenshot on a young ticket is one object."""
    old, old_att, _ = with_media(60)
    young = TicketFactory(status=Ticket.Status.NEEDS_REVIEW)
    shared = AttachmentFactory(ticket=young, content=default_storage.open(old_att.file.name).read())
    assert shared.file.name == old_att.file.name

    record = retention_run(now=NOW, media_days=30, mail_days=0)

    assert record is not None and record.files == 1  # the rendition only
    assert default_storage.exists(shared.file.name)
    assert Attachment.objects.get(id=old_att.id).file.name == ""


def test_tickets_still_processing_are_left_alone():
    ticket, attachment, _ = with_media(90)
    Ticket.objects.filter(id=ticket.id).update(status=Ticket.Status.PROCESSING)
    assert retention_run(now=NOW, media_days=30, mail_days=0) is None
    assert default_storage.exists(attachment.file.name)


def test_media_is_deleted_in_batches(monkeypatch):
    from triage.services import retention

    monkeypatch.setattr(retention, "BATCH", 2)
    tickets = [with_media(50 + i)[0] for i in range(5)]
    record = retention_run(now=NOW, media_days=30, mail_days=0)
    assert record is not None and record.tickets == 5 and record.files == 10
    assert Ticket.objects.filter(id__in=[t.id for t in tickets], media_expired_at=NOW).count() == 5


def test_raw_mail_past_its_days_is_deleted_and_the_message_text_stays():
    ticket = triaged_ticket(channel=Ticket.Channel.EMAIL)
    old = mail(ticket, days=15, body=b"old")
    young = mail(ticket, days=5, body=b"young")
    quarantined = mail(None, days=40, body=b"bad")
    InboundEmail.objects.filter(id=quarantined.id).update(status=InboundEmail.Status.QUARANTINED)

    old_key = old.raw.name

    record = retention_run(now=NOW, media_days=0, mail_days=10)

    assert record is not None and record.mails == 1 and record.tickets == 0 and record.files == 1
    old.refresh_from_db()
    assert old.raw.name == "" and old.raw_deleted_at == NOW and old.body_text == "old"
    assert not default_storage.exists(old_key)
    assert default_storage.exists(young.raw.name)
    assert default_storage.exists(InboundEmail.objects.get(id=quarantined.id).raw.name)
    assert retention_run(now=NOW, media_days=0, mail_days=10) is None


def test_retention_deletes_from_s3(s3_media):  # noqa: F811
    server, bucket = s3_media
    old, old_att, old_rend = with_media(100)
    young, young_att, _ = with_media(1)
    assert {old_att.file.name, old_rend.file.name, young_att.file.name} <= server.keys(bucket)

    record = retention_run(now=NOW, media_days=30, mail_days=0)

    assert record is not None and record.files == 2
    remaining = server.keys(bucket)
    assert old_att.file.name not in remaining and old_rend.file.name not in remaining
    assert young_att.file.name in remaining
    assert retention_run(now=NOW, media_days=30, mail_days=0) is None


def test_the_beat_schedule_runs_retention_on_a_declared_queue(settings):
    from triage.tasks import retention_run_task

    assert settings.CELERY_BEAT_SCHEDULE["retention-run"]["task"] == retention_run_task.name
    assert retention_run_task.queue == "media"


# --- erasure ------------------------------------------------------------------------------------
def requester_world(email: str = "Jane.Doe@Example.com"):
    ticket, attachment, rendition = with_media(3, requester_email=email, channel=Ticket.Channel.EMAIL)
    inbound = mail(ticket, days=3, body=b"my card is 4242", sender=email.lower())
    reply_key = content_store(key="outbound/ab/reply.pdf", content=ContentFile(b"%PDF reply"))
    OutboundEmail.objects.create(
        ticket=ticket,
        kind=OutboundEmail.Kind.REPLY,
        message_id=f"<reply-{ticket.id}@triage>",
        from_email="support@triage.local",
        to=[email],
        subject="Re: payment",
        body="Hello Jane",
        attachments=[{"key": reply_key, "name": "reply.pdf", "mime": "application/pdf", "size": 10}],
    )
    TicketNote.objects.create(ticket=ticket, body="Jane called, phone +44 20 7946 0958")
    AckThrottle.objects.create(address=email.lower(), last_sent_at=NOW)
    return ticket, attachment, rendition, inbound, reply_key


def test_dry_run_counts_and_changes_nothing():
    ticket, attachment, *_ = requester_world()
    other = triaged_ticket(requester_email="someone@else.com")
    plan = requester_erase(email="jane.doe@example.com", dry_run=True)
    assert (plan.tickets, plan.attachments, plan.mails, plan.messages) == (1, 1, 1, 3)
    assert plan.files == 4  # original, rendition, raw mail, the reply's attachment
    assert Ticket.objects.get(id=ticket.id).requester_email == "Jane.Doe@Example.com"
    assert default_storage.exists(attachment.file.name)
    assert not ErasureRecord.objects.exists()
    assert Ticket.objects.get(id=other.id).subject == other.subject


def test_erasure_blanks_text_deletes_files_and_keeps_an_audit_record_without_the_address(admin_user):
    ticket, attachment, rendition, inbound, reply_key = requester_world()
    other = triaged_ticket(requester_email="someone@else.com")
    other_attachment = AttachmentFactory(ticket=other)
    key = "exports/report.csv"
    content_store(key=key, content=ContentFile(b"id,requester_email\n1,jane.doe@example.com\n"))
    export = ReportExport.objects.create(
        requested_by=admin_user, format="csv", status=ReportExport.Status.DONE, file=key
    )

    assert requester_erase(email="jane.doe@example.com", dry_run=True).files == 5  # with the export

    plan = requester_erase(email=" jane.doe@EXAMPLE.com ", by=admin_user, via="page")

    assert (plan.tickets, plan.mails, plan.exports) == (1, 1, 1)
    ticket.refresh_from_db()
    assert ticket.subject == "[erased]" and ticket.description == "" and ticket.summary == ""
    assert ticket.requester_email == "" and ticket.erased_at is not None
    assert ticket.category  # the classification stays, for the reports
    assert not Attachment.objects.filter(ticket=ticket).exists()
    for stored in (attachment.file.name, rendition.file.name, inbound.raw.name, reply_key, key):
        assert not default_storage.exists(stored), stored
    inbound.refresh_from_db()
    assert inbound.raw.name == "" and inbound.body_text == "" and inbound.from_email == ""
    reply = OutboundEmail.objects.get(ticket=ticket)
    assert reply.to == [] and reply.body == "" and reply.attachments == []
    assert TicketNote.objects.get(ticket=ticket).body == "[erased]"
    run = ticket.runs.get()
    assert "summary" not in run.result and run.raw_output == ""
    assert not AckThrottle.objects.exists()
    assert ReportExport.objects.get(id=export.id).status == ReportExport.Status.EXPIRED
    # someone else's ticket is untouched
    assert default_storage.exists(other_attachment.file.name)
    assert Ticket.objects.get(id=other.id).requester_email == "someone@else.com"

    record = ErasureRecord.objects.get()
    assert record.by == admin_user and record.via == "page" and record.tickets == 1 and record.files == 5
    assert record.email_hash == requester_hash("jane.doe@example.com")
    assert record.email_hash != hashlib.sha256(b"jane.doe@example.com").hexdigest()  # keyed
    assert "jane" not in json.dumps(list(ErasureRecord.objects.values()), default=str).lower()


def test_erasure_runs_again_safely():
    requester_world()
    requester_erase(email="jane.doe@example.com")
    again = requester_erase(email="jane.doe@example.com")
    assert (again.tickets, again.mails, again.files) == (0, 0, 0)
    assert ErasureRecord.objects.count() == 2


def test_an_empty_address_erases_nothing():
    ticket = triaged_ticket(requester_email="")
    assert requester_erase(email="  ").tickets == 0
    assert Ticket.objects.get(id=ticket.id).subject == ticket.subject
    assert not ErasureRecord.objects.exists()


# --- data export --------------------------------------------------------------------------------
def test_the_export_is_a_zip_of_their_tickets_and_files():
    ticket, attachment, _, inbound, _ = requester_world()
    triaged_ticket(requester_email="someone@else.com")

    archive = zipfile.ZipFile(io.BytesIO(requester_export_bytes(email="jane.doe@example.com")))

    body = json.loads(archive.read("tickets.json"))
    assert [t["reference"] for t in body["tickets"]] == [ticket.reference]
    assert body["tickets"][0]["subject"] == ticket.subject
    assert body["tickets"][0]["notes"][0]["body"].startswith("Jane called")
    path = body["tickets"][0]["attachments"][0]["path"]
    assert archive.read(path) == default_storage.open(attachment.file.name).read()
    assert archive.read(body["mail"][0]["raw"]) == default_storage.open(inbound.raw.name).read()
    assert all(".." not in name and not name.startswith("/") for name in archive.namelist())


def test_a_ticket_triaged_again_after_its_media_expired_tells_the_model_so():
    from triage.services.triage import ticket_input_build

    ticket, attachment, _ = with_media(45)
    assert len(ticket_input_build(ticket=ticket).images) == 1
    retention_run(now=NOW, media_days=30, mail_days=0)
    built = ticket_input_build(ticket=Ticket.objects.get(id=ticket.id))
    assert built.images == () and any("has expired" in note for note in built.notes)


def test_a_ticket_with_an_attachment_still_processing_is_left_for_later():
    ticket, attachment, _ = with_media(90)
    AttachmentFactory(ticket=ticket, status=Attachment.Status.PROCESSING, content=b"late bytes")
    assert retention_run(now=NOW, media_days=30, mail_days=0) is None
    assert default_storage.exists(attachment.file.name)


def test_erasure_deletes_their_quarantined_mail_and_blanks_the_read_one():
    _, _, _, inbound, _ = requester_world()
    stuck = mail(None, days=1, body=b"unparsed", sender="jane.doe@example.com")
    InboundEmail.objects.filter(id=stuck.id).update(status=InboundEmail.Status.QUARANTINED)
    plan = requester_erase(email="jane.doe@example.com")
    assert plan.mails == 2
    assert not InboundEmail.objects.filter(id=stuck.id).exists()
    assert not default_storage.exists(stuck.raw.name)
    assert InboundEmail.objects.get(id=inbound.id).body_text == ""
