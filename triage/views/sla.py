"""The managers' SLA page: targets per priority (and queue), and the weekly business hours."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from triage import selectors
from triage.models import BusinessHours, SlaPolicy
from triage.roles import manager_required
from triage.services.sla import (
    SlaPolicyError,
    sla_business_hours_save,
    sla_policy_delete,
    sla_policy_save,
)
from triage.sla_forms import BusinessHoursForm, SlaPolicyForm, duration_text
from triage.views import AuthedRequest
from triage.views.params import id_param


def _policy_form(data=None, *, initial=None) -> SlaPolicyForm:
    return SlaPolicyForm(
        data,
        initial=initial,
        priorities=selectors.taxonomy_choices(field="priority"),
        queues=selectors.taxonomy_choices(field="queue"),
    )


def _hours_form(data=None) -> BusinessHoursForm:
    row = BusinessHours.objects.filter(id=1).first() or BusinessHours()
    initial = {"timezone": row.timezone, "weekdays": list(row.weekdays), "start": row.start, "end": row.end}
    return BusinessHoursForm(data, initial=initial)


def _page(
    request: AuthedRequest,
    *,
    form: SlaPolicyForm | None = None,
    hours_form: BusinessHoursForm | None = None,
    editing: SlaPolicy | None = None,
    status: int = 200,
) -> HttpResponse:
    labels = selectors.taxonomy_labels()
    policies = [
        {
            "policy": p,
            "priority": labels["priority"].get(p.priority, p.priority) if p.priority else "Any priority",
            "queue": labels["queue"].get(p.queue, p.queue) if p.queue else "Any queue",
            "first": duration_text(p.first_decision_minutes) or "—",
            "resolve": duration_text(p.resolution_minutes) or "—",
        }
        for p in SlaPolicy.objects.all()
    ]
    if form is None and editing is not None:
        form = _policy_form(
            initial={
                "priority": editing.priority,
                "queue": editing.queue,
                "first_decision": duration_text(editing.first_decision_minutes),
                "resolution": duration_text(editing.resolution_minutes),
                "business_hours": editing.business_hours,
            }
        )
    context = {
        "policies": policies,
        "form": form or _policy_form(),
        "hours_form": hours_form or _hours_form(),
        "editing": editing,
    }
    return render(request, "triage/sla/policies.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@manager_required
def sla_policies(request: AuthedRequest) -> HttpResponse:
    if request.method != "POST":
        edit_id = id_param(request.GET.get("edit", ""))
        editing = SlaPolicy.objects.filter(id=edit_id).first() if edit_id is not None else None
        return _page(request, editing=editing)
    action = request.POST.get("action")
    policy_id = id_param(request.POST.get("policy", ""))
    if action == "delete" and policy_id is not None:
        sla_policy_delete(policy_id=policy_id)
        messages.success(request, "Policy deleted; open tickets' due times recomputed.")
        return redirect("triage:sla")
    if action == "hours":
        hours_form = _hours_form(request.POST)
        if not hours_form.is_valid():
            return _page(request, hours_form=hours_form, status=400)
        cd = hours_form.cleaned_data
        sla_business_hours_save(
            tz=cd["timezone"], weekdays=[int(d) for d in cd["weekdays"]], start=cd["start"], end=cd["end"]
        )
        messages.success(request, "Business hours saved; open tickets' due times recomputed.")
        return redirect("triage:sla")
    if action != "save":
        messages.error(request, "Choose an action.")
        return redirect("triage:sla")
    editing = SlaPolicy.objects.filter(id=policy_id).first() if policy_id is not None else None
    form = _policy_form(request.POST)
    if form.is_valid():
        cd = form.cleaned_data
        try:
            sla_policy_save(
                policy_id=editing.id if editing else None,
                priority=cd["priority"],
                queue=cd["queue"],
                first_decision_minutes=cd["first_decision"],
                resolution_minutes=cd["resolution"],
                business_hours=cd["business_hours"],
            )
        except SlaPolicyError as e:
            form.add_error(None, str(e))
        else:
            messages.success(request, "Policy saved; open tickets' due times recomputed.")
            return redirect("triage:sla")
    return _page(request, form=form, editing=editing, status=400)
