"""Text with variables that Triage fills in: the acknowledgement and the macros (canned replies).

Both use the adapter's variable-only renderer (adapters/email/outbound.template_render): the
values are strings prepared here, so a manager's text can show data but never run anything.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from triage.adapters.email.outbound import template_check, template_render
from triage.models import REVIEWED_STATES, AckTemplate, Macro, Ticket, TicketEvent

VARIABLES = frozenset(
    {
        "requester.first_name",
        "requester.name",
        "requester.email",
        "ticket.reference",
        "ticket.subject",
        "agent.name",
        "agent.first_name",
    }
)

DEFAULT_ACK_SUBJECT = "We received your request [{{ ticket.reference }}]"
DEFAULT_ACK_BODY = (
    "Hello {{ requester.first_name }},\n\n"
    "Thank you for writing to us. Your request has been received as {{ ticket.reference }}; "
    "a member of our support team will answer you soon.\n\n"
    "To add anything, simply reply to this message.\n\n"
    "This is an automatic acknowledgement."
)


def _requester_names(ticket: Ticket) -> tuple[str, str]:
    """(first name, full name) from the sender's display name when we have it, else the address."""
    from triage.models import InboundEmail

    name = ""
    first = (
        InboundEmail.objects.filter(ticket=ticket)
        .order_by("received_at", "id")
        .values_list("details", flat=True)
        .first()
    )
    if first:
        name = str(first.get("from_name", "")).strip()
    if not name:
        local = ticket.requester_email.partition("@")[0]
        name = local.split(".")[0].split("+")[0].replace("_", " ").title() if local else ""
    return (name.split()[0] if name else "there"), (name or "there")


def template_values(*, ticket: Ticket, agent: User | None = None) -> dict[str, str]:
    first, full = _requester_names(ticket)
    agent_name = (agent.get_full_name() or agent.get_username()) if agent else "Support team"
    return {
        "requester.first_name": first,
        "requester.name": full,
        "requester.email": ticket.requester_email,
        "ticket.reference": ticket.reference,
        "ticket.subject": ticket.subject,
        "agent.name": agent_name,
        "agent.first_name": agent_name.split()[0] if agent_name else "",
    }


def ack_template_for(*, language: str) -> tuple[str, str]:
    """The acknowledgement's (subject, body) in this language, else the default one, else built in."""
    rows = {row.language: row for row in AckTemplate.objects.filter(language__in=[language, ""])}
    row = rows.get(language) or rows.get("")
    return (row.subject, row.body) if row else (DEFAULT_ACK_SUBJECT, DEFAULT_ACK_BODY)


def ack_language(*, ticket: Ticket, text: str) -> str:
    """The ticket's language, or for a ticket not triaged yet (an acknowledgement goes out before
    triage), the language of its text, told by the offline detector only when a template in a
    language other than the default exists."""
    if ticket.language:
        return ticket.language
    if not AckTemplate.objects.exclude(language="").exists():
        return ""
    from triage.adapters.llm.language import detect_language

    code, _confidence = detect_language(text or f"{ticket.subject}\n{ticket.description}", accuracy="low")
    return code


def ack_render(*, ticket: Ticket, text: str = "") -> tuple[str, str]:
    subject, body = ack_template_for(language=ack_language(ticket=ticket, text=text))
    values = template_values(ticket=ticket)
    return template_render(subject, values=values)[:300], template_render(body, values=values)


@transaction.atomic
def ack_template_save(*, language: str, subject: str, body: str) -> AckTemplate:
    """Raises adapters.email.outbound.TemplateInvalid for tags or unknown variables."""
    template_check(subject, allowed=VARIABLES)
    template_check(body, allowed=VARIABLES)
    row, _ = AckTemplate.objects.update_or_create(
        language=language, defaults={"subject": subject, "body": body}
    )
    return row


@transaction.atomic
def macro_save(
    *,
    macro_id: int | None,
    name: str,
    queue: str,
    body: str,
    set_status: str = "",
    set_priority: str = "",
    set_queue: str = "",
    is_active: bool = True,
) -> Macro:
    """Create or change a macro. Raises TemplateInvalid for tags or unknown variables."""
    template_check(body, allowed=VARIABLES)
    macro = Macro.objects.select_for_update().get(id=macro_id) if macro_id else Macro()
    macro.name, macro.queue, macro.body = name, queue, body
    macro.set_status, macro.set_priority, macro.set_queue = set_status, set_priority, set_queue
    macro.is_active = is_active
    macro.save()
    return macro


def macros_for(*, ticket: Ticket) -> list[Macro]:
    """Active macros of the ticket's queue and those for every queue."""
    return list(Macro.objects.filter(is_active=True, queue__in=["", ticket.queue]).order_by("name"))


def macro_render(*, macro: Macro, ticket: Ticket, agent: User | None) -> str:
    return template_render(macro.body, values=template_values(ticket=ticket, agent=agent))


@transaction.atomic
def macro_apply(*, macro_id: int, ticket_id: int, agent: User) -> str:
    """The macro's text for the composer, and the fields it sets, changed now and recorded."""
    from triage.services.lifecycle import ticket_status_set

    macro = Macro.objects.get(id=macro_id, is_active=True)
    ticket = Ticket.objects.select_for_update(of=("self",)).get(id=ticket_id)
    changes_before, changes_after = {}, {}
    for field, value in (("priority", macro.set_priority), ("queue", macro.set_queue)):
        if value and getattr(ticket, field) != value:
            changes_before[field], changes_after[field] = getattr(ticket, field), value
            setattr(ticket, field, value)
    if changes_after:
        ticket.save(update_fields=[*changes_after, "updated_at"])
        TicketEvent.objects.create(
            ticket=ticket,
            user=agent,
            kind=TicketEvent.Kind.ASSIGN,
            before=changes_before,
            after={**changes_after, "macro": macro.name},
        )
    if macro.set_status and ticket.status in REVIEWED_STATES and ticket.status != Ticket.Status.CLOSED:
        ticket_status_set(ticket_id=ticket.id, user=agent, status=macro.set_status)
    return macro_render(macro=macro, ticket=ticket, agent=agent)
