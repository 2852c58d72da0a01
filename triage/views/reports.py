"""Manager reports: the dashboard (which also serves the export fragments), exports, downloads."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from triage import selectors
from triage.adapters import charts
from triage.forms import ReportFilterForm
from triage.models import ReportExport, Ticket
from triage.roles import manager_required
from triage.selectors.reports import Dashboard, ReportFilters
from triage.selectors.sla import sla_report
from triage.services import reports
from triage.services.report_rollups import report_dashboard_current
from triage.templatetags.report_tags import duration
from triage.views import AuthedRequest

DEFAULT_DAYS = 28
TEMPLATE = "triage/reports/dashboard.html"


def _filter_form(request: AuthedRequest) -> tuple[ReportFilterForm, ReportFilters]:
    choices = {
        "queue": selectors.taxonomy_choices(field="queue"),
        "category": selectors.taxonomy_choices(field="category"),
        "channel": Ticket.Channel.choices,
    }
    data: Mapping[str, object] = request.GET if request.method == "GET" else request.POST
    today = timezone.localdate()
    default = ReportFilters(date_from=today - timedelta(days=DEFAULT_DAYS - 1), date_to=today)
    if not any(data.get(k) for k in ("date_from", "date_to", "queue", "channel", "category")):
        data = default.as_dict()
    form = ReportFilterForm(data, choices=choices)
    if not form.is_valid():
        return form, default  # the errors show above the default range, never all time by mistake
    cd = form.cleaned_data
    return form, ReportFilters(
        date_from=cd["date_from"],
        date_to=cd["date_to"],
        queue=cd["queue"],
        channel=cd["channel"],
        category=cd["category"],
    )


def _day(d: date) -> str:
    return d.strftime("%m-%d")


# most urgent to least, as the queue colours them (red, orange, then calm); no priority: grey
SEVERITY = ("#dc2626", "#ea580c", "#2563eb", "#64748b")
NO_PRIORITY = "#cbd5e1"


def _priority_colors(ordered: list[str], *, ranks: Mapping[str, int]) -> list[str]:
    """One colour per priority in the mix's order: each taxonomy value's by its rank among all
    of them (not among those in the range: a range with only Normal and Low tickets still shows
    Normal calm), spread over SEVERITY from red (the highest rank) to slate; "(none)" grey."""
    top = max(max(ranks.values(), default=0), 1)
    step = (len(SEVERITY) - 1) / top
    shade = {p: SEVERITY[min(round((top - rank) * step), len(SEVERITY) - 1)] for p, rank in ranks.items()}
    return [shade.get(p, NO_PRIORITY) for p in ordered]


def _charts(d: Dashboard, labels: dict[str, dict[str, str]]) -> dict[str, Any]:
    days = d.days
    x = [_day(day) for day in days]
    category_label = labels.get("category", {})
    cat_series = [
        (category_label.get(c, c), [v.get(day, 0) for day in days]) for c, v in d.volume_by_category.items()
    ]
    channel_label = dict(Ticket.Channel.choices)
    chan_series = [
        (channel_label.get(c, c), [v.get(day, 0) for day in days]) for c, v in d.volume_by_channel.items()
    ]
    rate = [
        (
            "accepted as proposed",
            [
                round(100 * r["accepted"] / (r["accepted"] + r["corrected"]), 1)
                if (r := d.review_by_day.get(day)) and (r["accepted"] + r["corrected"])
                else None
                for day in days
            ],
        )
    ]
    fields = list(d.review_by_field)
    cost_series = [("cost (USD)", [d.cost_by_day.get(day, {}).get("cost", 0.0) for day in days])]
    tokens_series = [
        (name, [d.cost_by_day.get(day, {}).get(key, 0) for day in days])
        for name, key in (("prompt", "prompt"), ("completion", "completion"))
    ]
    problems = [
        ("failed model runs", [d.failures_by_day.get(day, 0) for day in days]),
        ("manual triage", [d.manual_by_day.get(day, 0) for day in days]),
    ]
    # seconds, written as the table writes them (14s, 1m 25s); an interval with nothing measured
    # yet has no bar (a 0 would read as instant) and is a dash in the table below
    timing = [
        (f"{name}, {stat}", float(seconds))
        for key, name in (
            ("arrival_to_triaged", "Arrival → triaged"),
            ("triaged_to_reviewed", "Triaged → reviewed"),
        )
        for stat in ("median", "p90")
        if (seconds := d.durations[key][stat]) is not None
    ]
    finals = sorted({f for row in d.category_matrix.values() for f in row})
    cell_max = max((n for row in d.category_matrix.values() for n in row.values()), default=1)
    return {
        "volume_category": charts.responsive(
            charts.stacked_bars_svg, label="Tickets per day by category", x_labels=x, series=cat_series
        ),
        "category_legend": [(name, charts.color(i)) for i, (name, _) in enumerate(cat_series)],
        "volume_channel": charts.responsive(
            charts.stacked_bars_svg, label="Tickets per day by channel", x_labels=x, series=chan_series
        ),
        "channel_legend": [(name, charts.color(i)) for i, (name, _) in enumerate(chan_series)],
        "priority": charts.responsive(
            charts.hbars_svg,
            label="Priority mix",
            items=[(labels.get("priority", {}).get(p, p), n) for p, n in d.priority_mix],
            colors=_priority_colors([p for p, _ in d.priority_mix], ranks=d.priority_ranks),
        ),
        "timing": charts.responsive(
            charts.hbars_svg,
            label="Time to triage and to review, median and p90",
            items=timing,
            value_text=duration,
        ),
        "review_fields": charts.responsive(
            charts.stacked_bars_svg,
            label="Accepted vs corrected per field",
            x_labels=fields,
            series=[
                ("accepted", [d.review_by_field[f]["accepted"] for f in fields]),
                ("corrected", [d.review_by_field[f]["corrected"] for f in fields]),
            ],
            width=480,
            names=True,
        ),
        "review_rate": charts.responsive(
            charts.lines_svg,
            label="Share of fields accepted as proposed, per day",
            x_labels=x,
            series=rate,
            y_max=100,
            suffix="%",
        ),
        "cost": charts.responsive(
            charts.stacked_bars_svg, label="Cost per day (USD)", x_labels=x, series=cost_series
        ),
        "tokens": charts.responsive(
            charts.stacked_bars_svg, label="Tokens per day", x_labels=x, series=tokens_series
        ),
        "problems": charts.responsive(
            charts.stacked_bars_svg, label="Failures and manual triage per day", x_labels=x, series=problems
        ),
        "matrix_finals": finals,
        "matrix_rows": [
            (p, [(row.get(f, 0), round(0.15 + 0.85 * row.get(f, 0) / cell_max, 2)) for f in finals])
            for p, row in d.category_matrix.items()
        ],
    }


@require_safe
@manager_required
def reports_dashboard(request: AuthedRequest) -> HttpResponse:
    form, filters = _filter_form(request)
    dashboard = report_dashboard_current(filters=filters)
    labels = selectors.taxonomy_labels()
    context = {
        "form": form,
        "filters": filters,
        "query": filters.as_dict(),
        "d": dashboard,
        "labels": labels,
        "charts": _charts(dashboard, labels),
        "sla": sla_report(filters=filters),
        "exports": ReportExport.objects.filter(requested_by=request.user)[:5],
        "sync_max": settings.TRIAGE_REPORT_SYNC_MAX_ROWS,
        "poll_s": settings.TRIAGE_POLL_INTERVAL_S,
    }
    return render(request, TEMPLATE, context)


def _filename(filters: ReportFilters, fmt: str) -> str:
    span = f"{filters.date_from or 'start'}-to-{filters.date_to or 'now'}"
    return f"triage-tickets-{span}.{fmt}"


@require_POST
@manager_required
def report_export(request: AuthedRequest) -> HttpResponseBase:
    """Small exports download at once; large ones become a background job shown on the page."""
    form, filters = _filter_form(request)
    fmt = request.POST.get("format", "csv")
    if fmt not in ReportExport.Format.values or not form.is_valid():
        return HttpResponse("Bad export request", status=400)
    if reports.report_export_is_large(filters=filters):
        reports.report_export_create(user=request.user, filters=filters, fmt=fmt)
        return redirect(f"{reverse('triage:reports')}?{urlencode(filters.as_dict())}")
    name = _filename(filters, fmt)
    if fmt == ReportExport.Format.CSV:
        response = StreamingHttpResponse(
            reports.report_csv_stream(filters=filters), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    # a spooled temporary file: small workbooks stay in memory, larger ones go to disk
    tmp = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, prefix="triage-xlsx-")  # noqa: SIM115
    reports.report_xlsx_write(filters=filters, path=tmp)
    tmp.seek(0)
    return FileResponse(tmp, as_attachment=True, filename=name, content_type=reports.XLSX_CONTENT_TYPE)


@require_safe
@manager_required
def report_export_status(request: AuthedRequest, export_id: int) -> HttpResponse:
    export = get_object_or_404(ReportExport, id=export_id, requested_by=request.user)
    return render(
        request, f"{TEMPLATE}#export-row", {"export": export, "poll_s": settings.TRIAGE_POLL_INTERVAL_S}
    )


@require_safe
@manager_required
def report_export_download(request: AuthedRequest, export_id: int) -> HttpResponseBase:
    export = get_object_or_404(ReportExport, id=export_id, requested_by=request.user)
    if export.status != ReportExport.Status.DONE or (
        export.expires_at and export.expires_at <= timezone.now()
    ):
        raise Http404("This export is not ready or has expired.")
    content_type = "text/csv; charset=utf-8" if export.format == "csv" else reports.XLSX_CONTENT_TYPE
    return FileResponse(
        default_storage.open(export.file.name, "rb"),
        as_attachment=True,
        filename=_filename(ReportFilters.from_dict(export.filters), export.format),
        content_type=content_type,
    )
