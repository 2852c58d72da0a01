"""Inbound email services: store first, exactly once, worker parsing, threading, quarantine."""

from __future__ import annotations

import io
import threading
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from tests.factories import TicketFactory
from triage.adapters.email.threading import reply_address_make
from triage.models import Attachment, InboundEmail, SentEmail, Ticket
from triage.services import inbound_email, storage
from triage.services.inbound_email import (
    inbound_email_process,
    inbound_email_receive,
    inbound_email_retry,
    sent_email_record,
)
from triage.services.triage import ticket_input_build
from triage.tasks import attachment_process_task, inbound_email_process_task, ticket_triage_task

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "email"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(autouse=True)
def _fresh_sender_counters(settings):
    """The per-sender limit counts in Redis, which outlives each test's rolled-back transaction:
    other tests' mail from the same fixture senders must not count against this one's."""
    settings.TRIAGE_THROTTLE_KEY_PREFIX = f"{settings.TRIAGE_THROTTLE_KEY_PREFIX}:{uuid.uuid4().hex}"


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, dict]]:
    """Every task enqueued, by queue (the broker is the outside world here)."""
    jobs: list[tuple[str, dict]] = []
    monkeypatch.setattr(inbound_email_process_task, "delay", lambda **kw: jobs.append(("intake", kw)))
    monkeypatch.setattr(attachment_process_task, "delay", lambda **kw: jobs.append(("media", kw)))
    monkeypatch.setattr(ticket_triage_task, "delay", lambda **kw: jobs.append(("llm", kw)))
    return jobs


@pytest.fixture
def deliver(db, sent, django_capture_on_commit_callbacks):
    """Receive raw bytes and run the worker's job, as the intake queue would."""

    def _deliver(raw: bytes, *, recipient: str = "", source: str = "raw") -> InboundEmail:
        with django_capture_on_commit_callbacks(execute=True):
            result = inbound_email_receive(fileobj=io.BytesIO(raw), source=source, recipient=recipient)
        with django_capture_on_commit_callbacks(execute=True):
            inbound_email_process(inbound_email_id=result.inbound_email_id)
        return InboundEmail.objects.get(id=result.inbound_email_id)

    return _deliver


def mail(*, subject: str, body: str = "Hello", to: str = "support@triage.local", **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = headers.pop("from_", "pat@example.com")
    msg["To"] = to
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


# --- receive: store first, exactly once ------------------------------------------------------


def test_receive_stores_the_raw_message_content_addressed_and_queues_parsing_on_commit(
    db, sent, django_capture_on_commit_callbacks
):
    raw = fixture("plain_new.eml")
    with django_capture_on_commit_callbacks(execute=True):
        result = inbound_email_receive(fileobj=io.BytesIO(raw), source="raw")
        assert sent == []
    email = InboundEmail.objects.get(id=result.inbound_email_id)
    assert result.created
    assert sent == [("intake", {"inbound_email_id": email.id})]
    assert email.status == InboundEmail.Status.RECEIVED
    assert email.message_id == "CAF-plain-001@mail.example.com"
    assert email.raw.name.startswith("inbound/") and email.raw.name.endswith(f"{email.sha256}.eml")
    with default_storage.open(email.raw.name, "rb") as fh:
        assert fh.read() == raw
    assert Ticket.objects.count() == 0  # nothing parsed in the web process


def test_the_same_message_id_delivered_again_is_a_no_op(db, sent, django_capture_on_commit_callbacks):
    raw = fixture("plain_new.eml")
    with django_capture_on_commit_callbacks(execute=True):
        first = inbound_email_receive(fileobj=io.BytesIO(raw), source="mailgun")
    # a provider retry through another relay: different transport headers, same Message-ID
    again = b"Received: from relay2\r\n" + raw
    with django_capture_on_commit_callbacks(execute=True):
        second = inbound_email_receive(fileobj=io.BytesIO(again), source="raw")
    assert second == inbound_email.ReceiveResult(inbound_email_id=first.inbound_email_id, created=False)
    assert InboundEmail.objects.count() == 1
    assert len(sent) == 1


def test_without_message_id_the_normalized_content_is_the_key(db, sent, django_capture_on_commit_callbacks):
    raw = fixture("no_message_id.eml")
    relayed = b"Received: from relay2\n" + raw.replace(b"\r\n", b"\n")
    other = raw.replace(b"nightly", b"weekly")
    with django_capture_on_commit_callbacks(execute=True):
        a = inbound_email_receive(fileobj=io.BytesIO(raw), source="raw")
        b = inbound_email_receive(fileobj=io.BytesIO(relayed), source="raw")
        c = inbound_email_receive(fileobj=io.BytesIO(other), source="raw")
    assert a.created and not b.created and c.created
    assert b.inbound_email_id == a.inbound_email_id
    assert InboundEmail.objects.count() == 2


@pytest.mark.parametrize(("copies", "expected"), [("one", 1), ("per_queue", 2)])
def test_copies_to_two_of_our_addresses_follow_the_setting(settings, deliver, copies, expected):
    settings.INBOUND_EMAIL_COPIES = copies
    settings.INBOUND_EMAIL_ADDRESSES = {
        "support@triage.local": "tier1",
        "billing@triage.local": "billing_team",
    }
    raw = mail(subject="Refund", to="support@triage.local, billing@triage.local", Message_ID="<cc-1@x>")
    deliver(raw, recipient="support@triage.local")
    deliver(raw, recipient="Billing@triage.local")
    assert InboundEmail.objects.count() == expected
    assert Ticket.objects.count() == expected


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_deliveries_make_one_row(sent):
    raw = fixture("alternative.eml")
    barrier = threading.Barrier(6)
    results: list[inbound_email.ReceiveResult] = []
    errors: list[BaseException] = []

    def post() -> None:
        try:
            barrier.wait()
            results.append(inbound_email_receive(fileobj=io.BytesIO(raw), source="raw"))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert InboundEmail.objects.count() == 1
    assert sum(r.created for r in results) == 1
    assert {r.inbound_email_id for r in results} == {InboundEmail.objects.get().id}
    assert len(sent) == 1


@pytest.mark.django_db(transaction=True)
def test_receive_outside_a_transaction_is_one_insert_then_the_publish(sent, monkeypatch):
    """No BEGIN/COMMIT round trips of its own: one autocommitted INSERT, and the job is
    published only once that INSERT has returned (the row is committed when the worker looks)."""
    from django.test.utils import CaptureQueriesContext

    seen_at_publish: list[bool] = []

    def publish(**kw):
        seen_at_publish.append(InboundEmail.objects.filter(id=kw["inbound_email_id"]).exists())
        sent.append(("intake", kw))

    monkeypatch.setattr(inbound_email_process_task, "delay", publish)
    with CaptureQueriesContext(connection) as queries:
        result = inbound_email_receive(fileobj=io.BytesIO(fixture("plain_new.eml")), source="raw")
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert statements[0] == "INSERT" and statements.count("INSERT") == 1
    assert "BEGIN" not in statements and "COMMIT" not in statements
    assert sent == [("intake", {"inbound_email_id": result.inbound_email_id})]
    assert seen_at_publish == [True]


def test_the_raw_message_is_fsynced_with_its_new_folders_before_the_row_exists(
    db, sent, monkeypatch, settings
):
    import os

    synced: list[str] = []
    rows_at_sync: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        rows_at_sync.append(InboundEmail.objects.count())
        real_fsync(fd)

    monkeypatch.setattr(storage.os, "fsync", fsync)
    root = Path(settings.MEDIA_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    raw = fixture("plain_new.eml")
    result = inbound_email_receive(fileobj=io.BytesIO(raw), source="raw")
    path = Path(default_storage.path(InboundEmail.objects.get(id=result.inbound_email_id).raw.name))
    # the bytes (written to a temporary name, then renamed), the new entry, and each new folder
    assert synced[0].startswith(str(path.parent / f".{path.name}."))
    assert synced[1:] == [str(path.parent), str(path.parent.parent), str(root / "inbound"), str(root)]
    assert rows_at_sync == [0] * len(synced)
    assert path.read_bytes() == raw
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    # a second delivery of stored bytes only makes sure the file is on disk
    synced.clear()
    inbound_email_receive(fileobj=io.BytesIO(raw), source="raw")
    assert synced == [str(path)]


def test_a_short_file_left_under_the_key_by_a_crash_is_written_again(db, sent):
    raw = fixture("plain_new.eml")
    import hashlib

    from triage.services.storage import content_key

    key = content_key(prefix="inbound", sha256=hashlib.sha256(raw).hexdigest(), extension="eml")
    path = Path(default_storage.path(key))
    path.parent.mkdir(parents=True)
    path.write_bytes(raw[:100])  # power cut in the middle of an earlier write
    result = inbound_email_receive(fileobj=io.BytesIO(raw), source="raw")
    assert InboundEmail.objects.get(id=result.inbound_email_id).raw.name == key
    assert path.read_bytes() == raw


# --- process: parse into tickets ---------------------------------------------------------------


def test_a_new_message_becomes_an_email_ticket_sent_to_triage(deliver, sent):
    email = deliver(fixture("plain_new.eml"))
    ticket = email.ticket
    assert email.status == InboundEmail.Status.TICKETED
    assert email.thread_reason == InboundEmail.ThreadReason.NEW
    assert ticket.channel == Ticket.Channel.EMAIL
    assert ticket.subject == "Checkout fails with error 500"
    assert ticket.requester_email == "maria@example.com"
    assert ticket.description.startswith("Hi,\n\nevery card payment fails")
    assert "Head of Ops" not in ticket.description and "Head of Ops" in email.quoted_text
    assert ticket.status == Ticket.Status.TRIAGING
    assert ("llm", {"ticket_id": ticket.id}) in sent


def test_processing_twice_creates_nothing_twice(deliver, sent, django_capture_on_commit_callbacks):
    email = deliver(fixture("apple_inline.eml"))
    jobs = len(sent)
    with django_capture_on_commit_callbacks(execute=True):
        inbound_email_process(inbound_email_id=email.id)
    assert Ticket.objects.count() == 1 and Attachment.objects.count() == 1
    assert len(sent) == jobs


def test_a_worker_killed_mid_job_is_redone_once(
    deliver, sent, django_capture_on_commit_callbacks, monkeypatch
):
    """Killed after claiming and storing the originals, before the deciding commit: the redelivered
    job finishes the work exactly once."""
    with django_capture_on_commit_callbacks(execute=True):
        result = inbound_email_receive(fileobj=io.BytesIO(fixture("apple_inline.eml")), source="raw")

    def killed(**_: object) -> None:
        raise SystemExit("worker killed")

    monkeypatch.setattr(inbound_email, "_thread_find", killed)
    with pytest.raises(SystemExit):
        inbound_email_process(inbound_email_id=result.inbound_email_id)
    assert InboundEmail.objects.get().status == InboundEmail.Status.PROCESSING
    assert Ticket.objects.count() == 0
    monkeypatch.undo()
    monkeypatch.setattr(inbound_email_process_task, "delay", lambda **kw: sent.append(("intake", kw)))
    monkeypatch.setattr(attachment_process_task, "delay", lambda **kw: sent.append(("media", kw)))
    with django_capture_on_commit_callbacks(execute=True):
        inbound_email_process(inbound_email_id=result.inbound_email_id)
        inbound_email_process(inbound_email_id=result.inbound_email_id)
    email = InboundEmail.objects.get()
    assert email.status == InboundEmail.Status.TICKETED and email.attempts == 2
    assert Ticket.objects.count() == 1 and Attachment.objects.count() == 1
    assert [job for job in sent if job[0] == "media"] == [
        ("media", {"attachment_id": Attachment.objects.get().id})
    ]


def test_inline_images_go_through_the_media_pipeline(deliver, sent):
    email = deliver(fixture("apple_inline.eml"))
    (attachment,) = email.ticket.attachments.all()
    assert attachment.original_name == "Screenshot 2026-03-04.png"
    assert attachment.kind == Attachment.Kind.IMAGE and attachment.mime == "image/png"
    assert attachment.status == Attachment.Status.QUEUED
    assert email.ticket.status == Ticket.Status.PROCESSING
    assert sent[-1] == ("media", {"attachment_id": attachment.id})
    assert not any(queue == "llm" for queue, _ in sent)  # triage waits for the media


def test_non_media_attachments_and_tracking_pixels_are_skipped_with_a_reason(deliver):
    email = deliver(fixture("attachments.eml"))
    assert [a.original_name for a in email.ticket.attachments.all()] == ["crash.png"]
    (skipped,) = email.details["skipped"]
    assert skipped["name"] == "log.pdf" and skipped["reason"]
    outlook = deliver(fixture("outlook_inline.eml"))
    assert sorted(a.original_name for a in outlook.ticket.attachments.all()) == [
        "image001.png",
        "image002.png",
    ]
    assert {"name": "image003.gif", "reason": "tracking pixel"} in outlook.details["skipped"]


def test_a_repeated_signature_logo_is_not_attached_again(deliver):
    first = deliver(fixture("outlook_inline.eml"))
    raw = (
        fixture("outlook_inline.eml")
        .replace(b"DB7PR01MB0005@", b"DB7PR01MB0777@")
        .replace(
            b"Subject: Export hangs",
            b"In-Reply-To: <DB7PR01MB0005@DB7PR01MB.eurprd01.prod.outlook.com>\r\nSubject: RE: Export hangs",
        )
    )
    reply = deliver(raw)
    assert reply.ticket_id == first.ticket_id
    assert first.ticket.attachments.count() == 2
    assert {s["reason"] for s in reply.details["skipped"]} >= {"already attached to this ticket"}


def test_attachment_over_the_limit_is_skipped_and_the_message_still_ticketed(settings, deliver):
    settings.INBOUND_EMAIL_MAX_ATTACHMENT_BYTES = 100
    email = deliver(fixture("attachments.eml"))
    assert email.status == InboundEmail.Status.TICKETED
    assert email.ticket.attachments.count() == 0
    assert any("attachment limit" in s["reason"] for s in email.details["skipped"])


def test_a_message_over_the_size_limit_is_recorded_with_a_clear_status(settings, deliver):
    settings.INBOUND_EMAIL_MAX_BYTES = 200
    email = deliver(fixture("attachments.eml"))
    assert email.status == InboundEmail.Status.QUARANTINED
    assert email.failure_kind == "too_large"
    assert "limit" in email.error_message
    assert default_storage.exists(email.raw.name)
    assert email.ticket.status == Ticket.Status.MANUAL_TRIAGE
    assert email.ticket.subject == "Crash on upload (screenshot and log attached)"


@pytest.mark.parametrize("name", ["auto_reply.eml", "bounce.eml"])
def test_auto_replies_and_bounces_are_stored_and_marked_but_not_triaged(deliver, sent, name):
    email = deliver(fixture(name))
    assert email.status == InboundEmail.Status.AUTOMATIC
    assert email.auto_kind in ("auto_reply", "bounce")
    assert email.details["auto_reason"]
    assert Ticket.objects.count() == 0
    assert not any(queue == "llm" for queue, _ in sent)


def test_an_auto_reply_in_a_thread_is_shown_on_the_ticket_without_re_triage(deliver, sent):
    first = deliver(fixture("plain_new.eml"))
    Ticket.objects.filter(id=first.ticket_id).update(status=Ticket.Status.NEEDS_REVIEW)
    ooo = deliver(
        mail(
            subject="Automatic reply",
            Auto_Submitted="auto-replied",
            In_Reply_To="<CAF-plain-001@mail.example.com>",
        )
    )
    assert ooo.status == InboundEmail.Status.AUTOMATIC and ooo.ticket_id == first.ticket_id
    assert Ticket.objects.get(id=first.ticket_id).status == Ticket.Status.NEEDS_REVIEW


def test_charsets_and_forwards_end_up_readable_on_the_ticket(deliver):
    assert "无法登录账户" in deliver(fixture("broken_charset.eml")).ticket.description
    forwarded = deliver(fixture("forwarded.eml"))
    assert "account locked" in forwarded.ticket.description
    assert [a.original_name for a in forwarded.ticket.attachments.all()] == ["locked.png"]


# --- threading ------------------------------------------------------------------------------


def test_a_reply_joins_its_ticket_by_in_reply_to_and_re_triages(deliver, sent):
    first = deliver(fixture("plain_new.eml"))
    # not reviewed yet: the reply may change the proposal (a reviewed ticket is not triaged again,
    # tests/views/test_threading_rule.py)
    Ticket.objects.filter(id=first.ticket_id).update(status=Ticket.Status.NEEDS_REVIEW)
    reply = deliver(fixture("reply_in_reply_to.eml"))
    assert reply.status == InboundEmail.Status.THREADED
    assert reply.ticket_id == first.ticket_id
    assert reply.thread_reason == InboundEmail.ThreadReason.IN_REPLY_TO
    assert reply.body_text == "It also happens with PayPal now."
    ticket = Ticket.objects.get(id=first.ticket_id)
    assert ticket.status == Ticket.Status.TRIAGING
    assert sent[-1] == ("llm", {"ticket_id": ticket.id})
    assert Ticket.objects.count() == 1
    body = ticket_input_build(ticket=ticket).body
    # the newest message first, then the one that opened the ticket
    assert body.startswith("--- Follow-up from maria@example.com")
    assert body.index("PayPal") < body.index("Hi,")
    assert "It also happens with PayPal now." in body


def test_a_reply_joins_by_any_id_in_references(deliver):
    first = deliver(fixture("plain_new.eml"))
    reply = deliver(fixture("reply_references.eml"))
    assert reply.ticket_id == first.ticket_id
    assert reply.thread_reason == InboundEmail.ThreadReason.REFERENCES


def test_a_reply_to_mail_we_sent_joins_by_its_message_id(deliver):
    ticket = TicketFactory(status=Ticket.Status.NEEDS_REVIEW)
    sent_email_record(ticket_id=ticket.id, message_id="<ack-77@triage.local>")
    reply = deliver(mail(subject="Re: your request", In_Reply_To="<ack-77@triage.local>"))
    assert reply.ticket_id == ticket.id
    assert reply.thread_reason == InboundEmail.ThreadReason.SENT_MESSAGE_ID
    assert SentEmail.objects.count() == 1


def test_a_reply_to_the_plus_address_joins_by_its_token(settings, deliver):
    ticket = TicketFactory(status=Ticket.Status.NEEDS_REVIEW)
    address = reply_address_make(
        address="support@triage.local", ticket_id=ticket.id, secret=settings.INBOUND_EMAIL_SECRET
    )
    reply = deliver(mail(subject="New subject entirely", to=address))
    assert reply.ticket_id == ticket.id
    assert reply.thread_reason == InboundEmail.ThreadReason.REPLY_TOKEN
    forged = deliver(mail(subject="Another", to=address.replace(f"+t{ticket.id}-", f"+t{ticket.id + 1}-")))
    assert forged.thread_reason == InboundEmail.ThreadReason.NEW


def test_the_requester_joins_by_the_ticket_reference_in_the_subject(deliver):
    ticket = TicketFactory(status=Ticket.Status.NEEDS_REVIEW, requester_email="pat@example.com")
    reply = deliver(mail(subject=f"Re: [{ticket.reference}] still broken"))
    assert reply.ticket_id == ticket.id
    assert reply.thread_reason == InboundEmail.ThreadReason.SUBJECT_REF


def test_threading_order_in_reply_to_wins_over_the_subject(deliver):
    first = deliver(fixture("plain_new.eml"))
    other = TicketFactory(status=Ticket.Status.NEEDS_REVIEW)
    reply = deliver(mail(subject=f"Re: {other.reference}", In_Reply_To="<CAF-plain-001@mail.example.com>"))
    assert reply.ticket_id == first.ticket_id
    assert reply.thread_reason == InboundEmail.ThreadReason.IN_REPLY_TO


# --- quarantine -----------------------------------------------------------------------------


def test_an_unparseable_message_becomes_a_quarantined_ticket(deliver, sent):
    email = deliver(fixture("not_an_email.bin"))
    assert email.status == InboundEmail.Status.QUARANTINED
    assert email.failure_kind == "bad_input"
    assert "not an email" in email.error_message
    assert email.ticket.status == Ticket.Status.MANUAL_TRIAGE
    assert email.ticket.channel == Ticket.Channel.EMAIL
    assert not any(queue == "llm" for queue, _ in sent)


def test_retry_after_a_parser_bug_reuses_the_quarantine_ticket(
    deliver, sent, monkeypatch, django_capture_on_commit_callbacks
):
    real_parse = inbound_email.email_parse

    def broken(*args, **kwargs):
        raise RuntimeError("parser bug")

    monkeypatch.setattr(inbound_email, "email_parse", broken)
    email = deliver(fixture("plain_new.eml"))
    assert email.status == InboundEmail.Status.QUARANTINED and email.failure_kind == "bug"
    placeholder = email.ticket_id
    monkeypatch.setattr(inbound_email, "email_parse", real_parse)
    with django_capture_on_commit_callbacks(execute=True):
        assert inbound_email_retry(inbound_email_id=email.id)
        assert not inbound_email_retry(inbound_email_id=email.id)  # already queued again
    assert sent[-1] == ("intake", {"inbound_email_id": email.id})
    with django_capture_on_commit_callbacks(execute=True):
        inbound_email_process(inbound_email_id=email.id)
    email.refresh_from_db()
    assert email.status == InboundEmail.Status.TICKETED and email.failure_kind == ""
    assert email.ticket_id == placeholder and Ticket.objects.count() == 1
    assert email.ticket.subject == "Checkout fails with error 500"
    assert email.ticket.status == Ticket.Status.TRIAGING


def test_a_retried_reply_joins_its_thread_and_drops_the_quarantine_stand_in(
    deliver, monkeypatch, django_capture_on_commit_callbacks
):
    first = deliver(fixture("plain_new.eml"))
    real_parse = inbound_email.email_parse
    monkeypatch.setattr(
        inbound_email, "email_parse", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("bug"))
    )
    reply = deliver(fixture("reply_in_reply_to.eml"))
    stand_in = reply.ticket_id
    assert reply.status == InboundEmail.Status.QUARANTINED and stand_in != first.ticket_id
    monkeypatch.setattr(inbound_email, "email_parse", real_parse)
    with django_capture_on_commit_callbacks(execute=True):
        inbound_email_retry(inbound_email_id=reply.id)
    with django_capture_on_commit_callbacks(execute=True):
        inbound_email_process(inbound_email_id=reply.id)
    reply.refresh_from_db()
    assert reply.status == InboundEmail.Status.THREADED and reply.ticket_id == first.ticket_id
    assert not Ticket.objects.filter(id=stand_in).exists()


def test_a_mail_with_more_images_than_the_form_allows_keeps_the_cap_and_lists_the_rest_as_skipped(
    deliver, settings
):
    from tests.factories import png_bytes

    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3  # the web form's cap (TRIAGE_MAX_FILES_PER_TICKET)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "pat@example.com", "support@triage.local", "Many shots"
    msg.set_content("See the screenshots.")
    for n in range(8):
        msg.add_attachment(png_bytes(20 + n, 20), maintype="image", subtype="png", filename=f"shot-{n}.png")
    email = deliver(msg.as_bytes())
    assert email.ticket.attachments.count() == 3
    over = [s for s in email.details["skipped"] if "limit of 3 files" in s["reason"]]
    assert [s["name"] for s in over] == [f"shot-{n}.png" for n in range(3, 8)]


def test_past_the_per_sender_limit_new_tickets_by_mail_are_stored_and_quarantined_with_the_reason(
    deliver, settings
):
    import uuid

    settings.INBOUND_EMAIL_MAX_NEW_TICKETS_PER_SENDER = 2
    settings.TRIAGE_LIMITS_REDIS_URL = ""  # the database counters (the suite's Redis keeps counts)
    sender = f"flood-{uuid.uuid4().hex[:6]}@example.com"
    emails = [
        deliver(mail(subject=f"Flood {n}", from_=sender, Message_ID=f"<flood-{n}@x>")) for n in range(3)
    ]
    assert [e.status for e in emails[:2]] == [InboundEmail.Status.TICKETED] * 2
    held = emails[2]
    assert held.status == InboundEmail.Status.QUARANTINED and held.failure_kind == "rate_limited"
    assert sender in held.error_message and default_storage.exists(held.raw.name)
    # another sender is not affected
    assert deliver(mail(subject="Other", Message_ID="<other@x>")).status == InboundEmail.Status.TICKETED
