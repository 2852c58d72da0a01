from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from triage.models import Attachment, Ticket

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_users_and_tickets_with_media_once(
    capsys, django_capture_on_commit_callbacks, taxonomy
):
    with django_capture_on_commit_callbacks() as callbacks:
        call_command("seed_demo")
    out = capsys.readouterr().out
    assert "agent-demo-pass" in out and "manager-demo-pass" in out
    assert authenticate(username="agent", password="agent-demo-pass") is not None
    manager = authenticate(username="manager", password="manager-demo-pass")
    assert manager is not None and manager.is_staff and manager.has_perm("triage.change_taxonomyvalue")
    admin = authenticate(username="admin", password="admin-demo-pass")
    assert admin is not None and admin.is_superuser and "admin-demo-pass" in out

    tickets = Ticket.objects.all()
    assert tickets.count() == 5
    kinds = set(Attachment.objects.values_list("kind", flat=True))
    assert kinds == {Attachment.Kind.IMAGE, Attachment.Kind.VIDEO}
    # one media job per attachment + one triage job per text-only ticket
    text_only = tickets.filter(attachments__isnull=True).count()
    assert len(callbacks) == Attachment.objects.count() + text_only

    call_command("seed_demo")  # idempotent
    assert Ticket.objects.count() == 5


def test_seed_demo_prints_the_address_it_is_given(capsys, taxonomy):
    """`make run PORT=8612` passes its address: the login link must not say 8000."""
    call_command("seed_demo", url="http://127.0.0.1:8612/")
    out = capsys.readouterr().out
    assert "Log in at http://127.0.0.1:8612/ with:" in out
    assert ":8000" not in out
    call_command("seed_demo")  # without --url: Django's runserver default
    assert "Log in at http://127.0.0.1:8000/ with:" in capsys.readouterr().out


def test_make_run_passes_its_host_and_port_to_seed_demo():
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text(encoding="utf-8")
    run = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "manage.py seed_demo --url http://$(HOST):$(PORT)/" in run
