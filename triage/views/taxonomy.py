"""The managers' taxonomy editor: list every value, add one, rename or (de)activate it, edit its
description and example phrases (what the offline model and the Kimi prompt are built from).

Values are never deleted (tickets keep their slugs); each change is recorded with who and when.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from triage.forms import TaxonomyAddForm, TaxonomyRenameForm
from triage.models import TaxonomyChange, TaxonomyField, TaxonomyValue
from triage.roles import manager_required
from triage.services.taxonomy import (
    TaxonomyEditError,
    taxonomy_value_add,
    taxonomy_value_describe,
    taxonomy_value_rename,
    taxonomy_value_set_active,
)
from triage.views import AuthedRequest


class TaxonomyDescribeForm(forms.Form):
    description = forms.CharField(max_length=2000, required=False, strip=True)
    examples = forms.CharField(max_length=8000, required=False)


def _page(request: AuthedRequest, *, add_form: TaxonomyAddForm, status: int = 200) -> HttpResponse:
    rows = TaxonomyValue.objects.order_by("field", "position", "value")
    fields = [
        {"name": field.value, "label": field.label, "values": [r for r in rows if r.field == field.value]}
        for field in TaxonomyField
    ]
    changes = TaxonomyChange.objects.select_related("taxonomy_value", "changed_by")[:30]
    context = {"fields": fields, "add_form": add_form, "changes": changes}
    return render(request, "triage/taxonomy.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@manager_required
def taxonomy_editor(request: AuthedRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request, add_form=TaxonomyAddForm())
    form = TaxonomyAddForm(request.POST)
    if not form.is_valid():
        return _page(request, add_form=form, status=400)
    try:
        row = taxonomy_value_add(**form.cleaned_data, user=request.user)
    except TaxonomyEditError as exc:
        form.add_error(None, str(exc))
        return _page(request, add_form=form, status=400)
    messages.success(request, f"Added {row.get_field_display().lower()} “{row.label}”.")
    return redirect("triage:taxonomy")


@require_POST
@manager_required
def taxonomy_value_edit(request: AuthedRequest, value_id: int) -> HttpResponse:
    row = get_object_or_404(TaxonomyValue, id=value_id)
    action = request.POST.get("action", "")
    try:
        if action == "rename":
            form = TaxonomyRenameForm(request.POST)
            if not form.is_valid():
                raise TaxonomyEditError("A label is 1 to 120 characters.")
            row = taxonomy_value_rename(value_id=row.id, label=form.cleaned_data["label"], user=request.user)
            messages.success(request, f"Renamed to “{row.label}”.")
        elif action == "describe":
            describe = TaxonomyDescribeForm(request.POST)
            if not describe.is_valid():
                raise TaxonomyEditError("A description is at most 2,000 characters, the examples 8,000.")
            row = taxonomy_value_describe(value_id=row.id, **describe.cleaned_data, user=request.user)
            messages.success(request, f"Saved the description and examples of “{row.label}”.")
        elif action in ("deactivate", "reactivate"):
            active = action == "reactivate"
            row = taxonomy_value_set_active(value_id=row.id, active=active, user=request.user)
            messages.success(request, f"“{row.label}” is {'active' if active else 'no longer offered'}.")
        else:
            raise TaxonomyEditError(f"Unknown action {action!r}.")
    except TaxonomyEditError as exc:
        messages.error(request, str(exc))
    return redirect("triage:taxonomy")
