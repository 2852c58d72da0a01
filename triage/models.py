"""Data shape only. Behaviour lives in services/, reads in selectors.py."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models


class TaxonomyField(models.TextChoices):
    CATEGORY = "category", "Category"
    PRIORITY = "priority", "Priority"
    QUEUE = "queue", "Queue"
    SENTIMENT = "sentiment", "Sentiment"


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
        REVIEWED = "REVIEWED", "Reviewed"

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
    category = models.CharField(max_length=64, blank=True)
    priority = models.CharField(max_length=64, blank=True)
    queue = models.CharField(max_length=64, blank=True)
    sentiment = models.CharField(max_length=64, blank=True)
    language = models.CharField(max_length=16, blank=True)
    confidence = models.FloatField(null=True, blank=True, help_text="Lowest field confidence of the run.")
    latest_run = models.ForeignKey(
        "TriageRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "-created_at"], name="ticket_status_created")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    @property
    def reference(self) -> str:
        return f"TRI-{self.pk}"


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
    # USD from the tokens and settings.KIMI_PRICES_USD_PER_MTOK (services/costs.py); 0 for the offline model
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))

    class Meta:
        ordering = ["-started_at", "-id"]
        # the daily spend sum (checked before every Kimi ticket while a cap is set) reads one day
        indexes = [models.Index(fields=["provider", "started_at"], name="triagerun_provider_day_idx")]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.provider}, {self.status})"


class ReviewDecision(models.Model):
    class Action(models.TextChoices):
        ACCEPT = "ACCEPT", "Accepted as proposed"
        CORRECT = "CORRECT", "Corrected and accepted"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="decisions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=8, choices=Action.choices)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    run = models.ForeignKey(TriageRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} of ticket {self.ticket_id} by {self.user_id}"
