"""The conversation on the ticket page: the timeline, the composer (reply by email or internal
note), macros, drafted replies, the state of each mail we send; the mentions page; the managers'
pages for macros and the acknowledgement."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from triage import selectors
from triage.adapters.email.outbound import TemplateInvalid
from triage.adapters.media import MediaRejected
from triage.forms import AckTemplateForm, MacroForm, NoteForm, ReplyForm
from triage.models import AckTemplate, Macro, NoteMention, OutboundEmail, Ticket
from triage.roles import agent_required, manager_required
from triage.selectors.conversation import ticket_timeline
from triage.services.conversation import mentions_mark_read, note_add
from triage.services.drafts import reply_draft
from triage.services.lifecycle import AGENT_STATUSES
from triage.services.macros import VARIABLES, ack_template_save, macro_apply, macro_save, macros_for
from triage.services.outbound import ReplyUpload, outbound_email_retry, reply_defaults, reply_send
from triage.services.redaction import redacts_for_user, ticket_placeholders_restore
from triage.views import AuthedRequest
from triage.views.params import id_param

TIMELINE = "triage/partials/_timeline.html"


def conversation_context(
    request: AuthedRequest,
    ticket: Ticket,
    *,
    reply_form: ReplyForm | None = None,
    note_form: NoteForm | None = None,
) -> dict:
    """What the ticket page's conversation needs; opening the page reads the user's mentions on it."""
    mentions_mark_read(user=request.user, ticket_id=ticket.id)
    defaults = reply_defaults(ticket=ticket)
    return {
        "timeline": ticket_timeline(ticket=ticket),
        "reply_form": reply_form
        or ReplyForm(initial={"to": ", ".join(defaults["to"]), "cc": ", ".join(defaults["cc"])}),
        "note_form": note_form or NoteForm(),
        "macros": macros_for(ticket=ticket),
        "can_reply": bool(defaults["to"]) or ticket.channel == Ticket.Channel.EMAIL,
        "poll_s": settings.TRIAGE_POLL_INTERVAL_S,
        "ticket": ticket,
    }


def _timeline_response(request: AuthedRequest, ticket: Ticket, **forms: object) -> HttpResponse:
    context = conversation_context(request, ticket, **forms)  # type: ignore[arg-type]
    response = render(request, TIMELINE, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_POST
@agent_required
def ticket_reply(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    ticket = get_object_or_404(Ticket, id=ticket_id)
    posted = request.POST.copy()
    if redacts_for_user(request.user):  # the form showed the addresses as placeholders
        for name in ("to", "cc"):
            posted[name] = ticket_placeholders_restore(ticket, str(posted.get(name, "")))
    form = ReplyForm(posted, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            reply_send(
                ticket_id=ticket.id,
                author=request.user,
                body=data["body"],
                to=data["to"],
                cc=data["cc"],
                uploads=[ReplyUpload(fileobj=f, name=f.name, size_bytes=f.size) for f in data["attachments"]],
            )
        except MediaRejected as exc:
            form.add_error("attachments", exc.reason)
        else:
            if request.htmx:
                return _timeline_response(request, ticket)
            messages.success(request, "Reply queued for sending.")
            return redirect("triage:ticket-detail", ticket_id=ticket.id)
    if request.htmx:
        return _timeline_response(request, ticket, reply_form=form)
    messages.error(
        request, "Reply not sent: " + "; ".join(str(e) for errors in form.errors.values() for e in errors)
    )
    return redirect("triage:ticket-detail", ticket_id=ticket.id)


@require_POST
@agent_required
def ticket_note(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    ticket = get_object_or_404(Ticket, id=ticket_id)
    form = NoteForm(request.POST)
    if form.is_valid():
        note_add(ticket_id=ticket.id, author=request.user, body=form.cleaned_data["body"])
        if request.htmx:
            return _timeline_response(request, ticket)
        messages.success(request, "Note added.")
    elif request.htmx:
        return _timeline_response(request, ticket, note_form=form)
    return redirect("triage:ticket-detail", ticket_id=ticket.id)


@require_safe
@agent_required
def outbound_email_state(request: AuthedRequest, ticket_id: int, outbound_email_id: int) -> HttpResponse:
    """One mail's entry in the timeline; polled while it is being sent."""
    mail = get_object_or_404(OutboundEmail, id=outbound_email_id, ticket_id=ticket_id)
    response = render(
        request,
        "triage/partials/_outbound_entry.html",
        {"mail": mail, "ticket": mail.ticket, "poll_s": settings.TRIAGE_POLL_INTERVAL_S},
    )
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_POST
@agent_required
def outbound_email_retry_view(request: AuthedRequest, ticket_id: int, outbound_email_id: int) -> HttpResponse:
    mail = get_object_or_404(OutboundEmail, id=outbound_email_id, ticket_id=ticket_id)
    outbound_email_retry(outbound_email_id=mail.id)
    if request.htmx:
        return outbound_email_state(request, ticket_id, outbound_email_id)
    return redirect("triage:ticket-detail", ticket_id=ticket_id)


@require_POST
@agent_required
def macro_use(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    """Put a macro's text in the composer (and set what it sets); the agent edits, then sends."""
    ticket = get_object_or_404(Ticket, id=ticket_id)
    macro_id = id_param(request.POST.get("macro"))
    if macro_id is None or not Macro.objects.filter(id=macro_id, is_active=True).exists():
        raise Http404("No such macro")
    text = macro_apply(macro_id=macro_id, ticket_id=ticket.id, agent=request.user)
    return render(request, "triage/partials/_reply_body.html", {"text": text, "source": "macro"})


@require_safe
@agent_required
def mentions_page(request: AuthedRequest) -> HttpResponse:
    mentions = (
        NoteMention.objects.filter(user=request.user)
        .select_related("note__ticket", "note__author")
        .order_by("-created_at")[:100]
    )
    return render(request, "triage/mentions.html", {"mentions": mentions})


# --- managers: macros and the acknowledgement ------------------------------------------------------
def _macro_form(data: dict | None = None, initial: dict | None = None) -> MacroForm:
    return MacroForm(
        data,
        initial=initial,
        queues=list(selectors.taxonomy_choices(field="queue")),
        priorities=list(selectors.taxonomy_choices(field="priority")),
        statuses=[(s.value, s.label) for s in AGENT_STATUSES],
    )


@require_http_methods(["GET", "HEAD", "POST"])
@manager_required
def macro_list(request: AuthedRequest, macro_id: int | None = None) -> HttpResponse:
    macro = get_object_or_404(Macro, id=macro_id) if macro_id else None
    if request.method == "POST":
        form = _macro_form(request.POST)
        if form.is_valid():
            try:
                saved = macro_save(macro_id=macro.id if macro else None, **form.cleaned_data)
            except TemplateInvalid as exc:
                form.add_error("body", exc.reason)
            else:
                messages.success(request, f"Macro “{saved.name}” saved.")
                return redirect("triage:macros")
    else:
        initial = (
            {
                f: getattr(macro, f)
                for f in ("name", "queue", "body", "set_status", "set_priority", "set_queue", "is_active")
            }
            if macro
            else {"is_active": True}
        )
        form = _macro_form(initial=initial)
    return render(
        request,
        "triage/macros.html",
        {"form": form, "macro": macro, "macros": Macro.objects.all(), "variables": sorted(VARIABLES)},
    )


@require_http_methods(["GET", "HEAD", "POST"])
@manager_required
def ack_template_edit(request: AuthedRequest) -> HttpResponse:
    language = request.GET.get("language", "")
    current = AckTemplate.objects.filter(language=language).first()
    if request.method == "POST":
        form = AckTemplateForm(request.POST)
        if form.is_valid():
            try:
                ack_template_save(**form.cleaned_data)
            except TemplateInvalid as exc:
                form.add_error("body", exc.reason)
            else:
                messages.success(request, "Acknowledgement saved.")
                return redirect("triage:ack-template")
    else:
        from triage.services.macros import ack_template_for

        subject, body = (current.subject, current.body) if current else ack_template_for(language="")
        form = AckTemplateForm(initial={"language": language, "subject": subject, "body": body})
    return render(
        request,
        "triage/ack_template.html",
        {"form": form, "templates": AckTemplate.objects.all(), "variables": sorted(VARIABLES)},
    )


@require_POST
@agent_required
def ticket_draft(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    """ "Draft a reply": the text goes into the composer only; sending stays a person's act."""
    ticket = get_object_or_404(Ticket, id=ticket_id)
    draft = reply_draft(ticket_id=ticket.id, agent=request.user)
    text = draft.text or request.POST.get("body", "")
    return render(
        request,
        "triage/partials/_reply_body.html",
        {"text": text, "source": draft.source, "error": draft.note if not draft.text else ""},
    )
