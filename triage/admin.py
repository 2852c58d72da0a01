"""Admin: the taxonomy is edited here; tickets, runs and decisions are for looking, not editing.

Tickets only change through the services (upload, workers, review), so the admin never creates or
edits them: a hand-edited status would skip the pipeline and the review history.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from triage.adapters.webhooks import secret_new
from triage.forms import ThrottledAdminAuthenticationForm
from triage.models import (
    Attachment,
    InboundEmail,
    ReviewDecision,
    TaxonomyValue,
    Ticket,
    TriageRun,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from triage.roles import user_is_admin
from triage.services import retention, webhooks


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(TaxonomyValue)
class TaxonomyValueAdmin(admin.ModelAdmin):
    list_display = ("field", "value", "label", "position", "is_active")
    list_display_links = ("value",)
    list_filter = ("field", "is_active")
    list_editable = ("position", "is_active")
    search_fields = ("value", "label", "description", "examples")
    ordering = ("field", "position", "value")


class AttachmentInline(ReadOnlyMixin, admin.TabularInline):
    model = Attachment
    extra = 0
    can_delete = False
    fields = ("original_name", "kind", "status", "mime", "size_bytes", "width", "height", "reject_reason")
    readonly_fields = fields
    show_change_link = False


class TriageRunInline(ReadOnlyMixin, admin.TabularInline):
    model = TriageRun
    extra = 0
    can_delete = False
    fields = ("started_at", "provider", "model", "status", "latency_ms", "error_kind", "error_message")
    readonly_fields = fields
    show_change_link = True


def _user(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


@admin.register(Ticket)
class TicketAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "reference",
        "subject",
        "status",
        "channel",
        "category",
        "priority",
        "queue",
        "created_at",
    )
    list_filter = ("status", "channel", "category", "priority", "queue")
    search_fields = ("subject", "description", "requester_email")
    date_hierarchy = "created_at"
    list_select_related = ("latest_run",)
    inlines = (AttachmentInline, TriageRunInline)
    readonly_fields = ("reference",)
    actions = ("erase_requesters",)

    @admin.display(description="Ref", ordering="id")
    def reference(self, obj: Ticket) -> str:
        return obj.reference

    @admin.action(description="Erase the requesters of the selected tickets (all their data)")
    def erase_requesters(self, request: HttpRequest, queryset) -> TemplateResponse | None:
        """Like Django's own delete action: a page of what would go, then the erasure on confirm."""
        emails = sorted(
            {e.strip().lower() for e in queryset.values_list("requester_email", flat=True)} - {""}
        )
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Erase these requesters?",
                "opts": self.model._meta,
                "queryset": queryset,
                "plans": [(email, retention.requester_plan(email=email)) for email in emails],
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/triage/ticket/erase_requesters.html", context)
        tickets = 0
        for email in emails:
            tickets += retention.requester_erase(email=email, by=_user(request), via="admin").tickets
        self.message_user(request, f"Erased {len(emails)} requester(s): {tickets} tickets.")
        return None


@admin.register(TriageRun)
class TriageRunAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "ticket", "provider", "model", "status", "error_kind", "latency_ms", "started_at")
    list_filter = ("provider", "status", "error_kind")
    search_fields = ("ticket__subject", "model", "error_message")
    list_select_related = ("ticket",)
    raw_id_fields = ("ticket",)


@admin.register(ReviewDecision)
class ReviewDecisionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "ticket", "user", "action", "created_at")
    list_filter = ("action",)
    search_fields = ("ticket__subject", "user__username")
    list_select_related = ("ticket", "user")
    raw_id_fields = ("ticket", "user", "run")


@admin.register(InboundEmail)
class InboundEmailAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Inbound mail as received and what became of it (retry lives on the quarantine page)."""

    list_display = (
        "id",
        "received_at",
        "source",
        "from_email",
        "subject",
        "status",
        "thread_reason",
        "ticket",
    )
    list_filter = ("status", "source", "thread_reason", "auto_kind")
    search_fields = ("message_id", "from_email", "subject")
    raw_id_fields = ("ticket",)


# --- Roles: the Django admin is for administrators (triage.roles), with the login throttle
def _admin_site_has_permission(request: HttpRequest) -> bool:
    return user_is_admin(request.user)


# Patched on the one default site rather than a custom AdminSite class (which would need its own
# AdminConfig in INSTALLED_APPS); mypy forbids assigning to a method, hence the ignore.
admin.site.has_permission = _admin_site_has_permission  # type: ignore[method-assign]  # see above
admin.site.login_form = ThrottledAdminAuthenticationForm


# --- Outbound webhooks ---------------------------------------------------------------------------
class WebhookEndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=[(e.name, f"{e.name}: {e.description}") for e in webhooks.EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: every event.",
    )
    url = forms.URLField(assume_scheme="https", max_length=500)

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "description", "events", "is_active")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "description", "is_active", "failing_since", "disabled_reason")
    readonly_fields = (
        "secret",
        "previous_secret_expires_at",
        "failing_since",
        "disabled_reason",
        "delivery_log",
    )
    actions = ("send_test_event", "rotate_secret")

    @admin.display(description="Delivery log")
    def delivery_log(self, obj: WebhookEndpoint) -> str:
        if not obj.pk:
            return "—"
        url = reverse("admin:triage_webhookdelivery_changelist") + f"?endpoint__id__exact={obj.pk}"
        return format_html('<a href="{}">Deliveries to this endpoint</a>', url)

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form, change: bool) -> None:
        if not obj.secret:
            obj.secret = secret_new()
        if obj.is_active:
            obj.disabled_reason = ""
            obj.failing_since = None
        super().save_model(request, obj, form, change)

    @admin.action(description="Send test event")
    def send_test_event(self, request: HttpRequest, queryset) -> None:
        for endpoint in queryset:
            webhooks.webhook_test_send(endpoint_id=endpoint.id)
        self.message_user(request, f"Test event queued for {queryset.count()} endpoint(s).")

    @admin.action(description="Rotate signing secret (the old one stays valid 24 h)")
    def rotate_secret(self, request: HttpRequest, queryset) -> None:
        for endpoint in queryset:
            webhooks.webhook_endpoint_rotate_secret(endpoint_id=endpoint.id)
        self.message_user(request, "New secrets made; both sign for the next 24 hours.")


class WebhookAttemptInline(ReadOnlyMixin, admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("at", "number", "status_code", "latency_ms", "error", "response_excerpt")
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The delivery log: time, event, status code, latency (per attempt), and Redeliver."""

    list_display = (
        "created_at",
        "endpoint",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
    )
    list_filter = ("status", "endpoint")
    list_select_related = ("event", "endpoint")
    inlines = (WebhookAttemptInline,)
    actions = ("redeliver",)
    fields = (
        "endpoint",
        "event",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_status_code",
        "last_error",
    )
    readonly_fields = fields

    @admin.display(description="Event")
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.event_type

    @admin.action(description="Redeliver")
    def redeliver(self, request: HttpRequest, queryset) -> None:
        for delivery_id in queryset.values_list("id", flat=True):
            webhooks.webhook_redeliver(delivery_id=delivery_id)
        self.message_user(request, f"{queryset.count()} deliver(ies) queued again.")
