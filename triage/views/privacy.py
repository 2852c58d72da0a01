"""The administrators' privacy page: retention in force, a requester's erasure and data export.

The export is built in the request, not by a worker: one requester's tickets are a handful of
rows and files, and a zip made on demand and streamed from a temporary file is never stored, so it
needs no expiry of its own and no later erasure (a stored copy of someone's data is one more
place their data would live). Memory stays bounded: the zip spills to disk past a few MB.
The address travels in a POST body only, never in a URL (URLs end up in access logs).
"""

from __future__ import annotations

import tempfile

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from triage.models import ErasureRecord, RetentionRun
from triage.privacy_forms import RequesterForm
from triage.roles import admin_required
from triage.services.retention import requester_erase, requester_export, requester_hash, requester_plan
from triage.views import AuthedRequest

_SPOOL_BYTES = 8 * 1024 * 1024


def _page(
    request: AuthedRequest,
    *,
    form: RequesterForm,
    plan: object = None,
    erased: bool = False,
    status: int = 200,
) -> HttpResponse:
    context = {
        "form": form,
        "plan": plan,
        "erased": erased,
        "media_days": settings.TRIAGE_RETAIN_MEDIA_DAYS,
        "mail_days": settings.TRIAGE_RETAIN_MAIL_DAYS,
        "erasures": ErasureRecord.objects.select_related("by")[:20],
        "retention_runs": RetentionRun.objects.all()[:10],
    }
    return render(request, "triage/privacy.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@admin_required
def privacy_page(request: AuthedRequest) -> HttpResponse | FileResponse:
    if request.method != "POST":
        return _page(request, form=RequesterForm())
    action = request.POST.get("action", "preview")
    form = RequesterForm(request.POST, action=action)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    email = form.cleaned_data["email"]
    if action == "export":
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 (FileResponse closes it)
        requester_export(email=email, out=spool)
        spool.seek(0)
        name = f"requester-{requester_hash(email)[:12]}.zip"
        return FileResponse(spool, as_attachment=True, filename=name, content_type="application/zip")
    if action == "erase":
        plan = requester_erase(email=email, by=request.user, via="page")
        messages.success(
            request,
            f"Erased: {plan.tickets} tickets, {plan.attachments} attachments, {plan.mails} mails, "
            f"{plan.exports} report exports, {plan.files} files.",
        )
        return _page(request, form=RequesterForm(), plan=plan, erased=True)
    return _page(request, form=RequesterForm(initial={"email": email}), plan=requester_plan(email=email))
