"""manage.py requester_erase: a dry run counts, the real run erases, a second run finds nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.factories import AttachmentFactory, triaged_ticket
from triage.models import ErasureRecord, Ticket

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("requester_erase", *args, stdout=out)
    return out.getvalue()


def test_dry_run_then_erase_then_again():
    ticket = triaged_ticket(requester_email="Sam@Example.org")
    AttachmentFactory(ticket=ticket)

    assert "would erase: tickets 1, attachments 1" in run("sam@example.org", "--dry-run")
    assert Ticket.objects.get(id=ticket.id).erased_at is None and not ErasureRecord.objects.exists()

    assert "erased: tickets 1, attachments 1" in run("sam@example.org")
    assert Ticket.objects.get(id=ticket.id).subject == "[erased]"
    assert ErasureRecord.objects.get().via == "command"

    assert "erased: tickets 0" in run("sam@example.org")


def test_not_an_address_is_refused():
    with pytest.raises(CommandError):
        run("not-an-address")


def test_requester_export_writes_the_zip_and_never_overwrites(tmp_path):
    import json
    import zipfile

    ticket = triaged_ticket(requester_email="sam@example.org")
    AttachmentFactory(ticket=ticket)
    out = StringIO()
    target = tmp_path / "sam.zip"
    call_command("requester_export", "sam@example.org", str(target), stdout=out)
    assert "1 tickets written" in out.getvalue()
    body = json.loads(zipfile.ZipFile(target).read("tickets.json"))
    assert body["tickets"][0]["reference"] == ticket.reference
    with pytest.raises(FileExistsError):
        call_command("requester_export", "sam@example.org", str(target), stdout=StringIO())
