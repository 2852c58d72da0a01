from __future__ import annotations

from django.urls import path

from triage.views import (
    account,
    api_docs,
    conversation,
    health,
    inbound_email,
    integrations,
    media,
    presence,
    privacy,
    queue,
    reports,
    saved_views,
    similar,
    sla,
    system_health,
    taxonomy,
    tickets,
    users,
)

app_name = "triage"
urlpatterns = [
    path("", queue.review_queue, name="review-queue"),
    path("bulk/", queue.review_queue_bulk, name="review-queue-bulk"),
    path("tickets/new/", tickets.ticket_create_page, name="ticket-create"),
    path("tickets/uploads/", tickets.ticket_upload, name="ticket-upload"),
    path("tickets/<int:ticket_id>/", tickets.ticket_detail, name="ticket-detail"),
    path("tickets/<int:ticket_id>/actions/", tickets.ticket_action, name="ticket-action"),
    path("tickets/<int:ticket_id>/presence/", presence.ticket_presence, name="ticket-presence"),
    path("tickets/<int:ticket_id>/similar/", similar.ticket_similar, name="ticket-similar"),
    path("tickets/<int:ticket_id>/reply/", conversation.ticket_reply, name="ticket-reply"),
    path("tickets/<int:ticket_id>/notes/", conversation.ticket_note, name="ticket-note"),
    path("tickets/<int:ticket_id>/macro/", conversation.macro_use, name="ticket-macro"),
    path("tickets/<int:ticket_id>/draft/", conversation.ticket_draft, name="ticket-draft"),
    path(
        "tickets/<int:ticket_id>/mail/<int:outbound_email_id>/",
        conversation.outbound_email_state,
        name="outbound-email",
    ),
    path(
        "tickets/<int:ticket_id>/mail/<int:outbound_email_id>/retry/",
        conversation.outbound_email_retry_view,
        name="outbound-email-retry",
    ),
    path("mentions/", conversation.mentions_page, name="mentions"),
    path("macros/", conversation.macro_list, name="macros"),
    path("macros/<int:macro_id>/", conversation.macro_list, name="macro-edit"),
    path("acknowledgement/", conversation.ack_template_edit, name="ack-template"),
    path("media/attachments/<int:attachment_id>/original", media.attachment_file, name="attachment-file"),
    path("media/renditions/<int:rendition_id>", media.rendition_file, name="rendition-file"),
    path("health/model/", health.model_health, name="model-health"),
    path("reports/", reports.reports_dashboard, name="reports"),
    path("reports/exports/", reports.report_export, name="report-export"),
    path("reports/exports/<int:export_id>/", reports.report_export_status, name="report-export-status"),
    path(
        "reports/exports/<int:export_id>/download",
        reports.report_export_download,
        name="report-export-download",
    ),
    # inbound email: the raw MIME endpoint, the quarantine page, the providers' webhooks
    path("intake/email/raw/", inbound_email.inbound_email_raw, name="email-inbound-raw"),
    path("intake/email/quarantine/", inbound_email.email_quarantine, name="email-quarantine"),
    path("intake/email/<int:inbound_email_id>/retry/", inbound_email.email_retry, name="email-retry"),
    path("intake/email/<int:inbound_email_id>/raw.eml", inbound_email.email_raw_file, name="email-raw-file"),
    *inbound_email.provider_urlpatterns(),
    path("health/", system_health.health_page, name="health"),
    # roles: managers edit the taxonomy, administrators the users
    path("taxonomy/", taxonomy.taxonomy_editor, name="taxonomy"),
    path("taxonomy/<int:value_id>/", taxonomy.taxonomy_value_edit, name="taxonomy-value"),
    path("users/", users.user_list, name="users"),
    path("users/<int:user_id>/", users.user_edit, name="user-edit"),
    path("account/", account.account_page, name="account"),
    path("api/v1/docs", api_docs.api_docs, name="api-docs"),
    # hand-off: destinations and routing rules, Retry, the services' status webhooks
    path("integrations/", integrations.integrations_page, name="integrations"),
    path(
        "integrations/destinations/<int:destination_id>/",
        integrations.destination_edit,
        name="destination-edit",
    ),
    path("integrations/rules/<int:rule_id>/", integrations.routing_rule_edit, name="routing-rule"),
    path(
        "tickets/<int:ticket_id>/handoffs/<int:handoff_id>/retry/",
        integrations.handoff_retry_view,
        name="handoff-retry",
    ),
    path("hooks/github/", integrations.github_hook, name="hook-github"),
    path("hooks/jira/", integrations.jira_hook, name="hook-jira"),
    path("hooks/zendesk/", integrations.zendesk_hook, name="hook-zendesk"),
    # service levels (managers)
    path("sla/", sla.sla_policies, name="sla"),
    # saved queue views
    path("views/", saved_views.saved_views_post, name="saved-views"),
    path("views/counts/", saved_views.saved_view_counts, name="saved-view-counts"),
    # retention in force, a requester's export and erasure (administrators)
    path("privacy/", privacy.privacy_page, name="privacy"),
]
