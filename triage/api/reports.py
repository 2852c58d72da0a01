"""Taxonomy (read) and report exports (start, poll, download): the export job's own services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.files.storage import default_storage
from django.http import FileResponse
from django.urls import reverse
from django.utils import timezone
from ninja import Router, Schema, Status
from pydantic import ConfigDict, create_model

from triage import selectors
from triage.api.auth import ApiRequest, TokenAuth, role_check
from triage.api.problems import Problem, invalid, not_found
from triage.fields import TAXONOMY_FIELDS
from triage.forms import ReportFilterForm
from triage.models import ReportExport, Ticket
from triage.roles import Role
from triage.selectors.reports import ReportFilters
from triage.services import reports

router = Router(tags=["taxonomy"])
exports = Router(tags=["reports"], auth=TokenAuth(Role.MANAGER))


class TaxonomyValueOut(Schema):
    value: str
    label: str
    description: str


# one list of values per taxonomy field (triage/fields.py), in its declared order
_TAXONOMY_LISTS: dict[str, Any] = dict.fromkeys(TAXONOMY_FIELDS, (list[TaxonomyValueOut], ...))
TaxonomyOut = create_model("TaxonomyOut", __base__=Schema, **_TAXONOMY_LISTS)


class ExportIn(Schema):
    model_config = ConfigDict(extra="forbid")

    format: ReportExport.Format = ReportExport.Format.CSV
    date_from: str = ""
    date_to: str = ""
    queue: str = ""
    channel: str = ""
    category: str = ""


class ExportOut(Schema):
    id: int
    status: str
    format: str
    filters: dict[str, str]
    total_rows: int
    done_rows: int
    percent: int
    error_message: str
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    download_url: str | None


@router.get("/taxonomy", response=TaxonomyOut, url_name="taxonomy_get", summary="Taxonomy")
def taxonomy_get(request: ApiRequest):
    """The active values of each classified field, lowest priority first."""
    role_check(request, Role.AGENT)
    t = selectors.taxonomy_get()

    def rows(entries):
        return [{"value": e.value, "label": e.label, "description": e.description} for e in entries]

    return {name: rows(t.entries(name)) for name in TAXONOMY_FIELDS}


def _export_out(export: ReportExport) -> dict:
    ready = export.status == ReportExport.Status.DONE and not (
        export.expires_at and export.expires_at <= timezone.now()
    )
    return {
        "id": export.id,
        "status": export.status,
        "format": export.format,
        "filters": export.filters,
        "total_rows": export.total_rows,
        "done_rows": export.done_rows,
        "percent": export.percent,
        "error_message": export.error_message,
        "created_at": export.created_at,
        "finished_at": export.finished_at,
        "expires_at": export.expires_at,
        "download_url": reverse("api:export_download", kwargs={"export_id": export.id}) if ready else None,
    }


def _own_export(request: ApiRequest, export_id: int) -> ReportExport:
    export = ReportExport.objects.filter(id=export_id, requested_by=request.user).first()
    if export is None:
        raise not_found(f"There is no export {export_id} of yours.")
    return export


@exports.post("/exports", response={202: ExportOut}, url_name="export_create", summary="Start an export")
def export_create(request: ApiRequest, body: ExportIn):
    """Always a background job (the export worker); poll GET /exports/{id}, then download."""
    role_check(request, Role.MANAGER)
    choices = {
        "queue": selectors.taxonomy_choices(field="queue"),
        "category": selectors.taxonomy_choices(field="category"),
        "channel": Ticket.Channel.choices,
    }
    form = ReportFilterForm(body.model_dump(exclude={"format"}), choices=choices)
    if not form.is_valid():
        errors = [{"loc": ["body", n], "msg": " ".join(str(x) for x in m)} for n, m in form.errors.items()]
        raise invalid("Some filters are not valid: see `errors`.", errors)
    cd = form.cleaned_data
    filters = ReportFilters(
        date_from=cd["date_from"],
        date_to=cd["date_to"],
        queue=cd["queue"],
        channel=cd["channel"],
        category=cd["category"],
    )
    export = reports.report_export_create(user=request.user, filters=filters, fmt=body.format)
    return Status(202, _export_out(export))


@exports.get("/exports/{export_id}", response=ExportOut, url_name="export_get", summary="Poll an export")
def export_get(request: ApiRequest, export_id: int):
    role_check(request, Role.MANAGER)
    return _export_out(_own_export(request, export_id))


@exports.get("/exports/{export_id}/download", url_name="export_download", summary="Download an export")
def export_download(request: ApiRequest, export_id: int):
    role_check(request, Role.MANAGER)
    export = _own_export(request, export_id)
    out = _export_out(export)
    if out["download_url"] is None:
        raise Problem(
            status=409,
            slug="export-not-ready",
            title="Export not ready",
            detail=f"This export is {export.get_status_display().lower()}; poll it until it is ready.",
        )
    content_type = "text/csv; charset=utf-8" if export.format == "csv" else reports.XLSX_CONTENT_TYPE
    return FileResponse(
        default_storage.open(export.file.name, "rb"),
        as_attachment=True,
        filename=f"triage-export-{export.id}.{export.format}",
        content_type=content_type,
    )
