"""A recording on the ticket page, in a real browser: clicking a frame of the strip, or the moment of
a line of its text, plays the recording from that moment; a strip wider than its card shows that
it scrolls (it fades out at the edge)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_review_flow import log_in, shot
from tests.factories import AttachmentFactory, RenditionFactory, UserFactory, taxonomy_rows, triaged_ticket
from triage.demo_media import render_recording
from triage.models import Rendition, RenditionText

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_frame_or_a_line_plays_the_recording_from_its_moment(live_server, page: Page, tmp_path):
    taxonomy_rows()
    UserFactory(username="kim")
    ticket = triaged_ticket(subject="Checkout crashes")
    path = tmp_path / "crash.webm"
    render_recording(path, seconds=6, width=320, height=180, fps=5, container="webm")
    video = AttachmentFactory(
        ticket=ticket,
        video=True,
        content=path.read_bytes(),
        extension="webm",
        mime="video/webm",
        original_name="crash.webm",
        width=320,
        height=180,
        duration_s=6.0,
    )
    for index in range(10):  # more frames than the card is wide
        frame = RenditionFactory(
            attachment=video, kind=Rendition.Kind.FRAME, index=index, timestamp_ms=index * 500
        )
        if index == 3:
            RenditionText.objects.create(rendition=frame, text="Payment failed")

    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, live_server.url, "kim")
    page.goto(f"{live_server.url}/tickets/{ticket.id}/")
    player = page.locator("video.player")
    expect(player).to_have_attribute("aria-label", "Recording crash.webm")
    page.wait_for_function("document.querySelector('video.player').readyState >= 1")  # metadata read

    def position() -> float:
        return page.evaluate("document.querySelector('video.player').currentTime")

    strip = page.get_by_role("list", name="Frames sampled for the model")
    frame = strip.locator('[data-seek="4.000"]')  # the frame at 4.0 s
    expect(frame).to_have_attribute("aria-label", "Play from 00:04.0")
    frame.click()
    expect(player).to_be_focused()
    page.wait_for_function("Math.abs(document.querySelector('video.player').currentTime - 4.0) < 0.6")
    assert 4.0 <= position() < 4.6, position()

    page.get_by_text("Text read from the recording (1 line").click()  # unfold it
    line = page.locator(".ocr-lines li", has_text="Payment failed")  # read first at 1.5 s
    line.get_by_role("link", name="Play from 00:01.5").click()
    page.wait_for_function("Math.abs(document.querySelector('video.player').currentTime - 1.5) < 0.6")
    assert 1.5 <= position() < 2.1, position()
    assert page.url.endswith(f"/tickets/{ticket.id}/")  # the links seek; they do not navigate

    # the strip scrolls sideways, and says so: in words, and it fades out at its right edge
    expect(page.locator(".frames-hint")).to_contain_text("the strip scrolls sideways")
    assert strip.evaluate("s => s.scrollWidth > s.clientWidth"), "ten frames should not fit the card"
    assert (
        strip.evaluate("s => getComputedStyle(s).maskImage || getComputedStyle(s).webkitMaskImage") != "none"
    )
    shot(page, "ticket-recording-seek")
