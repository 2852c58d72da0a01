"""Input validation for the pages. Files are judged by their bytes (services.media), never their names."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.utils import timezone

from triage.adapters.llm.base import Taxonomy
from triage.adapters.media import MediaRejected
from triage.adapters.media.sniff import ACCEPTED_IMAGE_TYPES, ACCEPTED_VIDEO_TYPES
from triage.fields import TAXONOMY, TAXONOMY_FIELDS
from triage.models import Ticket
from triage.selectors import QUEUE_SORTS, QueueFilters
from triage.services.login_throttle import login_attempt_begin, login_attempt_succeeded
from triage.services.media import upload_check
from triage.services.tickets import StagedUpload, staged_upload_get

ACCEPTED_UPLOAD_TYPES = ",".join((*ACCEPTED_IMAGE_TYPES, *ACCEPTED_VIDEO_TYPES))
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")


def _choice_field(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    """A choice field whose choices are set per request (from the taxonomy, the sorts...)."""
    field = form.fields[name]
    if not isinstance(field, forms.ChoiceField):
        raise TypeError(f"{name!r} is not a choice field")
    return field


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field that takes several files (the pattern from Django's file-upload docs)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None) -> list[UploadedFile]:
        single_file_clean = super().clean
        files = data if isinstance(data, list | tuple) else [data]
        files = [f for f in files if f]
        if not files:
            if self.required:
                raise forms.ValidationError(self.error_messages["required"], code="required")
            return []
        return [single_file_clean(f, initial) for f in files]


class TokenListField(forms.Field):
    """Repeated hidden inputs, one value each (signed tokens: the form checks them)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[str]:
        return [str(v) for v in (value or []) if v]


class TicketCreateForm(forms.Form):
    subject = forms.CharField(max_length=300)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), required=False)
    requester_email = forms.EmailField(required=False, label="Requester email")
    attachments = MultipleFileField(
        required=False,
        # empty files get our own message naming the file (from upload_check), not Django's generic one
        allow_empty_file=True,
        label="Screenshots and recordings",
        widget=MultipleFileInput(attrs={"accept": ACCEPTED_UPLOAD_TYPES}),
    )
    # tokens of the files the page uploaded one by one beforehand (intake.js, services.tickets)
    staged = TokenListField(required=False)

    def __init__(self, *args, user: User | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.staged_uploads: list[StagedUpload] = []
        self._limit_attrs()

    def _limit_attrs(self) -> None:
        widget = self.fields["attachments"].widget
        # the limits, stated on the plain input too (intake.js reads them from the json_script config)
        widget.attrs.update(
            {
                "data-max-files": settings.DATA_UPLOAD_MAX_NUMBER_FILES,
                "data-max-image-bytes": settings.TRIAGE_MAX_IMAGE_BYTES,
                "data-max-video-bytes": settings.TRIAGE_MAX_VIDEO_BYTES,
            }
        )

    def clean_attachments(self) -> list[UploadedFile]:
        files: list[UploadedFile] = self.cleaned_data["attachments"]
        errors = []
        for upload in files:
            try:
                upload_check(fileobj=upload, name=upload.name or "", size_bytes=upload.size or 0)
            except MediaRejected as exc:
                errors.append(forms.ValidationError(f"'{upload.name}': {exc.reason}", code="rejected"))
        if errors:
            raise forms.ValidationError(errors)
        return files

    def clean_staged(self) -> list[str]:
        tokens: list[str] = self.cleaned_data["staged"]
        if not tokens:
            return tokens
        user = self.user
        if user is None:  # a token is its uploader's own: without a user none is valid
            raise forms.ValidationError("Sign in to attach files uploaded beforehand.", code="rejected")
        errors = []
        for token in tokens:
            try:
                self.staged_uploads.append(staged_upload_get(token=token, user=user))
            except MediaRejected as exc:
                errors.append(forms.ValidationError(exc.reason, code="rejected"))
        if errors:
            raise forms.ValidationError(errors)
        return tokens

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        total = len(data.get("attachments") or []) + len(self.staged_uploads)
        if total > settings.DATA_UPLOAD_MAX_NUMBER_FILES:
            self.add_error(
                "attachments",
                f"At most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files per ticket; {total} given.",
            )
        return data


class UploadForm(forms.Form):
    """One file sent by the page ahead of the ticket (intake.js). Its content is judged once, by
    the service that stores it (upload_stage), like every other upload."""

    file = forms.FileField(allow_empty_file=True)


def intake_config() -> dict[str, object]:
    """What the page's script checks before sending: the server's own limits and types, read here
    so the JavaScript holds no copy of them."""
    return {
        "maxFiles": settings.DATA_UPLOAD_MAX_NUMBER_FILES,
        "maxImageBytes": settings.TRIAGE_MAX_IMAGE_BYTES,
        "maxVideoBytes": settings.TRIAGE_MAX_VIDEO_BYTES,
        "imageTypes": list(ACCEPTED_IMAGE_TYPES),
        "videoTypes": list(ACCEPTED_VIDEO_TYPES),
        "recordMaxS": settings.TRIAGE_SCREEN_RECORDING_MAX_S,
    }


class ReviewForm(forms.Form):
    """The reviewer's final values. Classified fields must be taxonomy values."""

    # one choice per taxonomy field (triage/fields.py), in its declared order; the choices are the
    # taxonomy's active values, set per ticket in __init__
    for _field in TAXONOMY:
        locals()[_field.name] = forms.ChoiceField()
    del _field
    language = forms.CharField(
        max_length=16,
        help_text="ISO 639-1 code, e.g. en, de, pt",
        widget=forms.TextInput(attrs={"size": 6, "autocomplete": "off", "spellcheck": "false"}),
    )
    summary = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 5}))

    def __init__(
        self,
        *args,
        choices: Mapping[str, Sequence[tuple[str, str]]],
        current: Mapping[str, str] | None = None,
        labels: Mapping[str, Mapping[str, str]] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        current = current or {}
        for name in TAXONOMY_FIELDS:
            options = list(choices.get(name, ()))
            value = current.get(name, "")
            if value and value not in {v for v, _ in options}:
                # a value an admin has since deactivated stays acceptable for this ticket
                label = (labels or {}).get(name, {}).get(value, value)
                options.append((value, f"{label} (inactive)"))
            _choice_field(self, name).choices = [("", "— choose —"), *options]

    def clean_language(self) -> str:
        language = self.cleaned_data["language"].strip().lower()
        if not _LANGUAGE.match(language):
            raise forms.ValidationError("Use a language code such as en, de or pt-br.")
        return language


# the taxonomy fields the queue filters by (each a QueueFilters attribute and an index)
_FILTERED_FIELDS = ("category", "priority", "queue")


class QueueFilterForm(forms.Form):
    """The queue's filters, from the URL (GET), so a view can be bookmarked and shared.

    Invalid values are dropped, not reported: a stale bookmark still opens the queue.
    """

    q = forms.CharField(required=False, max_length=200, label="Search")
    category = forms.ChoiceField(required=False)
    priority = forms.ChoiceField(required=False)
    queue = forms.ChoiceField(required=False)
    channel = forms.ChoiceField(required=False)
    confidence_below = forms.TypedChoiceField(
        required=False,
        coerce=float,
        empty_value=None,
        choices=[("", "Any confidence"), ("0.5", "Below 50%"), ("0.6", "Below 60%"), ("0.8", "Below 80%")],
        label="Confidence",
    )
    low = forms.BooleanField(
        required=False,
        label="Flagged LOW",
        help_text="Below the level where the model's held-out accuracy fell under 70%, per field",
    )
    created_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(required=False)
    mine = forms.BooleanField(required=False, label="Assigned to me")

    def __init__(
        self, data: Mapping[str, str], *, choices: Mapping[str, Sequence[tuple[str, str]]], sorts, channels
    ):
        super().__init__(data)
        for name in _FILTERED_FIELDS:
            _choice_field(self, name).choices = [("", f"Any {name}"), *choices[name]]
        _choice_field(self, "channel").choices = [("", "Any channel"), *channels]
        _choice_field(self, "sort").choices = list(sorts.items())

    def cleaned_or_empty(self) -> dict[str, Any]:
        """The valid fields only: an invalid one is ignored."""
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if name not in self.errors}


# ?status= keys; "processing" covers both worker stages, since to a reviewer they mean "not yet".
STATUS_FILTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "processing": ("Processing", (Ticket.Status.PROCESSING, Ticket.Status.TRIAGING)),
    "needs_review": ("Needs review", (Ticket.Status.NEEDS_REVIEW,)),
    "manual_triage": ("Manual triage", (Ticket.Status.MANUAL_TRIAGE,)),
    # "reviewed" is the Open tab's key since before the lifecycle: links to it keep working
    "reviewed": ("Open", (Ticket.Status.REVIEWED,)),
    "pending": ("Pending", (Ticket.Status.PENDING,)),
    "solved": ("Solved", (Ticket.Status.SOLVED,)),
    "closed": ("Closed", (Ticket.Status.CLOSED,)),
}


def queue_filter_form(data: Mapping[str, str], *, taxonomy: Taxonomy) -> QueueFilterForm:
    """The queue's filter form over `data` (the queue page's and the API list's query string)."""
    return QueueFilterForm(
        data,
        choices={name: [(e.value, e.label) for e in taxonomy.entries(name)] for name in _FILTERED_FIELDS},
        sorts=QUEUE_SORTS,
        channels=Ticket.Channel.choices,
    )


def queue_filters(
    *, status_filter: str, form: QueueFilterForm, taxonomy: Taxonomy, user_id: int | None
) -> QueueFilters:
    """The selector's filters from the form's valid fields (an invalid one is ignored)."""
    statuses = STATUS_FILTERS[status_filter][1] if status_filter in STATUS_FILTERS else ()
    values = form.cleaned_or_empty()
    return QueueFilters(
        statuses=statuses,
        category=values.get("category") or "",
        priority=values.get("priority") or "",
        queue=values.get("queue") or "",
        channel=values.get("channel") or "",
        confidence_below=values.get("confidence_below"),
        created_from=values.get("created_from"),
        created_to=values.get("created_to"),
        q=values.get("q") or "",
        sort=values.get("sort") or "work",
        urgent=tuple(e.value for e in taxonomy.priorities[-2:]),  # listed lowest to highest
        assignee_id=user_id if values.get("mine") else None,
        low=bool(values.get("low")),
    )


class ReportFilterForm(forms.Form):
    """The dashboard's filters, read from the query string (so a filtered view is a link)."""

    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To")
    queue = forms.ChoiceField(required=False)
    channel = forms.ChoiceField(required=False)
    category = forms.ChoiceField(required=False)

    def __init__(self, *args, choices: Mapping[str, Sequence[tuple[str, str]]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("queue", "channel", "category"):
            _choice_field(self, name).choices = [("", "All"), *choices[name]]

    def _clean_day(self, name: str) -> date | None:
        day = self.cleaned_data.get(name)
        if day is None:
            return None
        first = date(settings.TRIAGE_REPORT_FIRST_YEAR, 1, 1)
        last = timezone.localdate() + timedelta(days=366)
        if not first <= day <= last:
            raise forms.ValidationError(
                f"Enter a date between {first:%Y-%m-%d} and {last:%Y-%m-%d}.", code="out_of_range"
            )
        return day

    def clean_date_from(self) -> date | None:
        return self._clean_day("date_from")

    def clean_date_to(self) -> date | None:
        return self._clean_day("date_to")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError("'From' must not be after 'To'.")
        if start and end and (end - start).days + 1 > settings.TRIAGE_REPORT_MAX_DAYS:
            raise forms.ValidationError(
                f"The range spans {(end - start).days + 1:,} days; at most "
                f"{settings.TRIAGE_REPORT_MAX_DAYS:,} are shown at once. Leave both dates empty "
                "for all time.",
                code="too_long",
            )
        return data


# --- Roles: the taxonomy editor and the users page ----------------------------------------------
class TaxonomyAddForm(forms.Form):
    field = forms.ChoiceField(choices=[(f, f.capitalize()) for f in TAXONOMY_FIELDS])
    value = forms.SlugField(
        max_length=64, help_text="Stable machine name stored on tickets, e.g. 'refunds'. Cannot change later."
    )
    label = forms.CharField(max_length=120)


class TaxonomyRenameForm(forms.Form):
    label = forms.CharField(max_length=120)


class UserCreateForm(forms.Form):
    username = forms.RegexField(regex=r"^[\w.@+-]+\Z", max_length=150)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(help_text="The invitation goes here: a link to choose their own password.")
    role = forms.ChoiceField(choices=[("agent", "Agent"), ("manager", "Manager"), ("admin", "Administrator")])


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(choices=[("agent", "Agent"), ("manager", "Manager"), ("admin", "Administrator")])


# --- Sign-in throttling ---------------------------------------------------------------------------
def throttled_error(wait_s: int, *, what: str = "failed sign-ins") -> forms.ValidationError:
    minutes = -(-wait_s // 60)
    return forms.ValidationError(
        "Too many %(what)s. Try again in %(minutes)d minute%(s)s.",
        code="throttled",
        params={"what": what, "minutes": minutes, "s": "" if minutes == 1 else "s"},
    )


def client_address(request: object) -> str:
    """The client's address as the server saw it (never a header the client could set)."""
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""  # type: ignore[attr-defined]


class ThrottledLoginMixin(AuthenticationForm):
    """Counts the attempt before the password is checked (services/login_throttle.py) and refuses it,
    without checking the password, past a limit: concurrent guesses are counted as they arrive."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        if not username or not self.cleaned_data.get("password"):
            return super().clean()  # nothing to check: nothing to count
        ip = client_address(self.request)
        wait = login_attempt_begin(username=username, ip=ip)
        if wait:
            raise throttled_error(wait)
        cleaned = super().clean()  # a wrong password raises: it stays counted
        login_attempt_succeeded(username=username, ip=ip)
        return cleaned


class ThrottledAuthenticationForm(ThrottledLoginMixin):
    pass


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass


# --- Conversation: replies, notes, macros, the acknowledgement -----------------------------------
class EmailListField(forms.CharField):
    """Addresses separated by commas, semicolons or new lines; each one validated."""

    def to_python(self, value) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        items = [item.strip() for item in re.split(r"[,;\n]+", text) if item.strip()]
        for item in items:
            validate_email(item)
        return list(dict.fromkeys(items))


class ReplyForm(forms.Form):
    to = EmailListField(label="To", max_length=2000)
    cc = EmailListField(label="Cc", required=False, max_length=2000)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), max_length=50_000)
    attachments = MultipleFileField(
        required=False,
        allow_empty_file=True,
        label="Images",
        widget=MultipleFileInput(attrs={"accept": ",".join(ACCEPTED_IMAGE_TYPES)}),
    )

    def clean_attachments(self) -> list[UploadedFile]:
        files: list[UploadedFile] = self.cleaned_data["attachments"]
        errors = []
        for upload in files:
            try:
                checked = upload_check(fileobj=upload, name=upload.name or "", size_bytes=upload.size or 0)
            except MediaRejected as exc:
                errors.append(forms.ValidationError(f"'{upload.name}': {exc.reason}", code="rejected"))
                continue
            if checked.sniff.kind != "image":
                errors.append(
                    forms.ValidationError(f"'{upload.name}': replies carry images only", code="rejected")
                )
        if len(files) > settings.DATA_UPLOAD_MAX_NUMBER_FILES:
            errors.append(forms.ValidationError(f"At most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} images."))
        if errors:
            raise forms.ValidationError(errors)
        return files


class NoteForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=20_000, label="Internal note")


class MacroForm(forms.Form):
    name = forms.CharField(max_length=120)
    queue = forms.ChoiceField(required=False, label="Queue")
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), label="Text")
    set_status = forms.ChoiceField(required=False, label="Set status")
    set_priority = forms.ChoiceField(required=False, label="Set priority")
    set_queue = forms.ChoiceField(required=False, label="Move to queue")
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(
        self,
        *args,
        queues: list[tuple[str, str]],
        priorities: list[tuple[str, str]],
        statuses: list[tuple[str, str]],
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        for name, first, options in (
            ("queue", "Every queue", queues),
            ("set_queue", "—", queues),
            ("set_priority", "—", priorities),
            ("set_status", "—", statuses),
        ):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = [("", first), *options]


class AckTemplateForm(forms.Form):
    language = forms.CharField(
        max_length=16, required=False, help_text="Empty: the default for every language."
    )
    subject = forms.CharField(max_length=300)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}))

    def clean_language(self) -> str:
        value = self.cleaned_data["language"].strip().lower()
        if value and not _LANGUAGE.match(value):
            raise forms.ValidationError("Use an ISO 639-1 code such as en, de or pt-br.")
        return value
