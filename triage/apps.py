from __future__ import annotations

from django.apps import AppConfig


class TriageConfig(AppConfig):
    name = "triage"
    verbose_name = "Triage"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from anymail.signals import inbound

        from triage.views.inbound_email import anymail_inbound_receive

        inbound.connect(anymail_inbound_receive, dispatch_uid="triage-anymail-inbound")

        from django.db.models.signals import post_save

        from triage.models import Ticket
        from triage.services.sla import ticket_saved

        post_save.connect(ticket_saved, sender=Ticket, dispatch_uid="triage-sla-due")

        from django.db.models.signals import post_migrate

        from triage.services.taxonomy import taxonomy_seed_declared

        post_migrate.connect(taxonomy_seed_declared, sender=self, dispatch_uid="triage-taxonomy-declared")
