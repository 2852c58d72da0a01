"""Uploaded bytes never run script in our origin: sniffed types, downloads for anything not a plain
image or video, nosniff and a sandboxing CSP on every media response."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import AttachmentFactory, RenditionFactory, TicketFactory, png_bytes
from triage.models import Attachment

pytestmark = pytest.mark.django_db

SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"><script>alert(1)</script></svg>'
)
HTML = b"<!doctype html><html><body><script>fetch('/users/')</script></body></html>"


def _assert_cannot_run_script(response, *, inline: bool) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    csp = response["Content-Security-Policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp
    disposition = response["Content-Disposition"]
    assert disposition.startswith("inline" if inline else "attachment"), disposition


@pytest.mark.parametrize(
    ("content", "mime", "name"),
    [(SVG, "image/svg+xml", "logo.svg"), (HTML, "text/html", "page.html"), (HTML, "image/png", "x.png")],
)
def test_a_stored_svg_or_html_is_downloaded_never_rendered(agent, content, mime, name):
    """Even if such a file had got in, with whatever type: a download in a sandbox."""
    attachment = AttachmentFactory(content=content, mime=mime, extension="bin", original_name=name)
    response = agent.get(reverse("triage:attachment-file", kwargs={"attachment_id": attachment.id}))
    assert response.status_code == 200 and response["Content-Type"].startswith(mime)
    _assert_cannot_run_script(response, inline=mime == "image/png")  # png bytes-or-not: nosniff


def test_screenshots_and_renditions_still_show_inline_and_sandboxed(agent):
    rendition = RenditionFactory(attachment=AttachmentFactory(content=png_bytes()))
    for name, kwargs in (
        ("triage:attachment-file", {"attachment_id": rendition.attachment_id}),
        ("triage:rendition-file", {"rendition_id": rendition.id}),
    ):
        response = agent.get(reverse(name, kwargs=kwargs))
        assert response["Content-Type"] == "image/png"
        _assert_cannot_run_script(response, inline=True)


@pytest.mark.parametrize(("content", "name"), [(SVG, "chart.svg"), (HTML, "shot.png"), (SVG, "clip.mp4")])
def test_uploading_svg_or_html_is_refused_by_its_bytes(agent, content, name):
    ticket_count_before = TicketFactory._meta.model.objects.count()
    response = agent.post(
        reverse("triage:ticket-create"),
        {"subject": "See attached", "attachments": [SimpleUploadedFile(name, content, "image/png")]},
    )
    page = response.content.decode()
    stored = Attachment.objects.filter(mime__in=("image/svg+xml", "text/html"))
    assert not stored.exists()
    if response.status_code == 200:  # the form again, with the reason
        assert name in page and TicketFactory._meta.model.objects.count() == ticket_count_before
    else:  # the ticket was created and the file recorded as rejected, never as something to show
        assert response.status_code == 302
        assert not Attachment.objects.filter(original_name=name, status=Attachment.Status.DONE).exists()
