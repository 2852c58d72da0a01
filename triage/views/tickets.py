"""Ticket pages: the creation form, and the ticket page (proposal, media, review, history)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods, require_POST

from triage import selectors
from triage.adapters.llm.learned import LOW_ACCURACY, MIN_CALIBRATION_REVIEWS
from triage.adapters.media import MediaRejected
from triage.fields import CLASSIFIED, REVIEWED_FIELDS
from triage.forms import ReviewForm, TicketCreateForm, UploadForm, intake_config
from triage.models import ReviewDecision, Ticket, TriageRun
from triage.roles import agent_required
from triage.selectors.calibration import RunVersion, run_version
from triage.selectors.redaction import ticket_redaction
from triage.services.lifecycle import AGENT_STATUSES, StatusChangeRefused, ticket_status_set
from triage.services.presence import PRESENCE_POLL_S, Presence, presence_list, presence_touch
from triage.services.redaction import (
    redacts_for_user,
    ticket_placeholders_restore,
    ticket_redact_for_display,
)
from triage.services.review import (
    InvalidDuplicate,
    ProviderUnavailable,
    ReviewConflict,
    review_record,
    ticket_assign,
    ticket_mark_duplicate,
    ticket_proposal,
    ticket_retriage,
    ticket_version,
)
from triage.services.tickets import Upload, ticket_create, upload_stage
from triage.templatetags.triage_tags import IN_PROGRESS, LOW_CONFIDENCE
from triage.views import AuthedRequest
from triage.views.conversation import conversation_context
from triage.views.params import id_param
from triage.views.queue_view import ViewLinks, view_links

FIELD_TITLES = {**{f.name: f.title for f in CLASSIFIED}, "summary": "Summary"}
PROVIDER_LABELS = {"kimi": "Kimi", "local": "Offline model"}


def _retriage_providers() -> list[dict]:
    """The re-run form's provider options: the configured provider chosen, Kimi offered only with
    an API key (without one, a Kimi run would quietly be the offline model's)."""
    kimi_ready = bool(settings.KIMI_API_KEY)
    chosen = settings.TRIAGE_PROVIDER if (settings.TRIAGE_PROVIDER != "kimi" or kimi_ready) else "local"
    return [
        {
            "value": value,
            "label": label if value != "kimi" or kimi_ready else f"{label} (no API key configured)",
            "selected": value == chosen,
            "disabled": value == "kimi" and not kimi_ready,
        }
        for value, label in PROVIDER_LABELS.items()
    ]


def _classified_details(ticket: Ticket, labels: dict[str, dict[str, str]]) -> list[tuple[str, str]]:
    """(title, label) of every classified field for the Details list, a newly declared one too."""
    details = []
    for field in CLASSIFIED:
        value = getattr(ticket, field.name)
        details.append((field.title, labels.get(field.name, {}).get(value, value) if value else "—"))
    return details


@require_http_methods(["GET", "HEAD", "POST"])
@agent_required
def ticket_create_page(request: AuthedRequest) -> HttpResponse:
    """The new-ticket form. Works as a plain multipart POST; intake.js sends the files ahead
    (ticket_upload) and posts their tokens in `staged` instead."""
    if request.method == "POST":
        form = TicketCreateForm(request.POST, request.FILES, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            files = data["attachments"]
            try:
                ticket = ticket_create(
                    subject=data["subject"],
                    description=data["description"],
                    requester_email=data["requester_email"],
                    uploads=[Upload(fileobj=f, name=f.name, size_bytes=f.size) for f in files],
                    staged=form.staged_uploads,
                    created_by=request.user,
                )
            except MediaRejected as exc:  # the form checked already; this is the service's own guard
                form.add_error("attachments", exc.reason)
            else:
                count = len(files) + len(form.staged_uploads)
                what = f"with {count} attachment{'s' if count != 1 else ''}" if count else ""
                messages.success(request, f"{ticket.reference} created {what}; triage has started.")
                return redirect("triage:ticket-detail", ticket_id=ticket.id)
    else:
        form = TicketCreateForm(user=request.user)
    context = {
        "form": form,
        "intake": {**intake_config(), "uploadUrl": reverse("triage:ticket-upload")},
        # files uploaded ahead whose ticket form came back with an error: still listed, not lost
        "staged_uploads": form.staged_uploads if form.is_bound else [],
    }
    return render(request, "triage/ticket_create.html", context)


@agent_required
@require_POST
def ticket_upload(request: AuthedRequest) -> JsonResponse:
    """One file of a ticket being written, sent ahead by intake.js with its own progress bar.

    201 with a token the ticket form carries; 400 with the reason the file is refused."""
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        errors = form.errors.get("file") or ["No file was sent."]
        return JsonResponse({"error": " ".join(str(e) for e in errors)}, status=400)
    upload = form.cleaned_data["file"]
    try:
        staged = upload_stage(
            upload=Upload(fileobj=upload, name=upload.name, size_bytes=upload.size), user=request.user
        )
    except MediaRejected as exc:
        return JsonResponse({"error": f"'{upload.name}': {exc.reason}"}, status=400)
    item = staged.checked
    return JsonResponse(
        {
            "token": staged.token,
            "name": item.name,
            "size": item.size_bytes,
            "kind": item.sniff.kind,
            "mime": item.sniff.mime,
        },
        status=201,
    )


def _proposal(ticket: Ticket) -> dict[str, Any] | None:
    """The latest run's result when it is a finished proposal, else None."""
    run = ticket.latest_run
    if (
        run is None
        or run.status != TriageRun.Status.DONE
        or not isinstance(run.result, dict)
        or not run.result
    ):
        return None
    return run.result


def _has_proposal(ticket: Ticket) -> bool:
    return _proposal(ticket) is not None


def _proposal_rows(ticket: Ticket, labels: dict[str, dict[str, str]], levels: dict[str, float]) -> list[dict]:
    """One row per classified field of the latest run: value, its label, confidence, current value.
    `levels`: the run's calibrated LOW levels (run_version)."""
    result = _proposal(ticket)
    if result is None:
        return []
    rows = []
    for name in REVIEWED_FIELDS:
        if name == "summary":
            continue
        guess = result.get(name) or {}
        value = str(guess.get("value", ""))
        current = getattr(ticket, name)
        rows.append(
            {
                "name": name,
                "title": FIELD_TITLES[name],
                "value": value,
                "label": labels.get(name, {}).get(value, value) or "—",
                "confidence": guess.get("confidence"),
                # LOW: below the level where this model's held-out accuracy fell under 70%
                # (the fixed level without a calibrated version); never once a person reviewed it
                "low": not ticket.is_reviewed
                and guess.get("confidence") is not None
                and float(guess["confidence"]) < levels.get(name, LOW_CONFIDENCE),
                "current": current,
                "current_label": labels.get(name, {}).get(current, current) or "—",
                "changed": ticket.is_reviewed and current != value,
            }
        )
    return rows


def _confidence_note(run: TriageRun | None, stored: RunVersion) -> str:
    """What the proposal's confidences are, so a reader knows how far to trust a figure."""
    if run is None:
        return ""
    if stored.low_below:
        return (
            "Confidence: how often this model version was right at that confidence on reviews it was not "
            "trained on (the language's: its detector's accuracy on labelled tickets); LOW where that fell "
            f"under {LOW_ACCURACY:.0%}."
        )
    if run.provider == "local" and (reviewed := stored.trained_on) is not None:
        # trained, but no field had enough reviews to measure its confidence against
        return (
            f"A version trained on {reviewed} reviewed ticket{pluralize(reviewed)}: too few to measure how "
            f"often it is right (that takes {MIN_CALIBRATION_REVIEWS} reviews of a field), so these "
            f"confidences are its own estimate; LOW below {LOW_CONFIDENCE:.0%}."
        )
    if run.provider == "local":
        return (
            "Day one: these confidences are the offline model's own estimate from the taxonomy, not yet "
            "measured against reviews (the language's is its detector's accuracy on labelled tickets); "
            f"LOW below {LOW_CONFIDENCE:.0%}. Once a version is trained on reviewed tickets they say how "
            "often it was right."
        )
    return f"Confidence as the model stated it; LOW below {LOW_CONFIDENCE:.0%}."


_REPORT = (
    ("problem", "Problem"),
    ("steps_to_reproduce", "Steps to reproduce"),
    ("expected", "Expected"),
    ("actual", "Actual"),
    ("environment", "Environment"),
    ("error_messages", "Error messages"),
)


def _report(ticket: Ticket) -> list[dict]:
    """The model's structured report of the problem, each claim with what it rests on."""
    result = _proposal(ticket)
    if result is None:
        return []
    report = []
    for name, title in _REPORT:
        value = result.get(name)
        claims = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        claims = [c for c in claims if isinstance(c, dict) and c.get("text")]
        if claims:
            report.append({"title": title, "claims": claims})
    return report


def _duplicates(ticket: Ticket) -> list[dict]:
    result = _proposal(ticket)
    if result is None:
        return []
    guesses = {
        d.get("reference"): d.get("confidence")
        for d in result.get("duplicate_of") or []
        if isinstance(d, dict)
    }
    found = selectors.tickets_by_reference(references=[r for r in guesses if isinstance(r, str)])
    return [
        {
            "id": t.id,
            "reference": t.reference,
            "subject": t.subject,
            "status_label": t.get_status_display(),
            "confidence": guesses[t.reference],
        }
        for t in found
        if t.id != ticket.id
    ]


def _norm(value: object) -> str:
    return str(value or "").replace("\r\n", "\n").strip()


def _orig_values(post: Mapping[str, str]) -> dict[str, str]:
    return {name: _norm(post.get(f"orig_{name}")) for name in REVIEWED_FIELDS if f"orig_{name}" in post}


def _changed_by_reviewer(post: Mapping[str, str]) -> dict[str, str]:
    """The fields whose posted value differs from the value the form showed (orig_*). Without
    orig_* (an old form), nothing counts as changed: nothing stale is carried over."""
    orig = _orig_values(post)
    return {
        name: _norm(post.get(name))
        for name in REVIEWED_FIELDS
        if name in orig and _norm(post.get(name)) != orig[name]
    }


def _conflict_rows(
    *, mine: dict[str, str], seen: dict[str, str], now: dict[str, str], labels: dict[str, dict[str, str]]
) -> list[dict]:
    """Per field that either side changed: what you saw, your value, theirs (the ticket now)."""

    def label(name: str, value: str) -> str:
        return labels.get(name, {}).get(value, value) or "—"

    rows = []
    for name in REVIEWED_FIELDS:
        theirs_changed = name in seen and _norm(now[name]) != seen[name]
        if name not in mine and not theirs_changed:
            continue
        rows.append(
            {
                "name": name,
                "title": FIELD_TITLES[name],
                "seen": label(name, seen.get(name, "")),
                "yours": label(name, mine[name]) if name in mine else "(unchanged)",
                "theirs": label(name, now[name]) if theirs_changed else "(unchanged)",
                "both": name in mine and theirs_changed,
            }
        )
    return rows


def _presence(request: AuthedRequest, ticket: Ticket) -> list[Presence]:
    """Report this reviewer on the ticket, and who else has it open (Redis, no query)."""
    user = request.user
    presence_touch(
        ticket_id=ticket.id, user_id=user.id, name=user.get_full_name() or user.get_username(), editing=False
    )
    return presence_list(ticket_id=ticket.id, exclude_user_id=user.id)


def _review_message(ticket: Ticket, decision: ReviewDecision) -> str:
    if decision.action == ReviewDecision.Action.ACCEPT:
        return f"{ticket.reference} accepted as proposed."
    changed = [
        FIELD_TITLES[n].lower() for n in REVIEWED_FIELDS if decision.before.get(n) != decision.after.get(n)
    ]
    return f"{ticket.reference} reviewed" + (f": corrected {', '.join(changed)}." if changed else ".")


@dataclass
class _Decided:
    """A review POST's outcome: where to go next, or the form (and conflict) to show again."""

    redirect_to: str | None = None
    form: ReviewForm | None = None
    conflict: dict | None = None


def _decide(
    request: AuthedRequest, ticket: Ticket, *, taxonomy: selectors.TaxonomySnapshot, links: ViewLinks
) -> _Decided:
    """Record the posted review. Reads nothing the page shows: on success the browser goes on to the
    next ticket (or the list), and only a refused or conflicting save builds this page again."""
    choices, labels = taxonomy.choices, taxonomy.labels
    current = {name: getattr(ticket, name) for name in REVIEWED_FIELDS}
    data = request.POST.copy()
    if redacts_for_user(request.user) and data.get("summary"):
        # the form showed the summary redacted: its placeholders go back to the values
        data["summary"] = ticket_placeholders_restore(ticket, str(data.get("summary", "")))
    form = ReviewForm(data, choices=choices, current=current, labels=labels)
    accept = request.POST.get("action") == "accept"
    if accept:
        if _has_proposal(ticket):
            values: dict[str, str] | None = ticket_proposal(ticket=ticket)
        else:
            values = None
            form.add_error(None, "There is no model proposal to accept: set the fields and Save & accept.")
    else:
        values = form.cleaned_data if form.is_valid() else None
    if values is None:
        return _Decided(form=form)
    try:
        decision = review_record(
            ticket_id=ticket.id, user=request.user, values=values, seen_version=request.POST.get("seen")
        )
    except ReviewConflict as conflict:
        # keep only what this reviewer changed; every other field shows the ticket as it is now,
        # so saving again cannot silently undo a colleague's correction
        now_ticket = selectors.ticket_get_for_decision(ticket_id=ticket.id)
        now = {name: getattr(now_ticket, name) for name in REVIEWED_FIELDS}
        mine = {} if accept else _changed_by_reviewer(request.POST)
        return _Decided(
            form=ReviewForm(initial={**now, **mine}, choices=choices, current=now, labels=labels),
            conflict={
                "changes": conflict.changes,
                "rows": _conflict_rows(mine=mine, seen=_orig_values(request.POST), now=now, labels=labels),
                "kept": [FIELD_TITLES[name] for name in mine],
            },
        )
    messages.success(request, _review_message(ticket, decision))
    if request.GET.get("then") == "next" and links.next_url:
        return _Decided(redirect_to=links.next_url)
    return _Decided(redirect_to=links.list_url)


@require_http_methods(["GET", "HEAD", "POST"])
@agent_required
def ticket_detail(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    taxonomy = selectors.taxonomy_snapshot()
    form: ReviewForm | None = None
    conflict_context: dict | None = None
    if request.method == "POST":
        try:
            decided_ticket = selectors.ticket_get_for_decision(ticket_id=ticket_id)
        except Ticket.DoesNotExist:
            raise Http404("No such ticket") from None
        # next in the queue view the reviewer came from, read before the decision moves the ticket
        # out of that view (or to another band of its order)
        links = view_links(request, ticket_id=ticket_id, taxonomy=taxonomy.taxonomy, previous=False)
        decided = _decide(request, decided_ticket, taxonomy=taxonomy, links=links)
        if decided.redirect_to is not None:
            return redirect(decided.redirect_to)
        form, conflict_context = decided.form, decided.conflict
    try:
        ticket = selectors.ticket_get_for_review(ticket_id=ticket_id)
    except Ticket.DoesNotExist:
        raise Http404("No such ticket") from None
    labels = taxonomy.labels
    context: dict = {
        "ticket": ticket,
        "labels": labels,
        "poll_s": settings.TRIAGE_POLL_INTERVAL_S,
        "stages": selectors.attachment_stages(ticket=ticket, ocr_enabled=settings.TRIAGE_OCR_ENABLED),
        # what was redacted before the model saw it, and the boxes for the overlay
        "redaction": ticket_redaction(ticket=ticket),
        "redact_view": redacts_for_user(request.user),
    }
    if request.htmx and request.GET.get("fragment") == "live":
        if context["redact_view"]:
            ticket_redact_for_display(ticket)
        response = render(request, "triage/ticket_detail.html#live", context)
        if ticket.status not in IN_PROGRESS:
            # the proposal and the review form appear with the new status: reload the whole page once
            response["HX-Refresh"] = "true"
        patch_vary_headers(response, ("HX-Request",))
        return response

    links = view_links(request, ticket_id=ticket.id, taxonomy=taxonomy.taxonomy)
    choices = taxonomy.choices
    if form is None:
        current = {name: getattr(ticket, name) for name in REVIEWED_FIELDS}
        form = ReviewForm(initial=current, choices=choices, current=current, labels=labels)

    run = ticket.latest_run
    stored = run_version(run.model) if run is not None else RunVersion()
    proposal_rows = _proposal_rows(ticket, labels, stored.low_below)
    context.update(
        {
            "form": form,
            "has_proposal": _has_proposal(ticket),
            "proposal_rows": proposal_rows,
            "confidence_note": _confidence_note(run, stored),
            "proposal_by_field": {row["name"]: row for row in proposal_rows},
            "report": _report(ticket),
            "duplicates": _duplicates(ticket),
            "field_titles": FIELD_TITLES,
            "classified_details": _classified_details(ticket, labels),
            "version": ticket_version(ticket=ticket),
            "assignees": selectors.assignee_list(),
            "queue_choices": choices["queue"],
            "status_choices": [(s.value, s.label) for s in AGENT_STATUSES],
            "view_links": links,
            "present": _presence(request, ticket),
            "conflict": conflict_context,
            # what the form showed, sent back as orig_*: what this reviewer changed is what differs
            "orig_values": [(name, getattr(ticket, name)) for name in REVIEWED_FIELDS],
            "presence_poll_s": PRESENCE_POLL_S,
            "retriage_providers": _retriage_providers(),
        }
    )
    context.update(conversation_context(request, ticket))
    if context["redact_view"]:  # in memory, after the version and the forms read the real values
        redaction = ticket_redact_for_display(ticket, timeline=context.get("timeline"))
        if not form.is_bound:
            form.initial["summary"] = redaction.text(form.initial.get("summary") or "")
        reply_form = context.get("reply_form")
        if reply_form is not None and not reply_form.is_bound:
            for name in ("to", "cc"):
                reply_form.initial[name] = redaction.text(reply_form.initial.get(name) or "")
    response = render(request, "triage/ticket_detail.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_POST
@agent_required
def ticket_action(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    """Reassign, mark as duplicate, or re-run triage; back to the ticket with what happened."""
    ticket = get_object_or_404(Ticket, id=ticket_id)
    action = request.POST.get("action")
    if action == "assign":
        assignee_id = id_param(request.POST.get("assignee"))
        assignee = (
            selectors.assignee_list().filter(id=assignee_id).first() if assignee_id is not None else None
        )
        queue = request.POST.get("queue", "")
        if queue and queue not in {v for v, _ in selectors.taxonomy_choices(field="queue")}:
            messages.error(request, "Choose a queue from the list.")
        elif ticket_assign(ticket_id=ticket.id, user=request.user, assignee=assignee, queue=queue):
            messages.success(request, f"{ticket.reference} reassigned.")
        else:
            messages.info(request, "Nothing changed.")
    elif action == "duplicate":
        try:
            event = ticket_mark_duplicate(
                ticket_id=ticket.id, user=request.user, original_reference=request.POST.get("original", "")
            )
        except InvalidDuplicate as exc:
            messages.error(request, f"Not marked as duplicate: {exc}.")
        else:
            messages.success(
                request, f"{ticket.reference} marked as a duplicate of {event.after['duplicate_of']}."
            )
    elif action == "status":
        try:
            changed = ticket_status_set(
                ticket_id=ticket.id, user=request.user, status=request.POST.get("status", "")
            )
        except StatusChangeRefused as exc:
            messages.error(request, f"Status not changed: {exc.reason}.")
        else:
            if changed is None:
                messages.info(request, "Nothing changed.")
            else:
                label = Ticket.Status(changed.after["status"]).label
                messages.success(request, f"{ticket.reference} is now {label}.")
    elif action == "retriage":
        provider = request.POST.get("provider", "")
        provider = provider if provider in PROVIDER_LABELS else "local"
        thinking = request.POST.get("thinking", "")
        thinking = thinking if thinking in ("auto", "on", "off") else "auto"
        try:
            started = ticket_retriage(
                ticket_id=ticket.id, user=request.user, provider=provider, thinking=thinking
            )
        except ProviderUnavailable as exc:
            messages.error(request, f"Triage not started: {exc}.")
        else:
            if started:
                how = (
                    f"Kimi, thinking {thinking}" if provider == "kimi" else PROVIDER_LABELS[provider].lower()
                )
                messages.success(request, f"Triage of {ticket.reference} started again ({how}).")
            else:
                messages.error(request, "The ticket is still being processed.")
    else:
        messages.error(request, "Unknown action.")
    return redirect("triage:ticket-detail", ticket_id=ticket.id)
