"""The forms of the SLA page (views/sla.py): a policy, and the weekly business hours."""

from __future__ import annotations

import re
from collections.abc import Sequence
from zoneinfo import available_timezones

from django import forms

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d)?\s*$", re.IGNORECASE)
_UNIT_MINUTES = {"m": 1, "min": 1, "h": 60, "d": 24 * 60}
WEEKDAYS = [(str(i), name) for i, name in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))]


def duration_minutes(text: str) -> int | None:
    """ "90", "90m", "4h", "1.5h", "2d" -> minutes; blank -> None; anything else raises."""
    if not text.strip():
        return None
    match = _DURATION.match(text)
    if not match:
        raise forms.ValidationError("Write a duration like 30m, 4h or 2d.")
    minutes = round(float(match[1]) * _UNIT_MINUTES[(match[2] or "m").lower()])
    if not 1 <= minutes <= 366 * 24 * 60:
        raise forms.ValidationError("Between one minute and a year.")
    return minutes


def duration_text(minutes: int | None) -> str:
    if minutes is None:
        return ""
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


class DurationField(forms.CharField):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 12)
        super().__init__(**kwargs)

    def clean(self, value):
        return duration_minutes(super().clean(value) or "")


class SlaPolicyForm(forms.Form):
    priority = forms.ChoiceField(required=False, label="Priority")
    queue = forms.ChoiceField(required=False, label="Queue")
    first_decision = DurationField(
        label="Time to first decision", help_text="e.g. 30m, 4h, 1d; blank: no target"
    )
    resolution = DurationField(label="Time to resolution", help_text="e.g. 8h, 3d; blank: no target")
    business_hours = forms.BooleanField(required=False, label="Count business hours only")

    def __init__(
        self,
        *args,
        priorities: Sequence[tuple[str, str]],
        queues: Sequence[tuple[str, str]],
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["priority"].choices = [("", "Any priority"), *priorities]  # type: ignore[attr-defined]
        self.fields["queue"].choices = [("", "Any queue"), *queues]  # type: ignore[attr-defined]


class BusinessHoursForm(forms.Form):
    timezone = forms.CharField(max_length=64, label="Time zone", help_text="e.g. Europe/Paris, UTC")
    weekdays = forms.MultipleChoiceField(
        choices=WEEKDAYS, widget=forms.CheckboxSelectMultiple, label="Working days", required=False
    )
    start = forms.TimeField(label="Opens at", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    end = forms.TimeField(label="Closes at", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))

    def clean_timezone(self) -> str:
        tz = self.cleaned_data["timezone"].strip()
        if tz != "UTC" and tz not in available_timezones():
            raise forms.ValidationError("Not a time zone name (IANA, like Europe/Paris).")
        return tz

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["start"] >= data["end"]:
            raise forms.ValidationError("Business hours must end after they start.")
        return data
