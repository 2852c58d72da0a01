"""The managers' integrations page: a destination and a routing rule."""

from __future__ import annotations

import json

from django import forms

from triage.models import Destination, RoutingRule, Ticket


class DestinationForm(forms.Form):
    kind = forms.ChoiceField(choices=Destination.Kind.choices)
    name = forms.CharField(max_length=100)
    base_url = forms.URLField(
        max_length=500, required=False, assume_scheme="https", label="Service URL",
        help_text="Jira: https://your-site.atlassian.net · GitHub: https://api.github.com · "
        "Zendesk: https://your-subdomain.zendesk.com · Slack: leave empty",
    )  # fmt: skip
    project = forms.CharField(
        max_length=200, required=False, help_text="Jira project key, GitHub owner/repo, Zendesk group id"
    )
    account = forms.CharField(max_length=254, required=False, help_text="Jira or Zendesk user email")
    secret = forms.CharField(
        max_length=500, required=False, widget=forms.PasswordInput(render_value=False),
        label="API token (Slack: the incoming-webhook URL)", help_text="Stored encrypted; never shown again.",
    )  # fmt: skip
    secret_env = forms.CharField(
        max_length=100, required=False, label="…or an environment variable",
        help_text="TRIAGE_DEST_… holding the token instead",
    )  # fmt: skip
    sync_secret = forms.CharField(
        max_length=500, required=False, widget=forms.PasswordInput(render_value=False),
        label="Webhook secret (status back-sync)",
    )  # fmt: skip
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    options = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Field mappings (JSON)",
        help_text='e.g. {"issue_type": "Bug", "priority_map": {"urgent": "Highest", "high": "High"}}',
    )  # fmt: skip

    def clean_options(self) -> dict:
        text = self.cleaned_data.get("options", "").strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Not JSON: {exc}") from None
        if not isinstance(value, dict):
            raise forms.ValidationError('A JSON object, e.g. {"issue_type": "Bug"}.')
        return value


class RoutingRuleForm(forms.Form):
    name = forms.CharField(max_length=120)
    position = forms.IntegerField(min_value=0, max_value=10_000, initial=0)
    queue = forms.ChoiceField(required=False)
    category = forms.ChoiceField(required=False)
    min_priority = forms.ChoiceField(required=False, label="Priority at least")
    language = forms.CharField(max_length=16, required=False)
    channel = forms.ChoiceField(required=False, choices=[("", "any"), *Ticket.Channel.choices])
    min_confidence = forms.FloatField(
        required=False, min_value=0.0, max_value=1.0, label="Confidence at least"
    )
    on_auto_accept = forms.BooleanField(required=False, label="Also when auto-accepted")
    stop = forms.BooleanField(required=False, label="Stop after this rule")
    destinations = forms.ModelMultipleChoiceField(
        queryset=Destination.objects.none(), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: object, choices: dict[str, list[tuple[str, str]]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for name, field in (("queue", "queue"), ("category", "category"), ("min_priority", "priority")):
            self.fields[name].choices = [("", "any"), *choices.get(field, [])]  # type: ignore[attr-defined]
        self.fields["destinations"].queryset = Destination.objects.filter(is_active=True)  # type: ignore[attr-defined]


__all__ = ["DestinationForm", "RoutingRule", "RoutingRuleForm"]
