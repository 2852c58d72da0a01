"""Data shape only. Behaviour lives in services/, reads in selectors/."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

from triage.fields import CLASSIFIED, TAXONOMY

if TYPE_CHECKING:
    # The members are made from triage/fields.py below, which the type checker cannot follow; it
    # needs only the TextChoices API (choices, iteration, .value). Code that names one field
    # writes its value ("priority").
    class TaxonomyField(models.TextChoices):
        pass

else:
    TaxonomyField = models.TextChoices(
        "TaxonomyField", [(f.name.upper(), (f.name, f.title)) for f in TAXONOMY]
    )


class TaxonomyValue(models.Model):
    """One allowed value of a classified field. Editable in the admin; the model prompt and the
    offline classifier are both built from `description` and `examples`."""

    field = models.CharField(max_length=16, choices=TaxonomyField.choices)
    value = models.SlugField(max_length=64, help_text="Stable machine name, e.g. 'billing'.")
    label = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    examples = models.TextField(blank=True, help_text="Example phrases, one per line, any language.")
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["field", "position", "value"]
        constraints = [models.UniqueConstraint(fields=["field", "value"], name="taxonomy_value_unique")]

    def __str__(self) -> str:
        return f"{self.field}: {self.label}"


class Ticket(models.Model):
    class Status(models.TextChoices):
        PROCESSING = "PROCESSING", "Processing media"
        TRIAGING = "TRIAGING", "Triaging"
        NEEDS_REVIEW = "NEEDS_REVIEW", "Needs review"
        MANUAL_TRIAGE = "MANUAL_TRIAGE", "Needs manual triage"
        # After review the ticket is worked: Open (stored as REVIEWED, the value reports, exports,
        # training and history already read), Pending on the customer, Solved, then Closed.
        REVIEWED = "REVIEWED", "Open"
        PENDING = "PENDING", "Pending"
        SOLVED = "SOLVED", "Solved"
        CLOSED = "CLOSED", "Closed"

    class LinkKind(models.TextChoices):
        MENTIONS = "MENTIONS", "Mentions"
        FOLLOW_UP = "FOLLOW_UP", "Follow-up of"

    class Channel(models.TextChoices):
        WEB = "WEB", "Web form"
        EMAIL = "EMAIL", "Email"

    subject = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    requester_email = models.EmailField(blank=True)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.WEB)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROCESSING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    triaged_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # Current values: proposed by the latest successful run until a human accepts or corrects them.
    summary = models.TextField(blank=True)
    # one column per classified field (triage/fields.py), in its declared order
    for _field in CLASSIFIED:
        locals()[_field.name] = models.CharField(max_length=_field.max_length, blank=True)
    del _field
    if TYPE_CHECKING:
        # The type checker cannot see the columns made in the loop above: these are the ones code
        # reads as attributes (SLA policies, handoffs, macros, drafts, redaction); a field read only
        # through triage/fields.py needs none. tests/test_fields.py checks each is a column.
        category: str
        priority: str
        queue: str
        language: str
    confidence = models.FloatField(null=True, blank=True, help_text="Lowest field confidence of the run.")
    latest_run = models.ForeignKey(
        "TriageRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who works it (reassignable from the ticket page), and the ticket it repeats, if a person said so.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
    )
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )
    # Another ticket this one points to: a mail from a stranger naming it ("mentions TRI-n"), or a
    # customer's reply to a closed ticket, which opens this new one instead of reopening it.
    linked_ticket = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="linked_from"
    )
    link_kind = models.CharField(max_length=12, choices=LinkKind.choices, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    # retention deleted the originals and renditions then (services/retention.py); the record stays
    media_expired_at = models.DateTimeField(null=True, blank=True)
    # the requester's data was erased then: text blanked, media and mail deleted (services/retention.py)
    erased_at = models.DateTimeField(null=True, blank=True)
    # Service-level targets (services/sla.py, from SlaPolicy): the first decision and the resolution
    # are due by these; sla_due_at is the next one still open (null when none is), for sorting.
    sla_first_due_at = models.DateTimeField(null=True, blank=True)
    sla_resolve_due_at = models.DateTimeField(null=True, blank=True)
    sla_due_at = models.DateTimeField(null=True, blank=True)
    # the service-level clock stops while the ticket is Pending (waiting on the customer): since when
    # it is stopped (null while running), and the seconds it stood still before; due times move on
    # by those seconds once it runs again (null: never stopped; nullable so that SQLite adds the
    # column without rebuilding the table)
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    sla_paused_s = models.PositiveIntegerField(null=True, blank=True)
    # the requester is owed an acknowledgement not yet decided on (a web or API ticket, from its
    # creation until ticket_acknowledge_later ran): the durable record the outbound sweep reads when
    # the job was lost (broker down at commit). Null: decided (sent, throttled, off) or never owed.
    ack_due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="ticket_status_created"),
            # the queue's work order reads each band in this order (selectors.review_queue_page)
            models.Index(fields=["created_at", "id"], name="ticket_created_id"),
            # the queue's commonest filters, counted on every page (a status tab narrows them
            # further); with a status tab, each band of the work order reads them in created_at
            # order and stops at the page's end (a sort of every match before: 13 -> 1.4 ms at
            # 100,000 tickets, bench/queue.py's filtered page)
            models.Index(
                fields=["category", "status", "created_at", "id"], name="ticket_category_status_made"
            ),
            models.Index(fields=["queue", "status", "created_at", "id"], name="ticket_queue_status_made"),
            models.Index(
                fields=["priority", "status", "created_at", "id"], name="ticket_priority_status_made"
            ),
        ]
        # reports: the dashboard and the exports filter by day; the included columns
        # let the dashboard's grouped counts read this index alone (an index-only scan)
        indexes += [
            models.Index(
                fields=["created_at"],
                include=[
                    "id",
                    "category",
                    "channel",
                    "queue",
                    "priority",
                    "status",
                    "triaged_at",
                    "reviewed_at",
                    "latest_run_id",
                ],
                name="ticket_report_created_idx",
            )
        ]
        # the queue's "due soonest" sort reads this index in order
        indexes += [models.Index(fields=["sla_due_at", "id"], name="ticket_sla_due")]
        # the acknowledgement sweep reads only the few tickets still owed one
        indexes += [
            models.Index(
                fields=["ack_due_at"], condition=models.Q(ack_due_at__isnull=False), name="ticket_ack_due"
            )
        ]
        # TRIAGE_REDACT=everywhere: who sees personal data and secrets as they came (docs/privacy.md)
        permissions = [("view_sensitive_data", "Can view sensitive data (unredacted)")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    @property
    def reference(self) -> str:
        return f"TRI-{self.pk}"

    @property
    def is_reviewed(self) -> bool:
        return self.status in REVIEWED_STATES


# A person confirmed the fields of a ticket in any of these; the lifecycle moves between them.
REVIEWED_STATES = (
    Ticket.Status.REVIEWED,
    Ticket.Status.PENDING,
    Ticket.Status.SOLVED,
    Ticket.Status.CLOSED,
)


class TicketStatusCount(models.Model):
    """How many tickets are in each status, kept by database triggers on triage_ticket (migration
    0028_h18counts), so the queue's status tabs read a few dozen small rows instead of counting
    every ticket on every page.

    Triggers, not signals or services: every path that writes a ticket's status (a save, a
    queryset .update(), a bulk action, a delete or cascade, raw SQL, PostgreSQL's TRUNCATE) moves
    the count in the same transaction, so the sum is exact at the reader's snapshot. Each status
    has SLOTS rows and a ticket counts in slot id % SLOTS: concurrent writers (the intake's inserts,
    the workers' status changes) lock different rows instead of queueing on one per status. A
    reader sums the slots (selectors.ticket_status_counts)."""

    SLOTS = 16  # also in the migration's trigger SQL

    status = models.CharField(max_length=16)
    slot = models.PositiveSmallIntegerField()
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["status", "slot"], name="ticketstatuscount_status_slot"),
        ]

    def __str__(self) -> str:
        return f"{self.status}[{self.slot}]: {self.n}"


class Attachment(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "IMAGE", "Screenshot"
        VIDEO = "VIDEO", "Recording"

    class Status(models.TextChoices):
        QUEUED = "QUEUED", "Uploaded"
        PROCESSING = "PROCESSING", "Processing"
        DONE = "DONE", "Done"
        REJECTED = "REJECTED", "Rejected"
        FAILED = "FAILED", "Failed"

    TERMINAL = (Status.DONE, Status.REJECTED, Status.FAILED)

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    sha256 = models.CharField(max_length=64, db_index=True)
    file = models.FileField(max_length=255, help_text="Storage key derived from the content hash.")
    mime = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField()
    original_name = models.CharField(
        max_length=255, blank=True, help_text="Shown to people, never used as a path."
    )
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    reject_reason = models.TextField(blank=True)
    failure_kind = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # the sweep's requeues of a job that never finished (failed with a reason past its limit)
    sweeps = models.PositiveSmallIntegerField(default=0)
    swept_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.original_name or self.sha256[:12]}"


class Rendition(models.Model):
    """A derivative the model or the UI uses: a normalized image, a sampled frame, a playable video,
    a storyboard sheet, the video for a model that takes video, a thumbnail for the UI."""

    class Kind(models.TextChoices):
        IMAGE = "IMAGE", "Normalized image"
        FRAME = "FRAME", "Video frame"
        PLAYBACK = "PLAYBACK", "Playable video"
        STORYBOARD = "STORYBOARD", "Storyboard sheet"
        MODEL_VIDEO = "MODEL_VIDEO", "Video for the model"
        THUMB = "THUMB", "Thumbnail"

    attachment = models.ForeignKey(Attachment, on_delete=models.CASCADE, related_name="renditions")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    index = models.PositiveIntegerField(default=0)
    file = models.FileField(max_length=255)
    sha256 = models.CharField(max_length=64)
    mime = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveBigIntegerField()
    timestamp_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["attachment_id", "kind", "index"]
        constraints = [
            models.UniqueConstraint(fields=["attachment", "kind", "index"], name="rendition_unique_slot")
        ]

    def __str__(self) -> str:
        return f"{self.kind}#{self.index} of {self.attachment_id}"


class TriageRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "RUNNING", "Running"
        DONE = "DONE", "Done"
        FAILED = "FAILED", "Failed"

    class ErrorKind(models.TextChoices):
        BAD_OUTPUT = "bad_output", "Model answered something invalid"
        UPSTREAM = "upstream", "Model API error"
        TIMEOUT = "timeout", "Model API timed out"
        BAD_INPUT = "bad_input", "Request refused"
        BUG = "bug", "Internal error"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="runs")
    provider = models.CharField(max_length=16)
    model = models.CharField(max_length=64)
    prompt_version = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    raw_output = models.TextField(blank=True)
    reasoning = models.TextField(blank=True)
    error_kind = models.CharField(max_length=16, choices=ErrorKind.choices, blank=True)
    error_message = models.TextField(blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(default=0)
    # Kimi's token-estimate endpoint, asked before a media-heavy request (null: not asked)
    estimated_prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    # what else the provider reported: trace id, requests, SDK retries, uploaded files ...
    details = models.JSONField(default=dict, blank=True)
    # the offline model's proposal recorded because Kimi could not answer; a person decides
    provisional = models.BooleanField(default=False)
    # a provisional run after transient Kimi trouble: the sweep triages its ticket again, once
    catch_up = models.BooleanField(default=False)
    # USD from the tokens and settings.KIMI_PRICES_USD_PER_MTOK (services/costs.py); 0 for the offline model
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))

    class Meta:
        ordering = ["-started_at", "-id"]
        # the daily spend sum (checked before every Kimi ticket while a cap is set) reads one day
        indexes = [models.Index(fields=["provider", "started_at"], name="triagerun_provider_day_idx")]
        # reports: tokens and cost per day read this index alone (an index-only scan)
        indexes += [
            models.Index(
                fields=["started_at"],
                include=[
                    "ticket_id",
                    "status",
                    "provider",
                    "model",
                    "error_kind",
                    "prompt_tokens",
                    "cached_tokens",
                    "completion_tokens",
                ],
                name="triagerun_report_day_idx",
            )
        ]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.provider}, {self.status})"


class ReviewDecision(models.Model):
    class Action(models.TextChoices):
        ACCEPT = "ACCEPT", "Accepted as proposed"
        CORRECT = "CORRECT", "Corrected and accepted"
        AUTO = "AUTO", "Accepted automatically"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="decisions")
    # null: an automatic decision (TRIAGE_AUTO_ACCEPT_ACCURACY), made by no one
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=8, choices=Action.choices)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    run = models.ForeignKey(TriageRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} of ticket {self.ticket_id} by {self.user_id}"


class TicketEvent(models.Model):
    """A change to a ticket that is neither a model run nor a review decision: who, when, what before."""

    class Kind(models.TextChoices):
        ASSIGN = "ASSIGN", "Reassigned"
        DUPLICATE = "DUPLICATE", "Marked as duplicate"
        RETRIAGE = "RETRIAGE", "Triage re-run requested"
        STATUS = "STATUS", "Status changed"
        HANDOFF = "HANDOFF", "Handed off"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.ticket_id}"


class RenditionText(models.Model):
    """Text read by OCR from one image rendition or video frame. A row per rendition makes
    the OCR job idempotent: a rendition that has one is never read again."""

    class Mode(models.TextChoices):
        FULL = "FULL", "read whole"
        REGION = "REGION", "changed bands read, the rest carried over"
        REUSED = "REUSED", "identical to an earlier frame: its text"

    rendition = models.OneToOneField(Rendition, on_delete=models.CASCADE, related_name="ocr")
    text = models.TextField(blank=True)
    lines = models.JSONField(default=list, blank=True, help_text="[{text, score, box}] in reading order.")
    engine = models.CharField(max_length=64)
    # A frame whose picture did not change since the last read frame takes that frame's lines
    # (REUSED); one where only some bands changed has those read and the rest carried (REGION).
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.FULL)
    source = models.ForeignKey(
        Rendition,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The frame whose lines were reused or carried over.",
    )
    elapsed_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"OCR of rendition {self.rendition_id}"


class ClassifierVersion(models.Model):
    """One stored version of the offline model: trained on reviewed tickets, or (day one, before
    any review) fitted on the unreviewed tickets' texts alone. The file lives under
    settings.TRIAGE_MODEL_DIR; `data_fingerprint` (the data + taxonomy) makes refitting on the
    same data a no-op. A trained version, once there, is served before any day-one version."""

    class Kind(models.TextChoices):
        TRAINED = "trained", "Trained on reviews"
        DAYONE = "dayone", "Day one (unreviewed tickets)"

    version = models.CharField(max_length=40, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TRAINED)
    path = models.CharField(max_length=255, help_text="File name under TRIAGE_MODEL_DIR.")
    data_fingerprint = models.CharField(max_length=64, unique=True)
    taxonomy_key = models.CharField(max_length=64)
    n_reviewed = models.PositiveIntegerField(default=0)
    training_seconds = models.FloatField(default=0.0)
    metrics = models.JSONField(
        default=dict, blank=True, help_text="Held-out scores and reliability per field."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.version


class ReportExport(models.Model):
    """A large export written by the `reports` worker; the page polls its progress."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "Excel (XLSX)"

    class Status(models.TextChoices):
        QUEUED = "QUEUED", "Queued"
        RUNNING = "RUNNING", "Running"
        DONE = "DONE", "Ready"
        FAILED = "FAILED", "Failed"
        EXPIRED = "EXPIRED", "Expired"

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    format = models.CharField(max_length=4, choices=Format.choices)
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    done_rows = models.PositiveIntegerField(default=0)
    file = models.FileField(max_length=255, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.format}, {self.status})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(99, int(100 * self.done_rows / self.total_rows)) if self.total_rows else 0


class InboundEmail(models.Model):
    """One inbound message as delivered: the raw bytes are stored first, a worker parses them later.

    `dedupe_key` is unique: a second delivery of the same message (a provider's retry, a concurrent
    duplicate) collides on it and is a no-op.
    """

    class Status(models.TextChoices):
        RECEIVED = "RECEIVED", "Received"
        PROCESSING = "PROCESSING", "Parsing"
        TICKETED = "TICKETED", "Opened a ticket"
        THREADED = "THREADED", "Added to a ticket"
        AUTOMATIC = "AUTOMATIC", "Automatic mail, not triaged"
        QUARANTINED = "QUARANTINED", "Quarantined"

    class ThreadReason(models.TextChoices):
        NEW = "new", "Started this ticket"
        IN_REPLY_TO = "in_reply_to", "In-Reply-To names a message of this ticket"
        REFERENCES = "references", "References names a message of this ticket"
        SENT_MESSAGE_ID = "sent_message_id", "Replies to mail Triage sent about this ticket"
        REPLY_TOKEN = "reply_token", "Sent to this ticket's reply address"
        SUBJECT_REF = "subject_ref", "The subject names this ticket"

    dedupe_key = models.CharField(max_length=80, unique=True)
    message_id = models.CharField(max_length=998, blank=True, db_index=True)
    source = models.CharField(max_length=32, help_text="raw, or the provider that posted it.")
    recipient = models.CharField(max_length=254, blank=True)
    raw = models.FileField(max_length=255, help_text="The message as received (content-addressed .eml).")
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="emails"
    )
    thread_reason = models.CharField(max_length=16, choices=ThreadReason.choices, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    from_email = models.CharField(max_length=254, blank=True)
    body_text = models.TextField(blank=True, help_text="What the sender wrote in this message.")
    quoted_text = models.TextField(blank=True, help_text="Quoted replies and signature, kept apart.")
    auto_kind = models.CharField(max_length=16, blank=True)
    failure_kind = models.CharField(max_length=16, blank=True)
    error_message = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # the sweep's requeues of a message never parsed (quarantined past its limit)
    sweeps = models.PositiveSmallIntegerField(default=0)
    swept_at = models.DateTimeField(null=True, blank=True)
    # retention or an erasure deleted the raw message then (`raw` is empty since)
    raw_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["received_at", "id"]
        indexes = [models.Index(fields=["status", "-received_at"], name="inbound_status_received")]

    def __str__(self) -> str:
        return f"{self.source} mail {self.message_id or self.sha256[:12]} ({self.status})"


class SentEmail(models.Model):
    """The Message-ID of a mail Triage sent about a ticket: a reply to it threads back here."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="sent_emails")
    message_id = models.CharField(max_length=998, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"sent {self.message_id} for ticket {self.ticket_id}"


# --- Roles and taxonomy editor -------------------------------------------------------------------
class TaxonomyChange(models.Model):
    """Who changed a taxonomy value, when, and what it was before: the editor's audit trail.

    Values are never deleted (tickets and reviews keep their slugs), so the FK always resolves."""

    class Action(models.TextChoices):
        ADD = "ADD", "Added"
        RENAME = "RENAME", "Renamed"
        DEACTIVATE = "DEACTIVATE", "Deactivated"
        REACTIVATE = "REACTIVATE", "Reactivated"
        DESCRIBE = "DESCRIBE", "Described"  # description or example phrases edited

    taxonomy_value = models.ForeignKey(TaxonomyValue, on_delete=models.PROTECT, related_name="changes")
    action = models.CharField(max_length=16, choices=Action.choices)
    before = models.CharField(max_length=120, blank=True)
    after = models.CharField(max_length=120, blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["-changed_at"], name="taxonomy_change_recent")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.taxonomy_value}"


# --- Conversation with the customer --------------------------------------------------------------
class TicketNote(models.Model):
    """An internal note on a ticket: never emailed to the customer. `author` null: written by Triage
    itself (a stranger's mail naming this ticket, a reply to it after it closed)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"note {self.pk} on {self.ticket_id}"


class NoteMention(models.Model):
    """A colleague named as @username in a note; unread ones make the header's badge."""

    note = models.ForeignKey(TicketNote, on_delete=models.CASCADE, related_name="mentions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mentions")
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["note", "user"], name="note_mention_unique")]
        indexes = [models.Index(fields=["user", "read_at"], name="note_mention_unread")]

    def __str__(self) -> str:
        return f"@{self.user_id} in note {self.note_id}"


class OutboundEmail(models.Model):
    """The outbox: one mail we send about a ticket, recorded before it is attempted.

    The row (with its Message-ID, unique) commits before the `outbound` worker talks to the SMTP
    server, so a crash leaves a row to retry rather than a reply lost; a retry sends the same
    Message-ID again, so a second copy after a crash is recorded here (attempts) and collapses into
    one in the customer's mail program. A SENT row is never sent again.
    """

    class Kind(models.TextChoices):
        REPLY = "REPLY", "Reply"
        ACK = "ACK", "Acknowledgement"
        MENTION = "MENTION", "Mention notification"

    class Status(models.TextChoices):
        QUEUED = "QUEUED", "Sending"
        SENDING = "SENDING", "Sending"
        SENT = "SENT", "Sent"
        FAILED = "FAILED", "Failed"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="outbound_emails")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message_id = models.CharField(max_length=998, unique=True)
    from_email = models.CharField(max_length=254)
    reply_to = models.CharField(max_length=254, blank=True)
    to = models.JSONField(default=list)
    cc = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    in_reply_to = models.CharField(max_length=998, blank=True)
    references = models.TextField(blank=True)
    # extra headers (Auto-Submitted on acknowledgements); attachments as [{key, name, mime, size}]
    headers = models.JSONField(default=dict, blank=True)
    attachments = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    failure_kind = models.CharField(max_length=16, blank=True)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    attempted_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "attempted_at"], name="outbound_status_attempted")]

    def __str__(self) -> str:
        return f"{self.kind} {self.message_id} ({self.status})"


class AckThrottle(models.Model):
    """When we last acknowledged mail from an address: at most one per TRIAGE_ACK_MIN_INTERVAL_S.

    One row per address, claimed by a conditional UPDATE (or the INSERT that the unique key lets
    only one of two concurrent deliveries win): the check and the claim are one statement."""

    address = models.CharField(max_length=254, unique=True)
    last_sent_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"ack to {self.address} at {self.last_sent_at}"


class AckTemplate(models.Model):
    """The acknowledgement text, one per language ('' is the default); managers edit it."""

    language = models.CharField(max_length=16, blank=True, unique=True)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["language"]

    def __str__(self) -> str:
        return f"acknowledgement ({self.language or 'default'})"


class Macro(models.Model):
    """A canned reply for a queue ('' = every queue); applying it may also set fields."""

    name = models.CharField(max_length=120)
    queue = models.CharField(max_length=64, blank=True)
    body = models.TextField(help_text="Variables: {{ requester.first_name }}, {{ ticket.reference }}, …")
    set_status = models.CharField(max_length=16, blank=True)
    set_priority = models.CharField(max_length=64, blank=True)
    set_queue = models.CharField(max_length=64, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["queue", "name"]
        constraints = [models.UniqueConstraint(fields=["queue", "name"], name="macro_queue_name_unique")]

    def __str__(self) -> str:
        return self.name


# --- Report rollups: the dashboard's figures per day, rebuilt for every day a change touches -----
# Every row is keyed by the local day the ticket was created (what the dashboard's date range
# filters) and by the ticket's queue, channel and category (its other filters), so any filtered
# dashboard is a sum over a few thousand rows, whatever the number of tickets. services/
# report_rollups.py rebuilds a day from the raw rows; database triggers (migration
# 0013_report_rollups) log the day of every ticket, run and review decision written, in the same
# transaction as the write, so no path that changes tickets can forget it.
class ReportTicketDay(models.Model):
    day = models.DateField()
    queue = models.CharField(max_length=64, blank=True)
    channel = models.CharField(max_length=8)
    category = models.CharField(max_length=64, blank=True)
    priority = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16)
    proposed_category = models.CharField(max_length=64, blank=True)  # of the latest run, "" if none
    has_run = models.BooleanField()
    tickets = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["day"], name="report_ticket_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.status}: {self.tickets} tickets"


class ReportDurationDay(models.Model):
    """Durations in seconds, rounded (to the second below 100 s, to 1 % steps above): percentiles
    from these counts are the raw ones to within that rounding."""

    day = models.DateField()
    queue = models.CharField(max_length=64, blank=True)
    channel = models.CharField(max_length=8)
    category = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=24)  # arrival_to_triaged | triaged_to_reviewed
    seconds = models.FloatField()
    tickets = models.PositiveIntegerField()
    # the exact durations summed: a bucket holding one distinct value (the usual case for a small
    # range) reads back exact, and a mixed one at its mean, inside the bucket
    seconds_sum = models.FloatField(default=0.0)

    class Meta:
        indexes = [models.Index(fields=["day"], name="report_duration_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.kind} {self.seconds:g} s: {self.tickets} tickets"


class ReportRunDay(models.Model):
    day = models.DateField()  # the ticket's
    run_day = models.DateField()  # the run's start
    queue = models.CharField(max_length=64, blank=True)
    channel = models.CharField(max_length=8)
    category = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=8)
    error_kind = models.CharField(max_length=16, blank=True)
    runs = models.PositiveIntegerField()
    prompt_tokens = models.BigIntegerField()
    cached_tokens = models.BigIntegerField()
    completion_tokens = models.BigIntegerField()
    cost_usd = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["day"], name="report_run_day")]

    def __str__(self) -> str:
        return f"{self.day} runs of {self.run_day}: {self.runs}"


class ReportReviewDay(models.Model):
    day = models.DateField()  # the ticket's
    decision_day = models.DateField()
    queue = models.CharField(max_length=64, blank=True)
    channel = models.CharField(max_length=8)
    category = models.CharField(max_length=64, blank=True)
    field = models.CharField(max_length=16)
    accepted = models.PositiveIntegerField()
    corrected = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["day"], name="report_review_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.field}: {self.accepted} accepted, {self.corrected} corrected"


class ReportDirtyDay(models.Model):
    """An append-only log of UTC days whose tickets changed (written by triggers). A rebuild
    deletes exactly the rows it read, so a change committed meanwhile stays logged."""

    utc_day = models.DateField()

    def __str__(self) -> str:
        return f"changed: {self.utc_day}"


# --- Hand-off: the REST API and outbound webhooks -------------------------------------------------
class ApiToken(models.Model):
    """A personal API token. The secret is shown once; only its SHA-256 is kept, found by `prefix`
    (the public first part of the token), so a lookup is one indexed row, then a constant-time compare."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Read and write"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)
    prefix = models.CharField(max_length=16, unique=True)
    secret_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class ApiIdempotencyKey(models.Model):
    """An `Idempotency-Key` a client sent with a create: the same key and body returns the same
    ticket. The unique constraint makes two concurrent requests with one key create one ticket."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_sha256 = models.CharField(max_length=64)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="api_idempotency_unique")]

    def __str__(self) -> str:
        return f"{self.key} -> {self.ticket_id}"


class WebhookEndpoint(models.Model):
    """Where outbound events go. Signed per Standard Webhooks with `secret`; after a rotation the
    previous secret also signs until `previous_secret_expires_at`, so receivers can switch over."""

    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="Event types sent here; empty: all.")
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    # the first failure since the last success: a day of failures disables the endpoint
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url


class WebhookEvent(models.Model):
    """The outbox: one row per event, written in the transaction of the change that caused it.
    `published_at` is set once its deliveries exist; the sweep publishes rows a crash left behind."""

    msg_id = models.CharField(max_length=40, unique=True)
    event_type = models.CharField(max_length=40)
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["created_at"],
                name="webhook_event_unpublished",
                condition=models.Q(published_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.msg_id}"


class WebhookDelivery(models.Model):
    """One event to one endpoint, tried until a 2xx or about a day of backed-off attempts."""

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        DELIVERED = "DELIVERED", "Delivered"
        FAILED = "FAILED", "Failed"

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_unique")]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=models.Q(status="PENDING"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery: the endpoint's delivery log."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}: {self.status_code or self.error}"


class RateCounter(models.Model):
    """One fixed-window counter of services/throttle.py when there is no Redis (the embedded mode):
    the database is the one store every web process shares. `window_ends` is Unix seconds."""

    key = models.CharField(max_length=100, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    window_ends = models.FloatField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"


class UploadStage(models.Model):
    """When an original was last staged by the browser (services/tickets.py upload_stage) or stored
    again: the purge of abandoned uploads reads it, under a row lock that ticket creation also takes."""

    key = models.CharField(max_length=255, primary_key=True)
    staged_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.key


class Destination(models.Model):
    """An outside tool a routing rule can hand a ticket to. The secret (API token, Slack webhook
    URL) is stored encrypted (services/handoff.py) or named by an environment variable."""

    class Kind(models.TextChoices):
        JIRA = "jira", "Jira Cloud"
        GITHUB = "github", "GitHub Issues"
        ZENDESK = "zendesk", "Zendesk"
        SLACK = "slack", "Slack"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=100, unique=True)
    base_url = models.URLField(
        max_length=500,
        blank=True,
        help_text="Jira site, GitHub API (https://api.github.com), Zendesk https://<sub>.zendesk.com; "
        "empty for Slack (the webhook URL is its secret).",
    )
    project = models.CharField(
        max_length=200, blank=True, help_text="Jira project key, GitHub owner/repo, Zendesk group id."
    )
    account = models.CharField(max_length=254, blank=True, help_text="Jira or Zendesk user email.")
    # field mappings and options: issue_type, priority_map, label_map, tags, channel ...
    options = models.JSONField(default=dict, blank=True)
    secret_encrypted = models.TextField(blank=True)
    secret_env = models.CharField(max_length=100, blank=True)
    sync_secret_encrypted = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"


class RoutingRule(models.Model):
    """When a reviewed ticket matches every condition set, it goes to each destination. Rules run in
    `position` order; `stop` ends the evaluation at the first match."""

    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    queue = models.CharField(max_length=64, blank=True)
    category = models.CharField(max_length=64, blank=True)
    min_priority = models.CharField(max_length=64, blank=True, help_text="This priority or higher.")
    language = models.CharField(max_length=16, blank=True)
    channel = models.CharField(max_length=8, blank=True)
    min_confidence = models.FloatField(null=True, blank=True)
    on_auto_accept = models.BooleanField(default=False, help_text="Also when auto-accepted.")
    stop = models.BooleanField(default=False, help_text="No later rule runs after this one matched.")
    destinations = models.ManyToManyField(Destination, related_name="rules")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class Handoff(models.Model):
    """One ticket sent to one destination: the intent is written before the call, the external
    object's id and URL after. Exactly one per ticket and destination."""

    class Status(models.TextChoices):
        INTENT = "intent", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="handoffs")
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="handoffs")
    rule = models.ForeignKey(RoutingRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.INTENT)
    external_id = models.CharField(max_length=100, blank=True)
    external_url = models.URLField(max_length=500, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    # due again at (a retry's backoff); null: due now
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # a worker is calling the service since then (cleared after); see services/handoff.py
    calling_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["ticket", "destination"], name="handoff_unique")]
        indexes = [models.Index(fields=["destination", "external_id"], name="handoff_external_idx")]

    def __str__(self) -> str:
        return f"{self.ticket_id} -> {self.destination_id} ({self.status})"


# --- Retention and erasure ----------------------------------------------------------------------
class RetentionRun(models.Model):
    """What one retention pass deleted (services/retention.py): counts only, no personal data."""

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    media_cutoff = models.DateTimeField(null=True, blank=True)
    mail_cutoff = models.DateTimeField(null=True, blank=True)
    tickets = models.PositiveIntegerField(default=0)
    attachments = models.PositiveIntegerField(default=0)
    renditions = models.PositiveIntegerField(default=0)
    mails = models.PositiveIntegerField(default=0)
    files = models.PositiveIntegerField(default=0)
    bytes = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"retention {self.started_at:%Y-%m-%d %H:%M}: {self.files} files"


class ErasureRecord(models.Model):
    """The audit trail of a requester's erasure: who, when, how much. The address itself is not
    kept, only its keyed hash (services/retention.py requester_hash), so an administrator can tell
    whether an address was erased without the record holding it."""

    email_hash = models.CharField(max_length=64, db_index=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    via = models.CharField(max_length=16, help_text="page, admin or command")
    created_at = models.DateTimeField(auto_now_add=True)
    tickets = models.PositiveIntegerField(default=0)
    attachments = models.PositiveIntegerField(default=0)
    mails = models.PositiveIntegerField(default=0)
    messages = models.PositiveIntegerField(default=0)
    exports = models.PositiveIntegerField(default=0)
    files = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"erasure {self.email_hash[:12]}… ({self.tickets} tickets)"


# --- Worker liveness -------------------------------------------------------------------------------
class WorkerHeartbeat(models.Model):
    """The last sign of life of one worker (hostname, e.g. `llm@host`) consuming one queue: a thread
    in every worker writes it every TRIAGE_HEARTBEAT_EVERY_S (triage/celery.py). The health page
    calls a queue's worker dead after TRIAGE_HEARTBEAT_MISSED beats without a row newer."""

    queue = models.CharField(max_length=64)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField()

    class Meta:
        ordering = ["queue", "hostname"]
        constraints = [models.UniqueConstraint(fields=["queue", "hostname"], name="worker_heartbeat_unique")]

    def __str__(self) -> str:
        return f"{self.hostname} on {self.queue} at {self.beat_at:%H:%M:%S}"


class SlaPolicy(models.Model):
    """Targets for a priority (blank: any) and optionally a queue (blank: any), set by managers on
    /sla/. The most specific policy matching a ticket applies (services/sla.py)."""

    priority = models.CharField(max_length=64, blank=True)
    queue = models.CharField(max_length=64, blank=True)
    first_decision_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    business_hours = models.BooleanField(default=False, help_text="Count only the business hours.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "queue", "id"]
        constraints = [models.UniqueConstraint(fields=["priority", "queue"], name="sla_policy_unique")]

    def __str__(self) -> str:
        return f"SLA {self.priority or '*'}/{self.queue or '*'}"


class BusinessHours(models.Model):
    """The one weekly calendar business-hours policies count in (row id 1)."""

    timezone = models.CharField(max_length=64, default="UTC")
    weekdays = models.CharField(max_length=7, default="01234", help_text="Monday=0 ... Sunday=6")
    start = models.TimeField(default=datetime.time(9, 0))
    end = models.TimeField(default=datetime.time(17, 0))

    def __str__(self) -> str:
        return f"{self.weekdays} {self.start}-{self.end} {self.timezone}"


class SavedView(models.Model):
    """A named queue view: its query string (filters + sort) and the columns shown. Personal, or
    shared with everyone (editable by its owner and managers)."""

    name = models.CharField(max_length=80)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    shared = models.BooleanField(default=False)
    query = models.CharField(max_length=1000, blank=True)
    columns = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["owner", "name"], name="saved_view_owner")]

    def __str__(self) -> str:
        return self.name
