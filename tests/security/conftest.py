"""Users of every role, and real objects for every URL parameter the crawl needs."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tests.factories import (
    AttachmentFactory,
    RenditionFactory,
    ReviewDecisionFactory,
    UserFactory,
    png_bytes,
    taxonomy_rows,
    triaged_ticket,
)
from triage.models import (
    Destination,
    Handoff,
    InboundEmail,
    Macro,
    OutboundEmail,
    ReportExport,
    RoutingRule,
    TaxonomyValue,
    WebhookDelivery,
    WebhookEvent,
)
from triage.services.inbound_email import inbound_email_receive
from triage.services.storage import content_store
from triage.services.webhooks import webhook_endpoint_create

ROLES = ("anonymous", "agent", "manager", "admin")


def role_user(role: str, username: str | None = None):
    """A user of `role` stored the way triage.roles reads it."""
    user = UserFactory(username=username or f"{role}-user")
    if role == "manager":
        user.groups.add(Group.objects.get_or_create(name="managers")[0])
    elif role == "admin":
        user.is_superuser = user.is_staff = True
        user.save()
    else:
        user.groups.add(Group.objects.get_or_create(name="agents")[0])
    return user


@pytest.fixture
def role_users(db) -> dict[str, object]:
    return {role: role_user(role) for role in ("agent", "manager", "admin")}


@pytest.fixture
def role_clients(role_users) -> dict[str, Client]:
    clients = {"anonymous": Client()}
    for role, user in role_users.items():
        clients[role] = Client()
        clients[role].force_login(user)
    return clients


@pytest.fixture
def api_clients(role_users) -> dict[str, Client]:
    """Clients that send each role's personal API token (write scope); anonymous sends none."""
    from triage.services.api_tokens import api_token_create

    clients = {"anonymous": Client()}
    for role, user in role_users.items():
        token = api_token_create(user=user, name="crawl", scope="write").plaintext
        clients[role] = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    return clients


@dataclass
class World:
    kwargs: dict[str, dict[str, object]]  # URL name -> path parameters
    users: dict[str, object]


MESSAGE = (
    b"From: a@example.com\r\nTo: support@triage.local\r\nSubject: hi\r\nMessage-ID: <crawl@x>\r\n\r\nbody\r\n"
)


@pytest.fixture
def world(role_users) -> World:
    """One real object behind every path parameter of every URL."""
    taxonomy_rows()
    ticket = triaged_ticket()
    attachment = AttachmentFactory(ticket=ticket, content=png_bytes())
    rendition = RenditionFactory(attachment=attachment)
    decision = ReviewDecisionFactory(ticket=ticket, user=role_users["agent"])
    email = InboundEmail.objects.get(
        id=inbound_email_receive(fileobj=io.BytesIO(MESSAGE), source="raw").inbound_email_id
    )
    key = "exports/crawl.csv"
    content_store(key=key, content=ContentFile(b"id\n1\n"))
    export = ReportExport.objects.create(
        requested_by=role_users["manager"],
        format="csv",
        status=ReportExport.Status.DONE,
        file=key,
        expires_at=timezone.now() + timezone.timedelta(hours=1),
    )
    value = TaxonomyValue.objects.order_by("id").first()
    endpoint = webhook_endpoint_create(url="https://hooks.example.com/triage", events=[])
    event = WebhookEvent.objects.create(msg_id="msg_crawl", event_type="ticket.created", payload={})
    delivery = WebhookDelivery.objects.create(event=event, endpoint=endpoint)
    agent = role_users["agent"]
    mail = OutboundEmail.objects.create(
        ticket=ticket,
        kind=OutboundEmail.Kind.REPLY,
        status=OutboundEmail.Status.FAILED,
        message_id="crawl@triage.local",
        from_email="support@triage.local",
        to=["customer@example.com"],
        subject="Re: crawl",
        body="Hello",
        error_message="550 refused",
    )
    macro = Macro.objects.create(name="Crawl", body="Hello {{ requester.first_name }}")
    destination = Destination.objects.create(kind="slack", name="Crawl Slack")
    rule = RoutingRule.objects.create(name="Crawl rule")
    handoff = Handoff.objects.create(ticket=ticket, destination=destination, rule=rule, status="failed")
    resetting = UserFactory(username="forgot-password")
    objects = {
        "auth_group": Group.objects.get(name="agents"),
        "auth_user": agent,
        "triage_taxonomyvalue": value,
        "triage_ticket": ticket,
        "triage_triagerun": ticket.latest_run,
        "triage_reviewdecision": decision,
        "triage_inboundemail": email,
        "triage_webhookendpoint": endpoint,
        "triage_webhookdelivery": delivery,
    }
    kwargs: dict[str, dict[str, object]] = {
        "triage:ticket-detail": {"ticket_id": ticket.id},
        "triage:ticket-action": {"ticket_id": ticket.id},
        "triage:ticket-presence": {"ticket_id": ticket.id},
        "triage:ticket-similar": {"ticket_id": ticket.id},
        "triage:ticket-reply": {"ticket_id": ticket.id},
        "triage:ticket-note": {"ticket_id": ticket.id},
        "triage:ticket-macro": {"ticket_id": ticket.id},
        "triage:ticket-draft": {"ticket_id": ticket.id},
        "triage:outbound-email": {"ticket_id": ticket.id, "outbound_email_id": mail.id},
        "triage:outbound-email-retry": {"ticket_id": ticket.id, "outbound_email_id": mail.id},
        "triage:macro-edit": {"macro_id": macro.id},
        "triage:routing-rule": {"rule_id": rule.id},
        "triage:destination-edit": {"destination_id": destination.id},
        "triage:handoff-retry": {"ticket_id": ticket.id, "handoff_id": handoff.id},
        "triage:attachment-file": {"attachment_id": attachment.id},
        "triage:rendition-file": {"rendition_id": rendition.id},
        "triage:report-export-status": {"export_id": export.id},
        "triage:report-export-download": {"export_id": export.id},
        "triage:email-retry": {"inbound_email_id": email.id},
        "triage:email-raw-file": {"inbound_email_id": email.id},
        "triage:taxonomy-value": {"value_id": value.id},
        "triage:user-edit": {"user_id": agent.id},
        "api:ticket_get": {"ticket_id": ticket.id},
        "api:ticket_review": {"ticket_id": ticket.id},
        "api:ticket_assign": {"ticket_id": ticket.id},
        "api:ticket_retriage": {"ticket_id": ticket.id},
        "api:attachment_file": {"attachment_id": attachment.id},
        "api:rendition_file": {"rendition_id": rendition.id},
        "api:export_get": {"export_id": export.id},
        "api:export_download": {"export_id": export.id},
        # a user nobody signs in as (signing in changes last_login, which voids the token)
        "password_reset_confirm": {
            "uidb64": urlsafe_base64_encode(force_bytes(resetting.pk)),
            "token": default_token_generator.make_token(resetting),
        },
        "admin:view_on_site": {
            "content_type_id": ContentType.objects.get_for_model(ticket).id,
            "object_id": ticket.id,
        },
        "admin:app_list": {"app_label": "triage"},
        "admin:auth_user_password_change": {"id": agent.id},
    }
    for prefix, obj in objects.items():
        for suffix in ("change", "delete", "history", "redirect"):
            kwargs[f"admin:{prefix}_{suffix}"] = {"object_id": obj.pk}
    kwargs["admin:catch-all"] = {"url": "no-such-page/"}
    return World(kwargs=kwargs, users=role_users)


@pytest.fixture
def agent(client, db) -> Client:
    """The test client signed in as an agent."""
    client.force_login(role_user("agent"))
    return client
