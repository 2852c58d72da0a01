"""Hand-off: the managers' integrations page, Retry on the ticket page, the services' webhooks."""

from __future__ import annotations

import json
import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from triage import selectors
from triage.integration_forms import DestinationForm, RoutingRuleForm
from triage.models import Destination, Handoff, RoutingRule, Ticket
from triage.roles import agent_required, manager_required
from triage.services.handoff import (
    DestinationInvalid,
    SyncRefused,
    destination_save,
    handoff_retry,
    handoff_sync,
)
from triage.views import AuthedRequest

logger = logging.getLogger(__name__)
MAX_HOOK_BYTES = 1024 * 1024


def _choices() -> dict[str, list[tuple[str, str]]]:
    return {name: selectors.taxonomy_choices(field=name) for name in ("queue", "category", "priority")}


def _page(
    request: AuthedRequest,
    *,
    destination_form: DestinationForm | None = None,
    rule_form: RoutingRuleForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "destinations": Destination.objects.all(),
        "rules": RoutingRule.objects.prefetch_related("destinations"),
        "destination_form": destination_form or DestinationForm(),
        "rule_form": rule_form or RoutingRuleForm(choices=_choices()),
        "failed": Handoff.objects.filter(status=Handoff.Status.FAILED).select_related(
            "ticket", "destination"
        )[:20],
    }
    return render(request, "triage/integrations.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@manager_required
def integrations_page(request: AuthedRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request)
    if request.POST.get("form") == "rule":
        rule_form = RoutingRuleForm(request.POST, choices=_choices())
        if not rule_form.is_valid():
            return _page(request, rule_form=rule_form, status=400)
        data = dict(rule_form.cleaned_data)
        destinations = data.pop("destinations")
        with transaction.atomic():
            rule = RoutingRule.objects.create(**data)
            rule.destinations.set(destinations)
        messages.success(request, f"Rule “{rule.name}” saved.")
        return redirect("triage:integrations")
    form = DestinationForm(request.POST)
    if not form.is_valid():
        return _page(request, destination_form=form, status=400)
    try:
        destination = destination_save(destination_id=None, **form.cleaned_data)
    except DestinationInvalid as exc:
        form.add_error(None, str(exc))
        return _page(request, destination_form=form, status=400)
    messages.success(request, f"Destination “{destination.name}” saved.")
    return redirect("triage:integrations")


@require_http_methods(["GET", "HEAD", "POST"])
@manager_required
def destination_edit(request: AuthedRequest, destination_id: int) -> HttpResponse:
    """Change a destination; an empty token or secret keeps the stored one (never shown)."""
    row = get_object_or_404(Destination, id=destination_id)
    if request.method == "POST":
        form = DestinationForm(request.POST)
        if form.is_valid():
            try:
                destination_save(destination_id=row.id, **form.cleaned_data)
            except DestinationInvalid as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Destination “{form.cleaned_data['name']}” saved.")
                return redirect("triage:integrations")
        status = 400
    else:
        form = DestinationForm(
            initial={
                "kind": row.kind,
                "name": row.name,
                "base_url": row.base_url,
                "project": row.project,
                "account": row.account,
                "secret_env": row.secret_env,
                "is_active": row.is_active,
                "options": json.dumps(row.options, indent=1) if row.options else "",
            }
        )
        status = 200
    context = {"destination": row, "form": form}
    return render(request, "triage/integrations_destination.html", context, status=status)


@require_POST
@manager_required
def routing_rule_edit(request: AuthedRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(RoutingRule, id=rule_id)
    action = request.POST.get("action", "")
    if action == "delete":
        rule.delete()
        messages.success(request, f"Rule “{rule.name}” deleted.")
    elif action in ("disable", "enable"):
        rule.is_active = action == "enable"
        rule.save(update_fields=["is_active"])
        messages.success(request, f"Rule “{rule.name}” {'enabled' if rule.is_active else 'disabled'}.")
    else:
        messages.error(request, "Choose delete, disable or enable.")
    return redirect("triage:integrations")


@require_POST
@agent_required
def handoff_retry_view(request: AuthedRequest, ticket_id: int, handoff_id: int) -> HttpResponse:
    ticket = get_object_or_404(Ticket, id=ticket_id)
    if handoff_retry(handoff_id=handoff_id, ticket_id=ticket.id):
        messages.success(request, "Sending the hand-off again.")
    else:
        messages.info(request, "That hand-off is not failed: nothing to retry.")
    return redirect("triage:ticket-detail", ticket_id=ticket.id)


def _hook(kind: str):  # noqa: ANN202 - a view factory
    @csrf_exempt
    @login_not_required
    @require_POST
    def view(request: HttpRequest) -> HttpResponse:
        body = request.body[: MAX_HOOK_BYTES + 1]
        if len(body) > MAX_HOOK_BYTES:
            return JsonResponse({"detail": "body too large"}, status=413)
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = None
        try:
            outcome = handoff_sync(
                kind=kind,
                body=body,
                headers=request.headers,
                payload=payload if isinstance(payload, dict) else {},
            )
        except SyncRefused:
            return JsonResponse({"detail": "signature does not match"}, status=401)
        return JsonResponse({"result": outcome})

    view.__name__ = f"{kind}_hook"
    return view


github_hook = _hook(Destination.Kind.GITHUB)
jira_hook = _hook(Destination.Kind.JIRA)
zendesk_hook = _hook(Destination.Kind.ZENDESK)
