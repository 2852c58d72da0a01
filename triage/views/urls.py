from __future__ import annotations

from django.urls import path

from triage.views import media, queue, system_health, tickets

app_name = "triage"
urlpatterns = [
    path("", queue.review_queue, name="review-queue"),
    path("tickets/new/", tickets.ticket_create_page, name="ticket-create"),
    path("tickets/<int:ticket_id>/", tickets.ticket_detail, name="ticket-detail"),
    path("media/attachments/<int:attachment_id>/original", media.attachment_file, name="attachment-file"),
    path("media/renditions/<int:rendition_id>", media.rendition_file, name="rendition-file"),
    path("health/", system_health.health_page, name="health"),
]
