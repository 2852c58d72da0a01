"""The queue's active filters as removable chips: each one links to the same URL without that filter."""

from __future__ import annotations

from typing import Any

from django import forms, template

register = template.Library()

SKIPPED = frozenset({"sort"})  # an order, not a filter


@register.inclusion_tag("triage/partials/_filter_chips.html", takes_context=True)
def filter_chips(context, form: forms.Form) -> dict[str, Any]:
    params = context["request"].GET
    valid = form.cleaned_or_empty() if hasattr(form, "cleaned_or_empty") else {}
    chips = []
    for field in form:
        raw = params.get(field.name, "").strip()
        if (
            field.name in SKIPPED
            or not raw
            or field.name not in valid
            or valid[field.name] in (None, "", False)
        ):
            continue
        choices = getattr(field.field, "choices", None)
        shown = dict((str(key), label) for key, label in choices).get(raw, raw) if choices else raw
        if isinstance(field.field, forms.BooleanField):
            shown = ""
        rest = params.copy()
        rest.pop(field.name, None)
        rest.pop("page", None)
        chips.append(
            {"name": field.name, "label": field.label, "value": shown, "url": f"?{rest.urlencode()}"}
        )
    return {"chips": chips}
