"""Routing rules and hand-offs against local Jira, GitHub, Zendesk and Slack servers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image as PILImage

from tests.factories import PROPOSAL, AttachmentFactory, RenditionFactory, png_bytes, triaged_ticket
from tests.handoff_fakes import (
    GITHUB_REPO,
    GITHUB_TOKEN,
    JIRA_EMAIL,
    JIRA_PROJECT,
    JIRA_TOKEN,
    SLACK_PATH,
    ZENDESK_EMAIL,
    ZENDESK_GROUP,
    ZENDESK_TOKEN,
    HandoffFakes,
)
from tests.security.conftest import role_user
from triage.models import (
    Attachment,
    Destination,
    Handoff,
    Rendition,
    RenditionText,
    RoutingRule,
    Ticket,
    TicketEvent,
)
from triage.services import handoff
from triage.services.review import review_record, ticket_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def fakes(httpserver, settings) -> HandoffFakes:
    settings.TRIAGE_WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.TRIAGE_HANDOFF_READ_TIMEOUT_S = 1.0
    settings.TRIAGE_HANDOFF_MAX_ATTEMPTS = 3
    settings.TRIAGE_PUBLIC_URL = "https://triage.example.com"
    return HandoffFakes(httpserver)


def jira(fakes: HandoffFakes, **changes) -> Destination:
    fields = {
        "destination_id": None,
        "kind": "jira",
        "name": "Jira WEB",
        "base_url": fakes.base_url + "/jira",
        "project": JIRA_PROJECT,
        "account": JIRA_EMAIL,
        "options": {"issue_type": "Bug", "priority_map": {"high": "High", "urgent": "Highest"}},
        "secret": JIRA_TOKEN,
        "sync_secret": "jira-hook-secret",
    } | changes
    return handoff.destination_save(**fields)


def github(fakes: HandoffFakes, **changes) -> Destination:
    fields = {
        "destination_id": None,
        "kind": "github",
        "name": "GitHub web",
        "base_url": fakes.base_url + "/github",
        "project": GITHUB_REPO,
        "account": "",
        "options": {"priority_labels": {"high": "P1"}},
        "secret": GITHUB_TOKEN,
        "sync_secret": "gh-hook-secret",
    } | changes
    return handoff.destination_save(**fields)


def zendesk(fakes: HandoffFakes, **changes) -> Destination:
    fields = {
        "destination_id": None,
        "kind": "zendesk",
        "name": "Zendesk Billing",
        "base_url": fakes.base_url + "/zendesk",
        "project": ZENDESK_GROUP,
        "account": ZENDESK_EMAIL,
        "options": {"tags": ["from-triage"]},
        "secret": ZENDESK_TOKEN,
        "sync_secret": "zd-hook-secret",
    } | changes
    return handoff.destination_save(**fields)


def slack(fakes: HandoffFakes) -> Destination:
    return handoff.destination_save(
        destination_id=None, kind="slack", name="Slack #incidents", base_url="", project="",
        account="", options={}, secret=fakes.base_url + SLACK_PATH,
    )  # fmt: skip


def rule(*destinations: Destination, **conditions) -> RoutingRule:
    row = RoutingRule.objects.create(name=conditions.pop("name", "bugs"), **conditions)
    row.destinations.set(destinations)
    return row


def reviewed(taxonomy, **fields) -> Ticket:
    ticket = triaged_ticket(**fields)
    review_record(
        ticket_id=ticket.id, user=role_user("agent"), values={}, seen_version=ticket_version(ticket=ticket)
    )
    return ticket


def send_all() -> None:
    for row in Handoff.objects.filter(status=Handoff.Status.INTENT):
        handoff.handoff_send(handoff_id=row.id)


# --- rules ----------------------------------------------------------------------------------------
def test_a_review_matching_a_rule_records_one_intent_per_destination_in_its_transaction(fakes, taxonomy):
    jira_dest, slack_dest = jira(fakes), slack(fakes)
    rule(jira_dest, slack_dest, category="bug", min_priority="high")
    rule(jira_dest, name="billing", queue="billing")  # does not match
    ticket = reviewed(taxonomy)
    rows = Handoff.objects.filter(ticket=ticket)
    assert {r.destination_id for r in rows} == {jira_dest.id, slack_dest.id}
    assert {r.status for r in rows} == {"intent"} and rows[0].rule.name == "bugs"
    # reviewed again: still one per destination
    review_record(ticket_id=ticket.id, user=role_user("agent"), values={"summary": "again"})
    assert Handoff.objects.filter(ticket=ticket).count() == 2


@pytest.mark.parametrize(
    ("conditions", "matches"),
    [
        ({"min_priority": "high"}, True),
        ({"min_priority": "urgent"}, False),
        ({"min_priority": "low"}, True),
        ({"queue": "billing"}, False),
        ({"language": "en", "channel": "WEB"}, True),
        ({"min_confidence": 0.5}, True),
        ({"min_confidence": 0.6}, False),  # the lowest field confidence is 0.55
    ],
)
def test_rule_conditions(fakes, taxonomy, conditions, matches):
    rule(slack(fakes), **conditions)
    ticket = reviewed(taxonomy)
    assert Handoff.objects.filter(ticket=ticket).exists() is matches


def test_auto_accepted_tickets_only_go_where_a_rule_asks_for_them(fakes, taxonomy):
    dest = slack(fakes)
    plain, auto = rule(dest, name="reviewed only"), rule(dest, name="auto too", on_auto_accept=True)
    ticket = triaged_ticket()
    assert handoff.rule_matches(plain, ticket, auto=True, ranks={}) is False
    assert handoff.rule_matches(auto, ticket, auto=True, ranks={}) is True


# --- Jira -----------------------------------------------------------------------------------------
def _with_screenshot(ticket: Ticket) -> None:
    attachment = AttachmentFactory(ticket=ticket, content=png_bytes(), status=Attachment.Status.DONE)
    RenditionFactory(attachment=attachment, kind=Rendition.Kind.IMAGE)


def test_jira_issue_created_with_adf_attachments_and_link_back_exactly_once(fakes, taxonomy):
    dest = jira(fakes)
    rule(dest, category="bug")
    ticket = triaged_ticket(
        result={
            "summary": "Checkout fails with HTTP 500.",
            "category": {"value": "bug", "confidence": 0.9},
            "priority": {"value": "high", "confidence": 0.8},
            "queue": {"value": "engineering", "confidence": 0.8},
            "sentiment": {"value": "negative", "confidence": 0.6},
            "language": {"value": "en", "confidence": 0.99},
            "steps_to_reproduce": [{"text": "Pay by card", "source": "description"}],
            "expected": {"text": "A receipt", "source": "description"},
            "actual": {"text": "HTTP 500", "source": "screenshot 1"},
        }
    )
    _with_screenshot(ticket)
    review_record(ticket_id=ticket.id, user=role_user("agent"), values={})
    send_all()
    row = Handoff.objects.get(ticket=ticket)
    assert row.status == "sent" and row.external_id == "WEB-1"
    assert row.external_url == f"{fakes.base_url}/jira/browse/WEB-1"
    issue = fakes.jira.issues["WEB-1"]
    fields = issue["fields"]
    assert f"triage-{ticket.reference}" in fields["labels"] and fields["priority"] == {"name": "High"}
    text = json.dumps(fields["description"])
    assert "Steps to reproduce" in text and "Pay by card" in text and "screenshot 1" in text
    assert issue["attachments"] and issue["attachments"][0].endswith(".png")
    assert issue["links"][f"triage:{ticket.reference}"]["url"].endswith(f"/tickets/{ticket.id}/")
    assert TicketEvent.objects.filter(ticket=ticket, kind="HANDOFF").count() == 1
    # sent again by hand (a redelivered job): no second issue, no second attachment
    Handoff.objects.filter(id=row.id).update(status="intent")
    handoff.handoff_send(handoff_id=row.id)
    assert fakes.jira.creates == 1 and len(issue["attachments"]) == 1


def test_an_issue_made_before_a_crash_is_found_by_its_label_not_made_again(fakes, taxonomy):
    dest = jira(fakes)
    rule(dest)
    ticket = reviewed(taxonomy)
    fakes.jira.issues["WEB-7"] = {
        "id": "10007",
        "fields": {"project": {"key": "WEB"}, "labels": [f"triage-{ticket.reference}"]},
        "attachments": [],
        "links": {},
    }
    send_all()
    assert Handoff.objects.get(ticket=ticket).external_id == "WEB-7" and fakes.jira.creates == 0


@pytest.mark.parametrize(
    ("status", "body", "shown"),
    [
        (
            401,
            {"errorMessages": ["Client must be authenticated"]},
            "401 (bad credentials): Client must be authenticated",
        ),
        (
            403,
            {"errorMessages": ["You do not have permission to create issues in this project."]},
            "permission to create",
        ),
        (404, {"errorMessages": ["No project could be found with key 'WEB'."]}, "No project could be found"),
        (
            400,
            {"errorMessages": [], "errors": {"priority": "Priority name 'High' is not valid"}},
            "priority: Priority name",
        ),
        (422, {"errorMessages": ["unprocessable"]}, "422 (a field the service refuses)"),
    ],
)
def test_refusals_fail_at_once_with_the_services_message(fakes, taxonomy, status, body, shown):
    rule(jira(fakes))
    ticket = reviewed(taxonomy)
    fakes.jira.fail_next(status, body)
    send_all()
    row = Handoff.objects.get(ticket=ticket)
    assert row.status == "failed" and row.attempts == 1 and shown in row.last_error
    assert row.last_status_code == status


def test_429_waits_for_retry_after_then_passes(fakes, taxonomy):
    rule(jira(fakes))
    ticket = reviewed(taxonomy)
    fakes.jira.fail_next(429, {"errorMessages": ["Rate limit exceeded."]}, {"Retry-After": "120"})
    row = Handoff.objects.get(ticket=ticket)
    wait = handoff.handoff_send(handoff_id=row.id)
    row.refresh_from_db()
    assert row.status == "intent" and "429" in row.last_error and wait is not None and wait >= 120
    assert row.next_attempt_at >= timezone.now() + timedelta(seconds=119)
    assert handoff.handoff_send(handoff_id=row.id) is None  # not due yet: nothing sent
    assert fakes.jira.creates == 0
    Handoff.objects.filter(id=row.id).update(next_attempt_at=timezone.now())
    handoff.handoff_send(handoff_id=row.id)
    row.refresh_from_db()
    assert row.status == "sent" and fakes.jira.creates == 1


def test_5xx_and_timeouts_retry_until_the_limit_then_fail_and_retry_button_resends(fakes, taxonomy):
    rule(jira(fakes))
    ticket = reviewed(taxonomy)
    row = Handoff.objects.get(ticket=ticket)
    fakes.jira.fail_next(503, "upstream busy")
    fakes.jira.stall_next(2.0)  # past the 1 s read time-out
    fakes.jira.fail_next(502, {"errorMessages": ["Bad gateway"]})
    errors = []
    for _ in range(3):
        Handoff.objects.filter(id=row.id).update(next_attempt_at=None)
        handoff.handoff_send(handoff_id=row.id)
        row.refresh_from_db()
        errors.append(row.last_error)
    assert "503" in errors[0] and "timed out" in errors[1] and "Bad gateway" in errors[2]
    assert row.status == "failed" and row.attempts == 3
    assert handoff.handoff_retry(handoff_id=row.id, ticket_id=ticket.id)
    handoff.handoff_send(handoff_id=row.id)
    row.refresh_from_db()
    assert row.status == "sent" and fakes.jira.creates == 1


def test_a_private_address_is_refused_in_production(fakes, taxonomy, settings):
    settings.TRIAGE_WEBHOOK_ALLOW_PRIVATE_URLS = False
    rule(jira(fakes))
    ticket = reviewed(taxonomy)
    send_all()
    row = Handoff.objects.get(ticket=ticket)
    assert row.status == "failed" and "refused" in row.last_error and not fakes.jira.requests


# --- GitHub, Zendesk, Slack -------------------------------------------------------------------------
def test_github_issue_with_labels_markdown_and_linked_images(fakes, taxonomy):
    rule(github(fakes))
    ticket = triaged_ticket()
    _with_screenshot(ticket)
    review_record(ticket_id=ticket.id, user=role_user("agent"), values={})
    send_all()
    row = Handoff.objects.get(ticket=ticket)
    assert row.status == "sent" and row.external_url == f"https://github.com/{GITHUB_REPO}/issues/1"
    issue = fakes.github.issues[0]
    assert {label["name"] for label in issue["labels"]} == {f"triage:{ticket.reference}", "bug", "P1"}
    assert "### Summary" in issue["body"] and "![" in issue["body"] and "/media/renditions/" in issue["body"]
    Handoff.objects.filter(id=row.id).update(status="intent", external_id="")
    handoff.handoff_send(handoff_id=row.id)
    assert len(fakes.github.issues) == 1  # found by its label


def test_github_bad_token_and_unknown_repo(fakes, taxonomy):
    rule(github(fakes, secret="wrong"), github(fakes, name="other", project="acme/nope"))
    ticket = reviewed(taxonomy)
    send_all()
    errors = sorted(Handoff.objects.filter(ticket=ticket).values_list("last_error", flat=True))
    assert errors[0].startswith("GitHub answered 401 (bad credentials): Bad credentials")
    assert errors[1].startswith("GitHub answered 404")


def test_zendesk_ticket_in_the_group_with_internal_note_and_requester(fakes, taxonomy):
    rule(zendesk(fakes))
    ticket = reviewed(taxonomy, requester_email="ana@example.com")
    send_all()
    row = Handoff.objects.get(ticket=ticket)
    assert row.status == "sent" and row.external_url.endswith("/agent/tickets/501")
    sent = fakes.zendesk.tickets[0]
    assert sent["external_id"] == ticket.reference and sent["priority"] == "high"
    assert sent["requester"]["email"] == "ana@example.com" and "from-triage" in sent["tags"]
    assert sent["comment"]["body"].startswith("Card payments fail")


def test_zendesk_unknown_group_is_a_422_with_its_details(fakes, taxonomy):
    rule(zendesk(fakes, project="999"))
    ticket = reviewed(taxonomy)
    send_all()
    assert "group: Group: is invalid" in Handoff.objects.get(ticket=ticket).last_error


def test_slack_block_kit_message(fakes, taxonomy):
    rule(slack(fakes))
    ticket = reviewed(taxonomy)
    send_all()
    assert Handoff.objects.get(ticket=ticket).status == "sent"
    blocks = fakes.slack.messages[0]["blocks"]
    assert blocks[0]["type"] == "header" and ticket.reference in blocks[0]["text"]["text"]
    assert any(b["type"] == "actions" for b in blocks)


def test_slack_channel_not_found(fakes, taxonomy):
    rule(slack(fakes))
    ticket = reviewed(taxonomy)
    fakes.slack.fail_next(404, "channel_not_found")
    send_all()
    assert Handoff.objects.get(ticket=ticket).last_error.endswith("channel_not_found")


# --- secrets --------------------------------------------------------------------------------------
def test_secrets_are_stored_encrypted_or_read_from_a_named_environment_variable(fakes, monkeypatch):
    dest = jira(fakes)
    assert JIRA_TOKEN not in dest.secret_encrypted and handoff.destination_secret(dest) == JIRA_TOKEN
    monkeypatch.setenv("TRIAGE_DEST_JIRA", "from-env")
    other = jira(fakes, name="env", secret="", secret_env="TRIAGE_DEST_JIRA")
    assert handoff.destination_secret(other) == "from-env"
    with pytest.raises(handoff.DestinationInvalid):
        jira(fakes, name="leak", secret="", secret_env="DJANGO_SECRET_KEY")


# --- back-sync --------------------------------------------------------------------------------------
def _sent(fakes, taxonomy, make) -> tuple[Ticket, Handoff]:
    rule(make(fakes))
    ticket = reviewed(taxonomy)
    send_all()
    return ticket, Handoff.objects.get(ticket=ticket)


def _post(path: str, body: dict, headers: dict) -> int:
    raw = json.dumps(body).encode()
    signed = {k: (v(raw) if callable(v) else v) for k, v in headers.items()}
    return Client().post(path, raw, content_type="application/json", headers=signed).status_code


def _hex(secret: str):
    return lambda raw: "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def test_github_close_and_reopen_sync_the_ticket_with_history(fakes, taxonomy):
    ticket, row = _sent(fakes, taxonomy, github)
    event = {"action": "closed", "issue": {"number": 1}, "repository": {"full_name": GITHUB_REPO}}
    assert _post("/hooks/github/", event, {"X-Hub-Signature-256": _hex("wrong")}) == 401
    assert Ticket.objects.get(id=ticket.id).status == "REVIEWED"
    assert _post("/hooks/github/", event, {"X-Hub-Signature-256": _hex("gh-hook-secret")}) == 200
    assert Ticket.objects.get(id=ticket.id).status == "SOLVED"
    status_event = TicketEvent.objects.filter(ticket=ticket, kind="STATUS").first()
    assert status_event.after == {"status": "SOLVED", "why": "closed in GitHub web 1"}
    event["action"] = "reopened"
    assert _post("/hooks/github/", event, {"X-Hub-Signature-256": _hex("gh-hook-secret")}) == 200
    assert Ticket.objects.get(id=ticket.id).status == "REVIEWED"


def test_jira_done_status_solves_the_ticket(fakes, taxonomy):
    ticket, row = _sent(fakes, taxonomy, jira)
    event = {
        "webhookEvent": "jira:issue_updated",
        "issue": {"key": row.external_id, "fields": {"status": {"statusCategory": {"key": "done"}}}},
        "changelog": {"items": [{"field": "status", "fromString": "In Progress", "toString": "Done"}]},
    }
    assert _post("/hooks/jira/", event, {"X-Hub-Signature": _hex("jira-hook-secret")}) == 200
    assert Ticket.objects.get(id=ticket.id).status == "SOLVED"


def test_zendesk_signed_webhook_solves_then_reopens(fakes, taxonomy):
    ticket, row = _sent(fakes, taxonomy, zendesk)
    stamp = "2026-12-05T19:00:00Z"

    def signature(raw: bytes) -> str:
        return base64.b64encode(
            hmac.new(b"zd-hook-secret", stamp.encode() + raw, hashlib.sha256).digest()
        ).decode()

    headers = {"X-Zendesk-Webhook-Signature": signature, "X-Zendesk-Webhook-Signature-Timestamp": stamp}
    assert _post("/hooks/zendesk/", {"ticket_id": row.external_id, "status": "solved"}, headers) == 200
    assert Ticket.objects.get(id=ticket.id).status == "SOLVED"
    assert _post("/hooks/zendesk/", {"ticket_id": row.external_id, "status": "open"}, headers) == 200
    assert Ticket.objects.get(id=ticket.id).status == "REVIEWED"
    headers["X-Zendesk-Webhook-Signature"] = "bm9wZQ=="
    assert _post("/hooks/zendesk/", {"ticket_id": row.external_id, "status": "solved"}, headers) == 401


def test_a_sent_hand_off_emits_ticket_handed_off(fakes, taxonomy):
    from triage.models import WebhookEvent
    from triage.services.webhooks import webhook_endpoint_create

    webhook_endpoint_create(url="https://hooks.example.com/x", events=["ticket.handed_off"])
    rule(slack(fakes))
    ticket = reviewed(taxonomy)
    assert not WebhookEvent.objects.filter(event_type="ticket.handed_off").exists()
    send_all()
    event = WebhookEvent.objects.get(event_type="ticket.handed_off")
    assert event.ticket_id == ticket.id


def test_the_sweep_queues_intents_never_queued_and_retries_that_are_due(fakes, taxonomy, monkeypatch):
    from triage import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.handoff_send_task, "delay", lambda **kw: queued.append(kw["handoff_id"]))
    rule(slack(fakes))
    fresh = Handoff.objects.get(ticket=reviewed(taxonomy))
    assert handoff.handoff_sweep() == 0  # just made: its own job is on the way
    later = timezone.now() + timedelta(minutes=1)
    assert handoff.handoff_sweep(now=later) == 1 and queued == [fresh.id]
    Handoff.objects.filter(id=fresh.id).update(next_attempt_at=later + timedelta(hours=1))
    assert handoff.handoff_sweep(now=later) == 0  # a backoff not over yet
    assert handoff.handoff_sweep(now=later + timedelta(hours=2)) == 1
    Handoff.objects.filter(id=fresh.id).update(status="sent")
    assert handoff.handoff_sweep(now=later + timedelta(hours=2)) == 0


def test_an_issue_made_whose_attachment_is_refused_is_kept_and_retry_only_adds_what_is_missing(
    fakes, taxonomy
):
    rule(jira(fakes))
    ticket = triaged_ticket()
    _with_screenshot(ticket)
    review_record(ticket_id=ticket.id, user=role_user("agent"), values={})
    fakes.jira.refuse_uploads = 413
    send_all()
    row = Handoff.objects.get(ticket=ticket)
    assert (
        row.status == "failed" and row.external_id == "WEB-1" and "maximum attachment size" in row.last_error
    )
    html = _ticket_page(ticket)
    assert "made as" in html and f"{fakes.base_url}/jira/browse/WEB-1" in html and "Retry" in html
    fakes.jira.refuse_uploads = 0
    assert handoff.handoff_retry(handoff_id=row.id, ticket_id=ticket.id)
    handoff.handoff_send(handoff_id=row.id)
    row.refresh_from_db()
    assert (
        row.status == "sent"
        and fakes.jira.creates == 1
        and len(fakes.jira.issues["WEB-1"]["attachments"]) == 1
    )


def _ticket_page(ticket: Ticket) -> str:
    client = Client()
    client.force_login(role_user("agent", "page-reader"))
    return client.get(f"/tickets/{ticket.id}/").content.decode()


# --- TRIAGE_REDACT=everywhere -----------------------------------------------------------------------
EMAIL, CARD, IBAN = "ana.silva@example.com", "4242 4242 4242 4242", "DE89 3704 0044 0532 0130 00"


def _ticket_with_personal_data() -> Ticket:
    ticket = triaged_ticket(
        subject=f"Refund to {IBAN} please",
        description=f"I paid with {CARD}, write to {EMAIL}.",
        requester_email=EMAIL,
        result=PROPOSAL
        | {
            "summary": f"Refund asked by {EMAIL} for card {CARD}.",
            "steps_to_reproduce": [{"text": f"Pay with {CARD}", "source": "description"}],
            "actual": {"text": f"Refund to {IBAN} failed", "source": "description"},
        },
    )
    attachment = AttachmentFactory(
        ticket=ticket, content=png_bytes(), status=Attachment.Status.DONE, original_name="pay.png"
    )
    white = png_bytes(400, 100, (255, 255, 255))
    rendition = RenditionFactory(
        attachment=attachment, kind=Rendition.Kind.IMAGE, content=white, width=400, height=100
    )
    RenditionText.objects.create(
        rendition=rendition,
        text=f"Contact: {EMAIL}",
        lines=[{"text": f"Contact: {EMAIL}", "score": 0.99, "box": [20, 40, 300, 60]}],
        engine="t",
    )
    review_record(ticket_id=ticket.id, user=role_user("agent"), values={})
    return ticket


def _everything_sent(fakes: HandoffFakes) -> dict[str, str]:
    return {
        "jira": json.dumps(fakes.jira.issues["WEB-1"]["fields"], ensure_ascii=False),
        "github": json.dumps(fakes.github.issues[0], ensure_ascii=False),
        "zendesk": json.dumps(fakes.zendesk.tickets[0], ensure_ascii=False),
        "slack": json.dumps(fakes.slack.messages[0], ensure_ascii=False),
    }


@pytest.mark.parametrize("mode", ["everywhere", "model"])
def test_redact_everywhere_sends_every_destination_the_placeholders_and_covered_screenshots(
    fakes, taxonomy, settings, mode
):
    settings.TRIAGE_REDACT = mode
    rule(jira(fakes), github(fakes), zendesk(fakes), slack(fakes))
    ticket = _ticket_with_personal_data()
    send_all()
    assert set(Handoff.objects.filter(ticket=ticket).values_list("status", flat=True)) == {"sent"}
    sent = _everything_sent(fakes)
    upload = next(iter(fakes.jira.issues["WEB-1"]["files"].values()))
    with PILImage.open(io.BytesIO(upload)) as img:
        middle_of_the_address = img.convert("RGB").getpixel((200, 50))
    zendesk_requester = fakes.zendesk.tickets[0].get("requester")
    if mode == "model":  # only what goes to the model is redacted: people's tools get the ticket
        assert all(EMAIL in text for text in sent.values())
        assert middle_of_the_address == (255, 255, 255) and zendesk_requester["email"] == EMAIL
        return
    for name, text in sent.items():
        assert not any(v in text for v in (EMAIL, CARD, IBAN, CARD.replace(" ", ""))), name
    # the same value has the same placeholder in every field and every destination
    assert "[card ••••4242]" in sent["jira"] and "[iban 1]" in sent["jira"] and "[email 1]" in sent["jira"]
    assert "[card ••••4242]" in sent["github"] and "[iban 1]" in sent["github"]
    assert "[iban 1]" in sent["zendesk"] and "[email 1]" in sent["zendesk"]
    assert "[email 1]" in sent["slack"] and "[card ••••4242]" in sent["slack"]
    assert middle_of_the_address == (0, 0, 0), "the address in the uploaded screenshot is covered"
    assert zendesk_requester is None, "no requester address: a placeholder is no address"
