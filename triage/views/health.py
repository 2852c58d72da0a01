"""The offline model's health page, for managers: versions, held-out scores, reliability tables."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from triage.fields import CLASSIFIED_FIELDS, TAXONOMY_FIELDS
from triage.models import REVIEWED_STATES, ClassifierVersion, RenditionText, Ticket
from triage.roles import manager_required
from triage.selectors.calibration import auto_accept_levels, classifier_active, retrain_refusal

# the calibrated confidence's goal: expected calibration error per field, on held-out reviews
ECE_GOAL = 0.05


@require_http_methods(["GET", "HEAD", "POST"])
@manager_required
def model_health(request: HttpRequest) -> HttpResponse:
    reviewed = Ticket.objects.filter(status__in=REVIEWED_STATES).count()
    refusal = retrain_refusal(reviewed=reviewed)
    if request.method == "POST":
        from triage.tasks import classifier_train_task

        if refusal:  # queueing it would only promise a version that never comes
            messages.info(request, refusal)
            return redirect("triage:model-health")
        classifier_train_task.delay_on_commit(force=True)
        messages.success(request, "Retraining was queued; the new version appears here when it is done.")
        return redirect("triage:model-health")
    versions = list(ClassifierVersion.objects.order_by("-created_at", "-id")[:10])
    active = classifier_active()  # the version served: trained first, else day one
    fields = []
    if active is not None and active.kind == ClassifierVersion.Kind.TRAINED:
        heldout = active.metrics.get("heldout", {})
        reliability = active.metrics.get("reliability", {})
        calibrated = active.metrics.get("calibrated", {})
        low_below = active.metrics.get("low_below", {})
        for name in TAXONOMY_FIELDS:
            fields.append(
                {
                    "name": name,
                    "heldout": heldout.get(name),
                    "reliability": reliability.get(name, []),
                    "calibrated": calibrated.get(name, False),
                    "low_below": low_below.get(name),
                }
            )
    levels = auto_accept_levels()
    context = {
        "auto_accept_target": settings.TRIAGE_AUTO_ACCEPT_ACCURACY,
        "ece_goal": ECE_GOAL,
        "auto_accept_levels": levels,
        "auto_accept_missing": [name for name in CLASSIFIED_FIELDS if name not in levels] if levels else [],
        "active": active,
        "dayone_min_tickets": settings.TRIAGE_DAYONE_MIN_TICKETS,
        "versions": versions,
        "fields": fields,
        "reviewed": reviewed,
        "ocr_count": RenditionText.objects.count(),
        "retrain_refusal": refusal,
    }
    return render(request, "triage/model_health.html", context)
