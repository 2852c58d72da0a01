"""Admin: the taxonomy is edited here; tickets, runs and decisions are for looking, not editing.

Tickets only change through the services (upload, workers, review), so the admin never creates or
edits them: a hand-edited status would skip the pipeline and the review history.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from triage.forms import ThrottledAdminAuthenticationForm
from triage.models import Attachment, InboundEmail, ReviewDecision, TaxonomyValue, Ticket, TriageRun
from triage.roles import user_is_admin


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

    @admin.display(description="Ref", ordering="id")
    def reference(self, obj: Ticket) -> str:
        return obj.reference


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
