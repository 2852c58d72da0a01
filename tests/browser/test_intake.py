"""The new-ticket page's intake in a real browser: drop, paste, several uploads with progress,
checks before sending and again on the server, screen recording, and the stages a real worker
moves each attachment through on the ticket page."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, Request, expect

from tests.browser.conftest import CHROMIUM
from tests.browser.test_review_flow import log_in, shot
from tests.factories import FAKE_MP4, UserFactory, png_bytes, taxonomy_rows
from tests.views.test_ticket_create import noise_png
from tests.worker import wait_for
from triage.demo_media import render_recording, render_screenshot
from triage.models import Attachment, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

UPLOAD_PATH = "/tickets/uploads/"
HTML_AS_PNG = b"<!doctype html><script>alert(1)</script>"

# Builds Files in the page from base64 and hands them over as a user would: dropped on the zone, or
# pasted (Ctrl/Cmd+V) into the description.
_FILES_JS = """
(specs) => {
  const data = new DataTransfer();
  for (const spec of specs) {
    const raw = atob(spec.b64);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    data.items.add(new File([bytes], spec.name, { type: spec.type }));
  }
  return data;
}
"""
DROP_JS = f"""
(specs) => {{
  const data = ({_FILES_JS})(specs);
  const zone = document.querySelector("#dropzone");
  for (const type of ["dragenter", "dragover", "drop"]) {{
    zone.dispatchEvent(new DragEvent(type, {{ dataTransfer: data, bubbles: true, cancelable: true }}));
  }}
}}
"""
PASTE_JS = f"""
(specs) => {{
  const data = ({_FILES_JS})(specs);
  const target = document.querySelector("#id_description");
  target.focus();
  target.dispatchEvent(new ClipboardEvent("paste", {{ clipboardData: data, bubbles: true, cancelable: true }}));
}}
"""


def spec(name: str, data: bytes, mime: str) -> dict[str, str]:
    return {"name": name, "type": mime, "b64": base64.b64encode(data).decode()}


@pytest.fixture(autouse=True)
def _taxonomy():
    taxonomy_rows()


@pytest.fixture
def uploads(page: Page) -> list[Request]:
    """Every request the page sends to the upload endpoint."""
    seen: list[Request] = []
    page.on("request", lambda request: seen.append(request) if UPLOAD_PATH in request.url else None)
    return seen


def open_form(page: Page, base: str) -> None:
    UserFactory(username="rita")
    log_in(page, base, "rita")
    page.goto(f"{base}/tickets/new/")
    expect(page.locator("#dropzone")).to_have_class(re.compile(r"\bis-enhanced\b"))
    page.get_by_label("Subject").fill("Checkout fails after paying")


def file_row(page: Page, name: str):
    return page.locator(f'#file-list li[data-file="{name}"]')


def test_dropped_pasted_and_picked_files_upload_with_progress_then_make_one_ticket(
    live_server, page: Page, uploads
):
    open_form(page, live_server.url)
    first, second = png_bytes(320, 200, (200, 30, 30)), png_bytes(300, 180, (30, 160, 60))
    page.evaluate(DROP_JS, [spec("first.png", first, "image/png"), spec("second.png", second, "image/png")])
    page.evaluate(PASTE_JS, [spec("image.png", png_bytes(200, 120, (20, 40, 220)), "image/png")])
    page.get_by_label("Screenshots and recordings").set_input_files(
        [{"name": "picked.png", "mimeType": "image/png", "buffer": png_bytes(64, 64, (90, 90, 90))}]
    )

    rows = page.locator("#file-list li")
    expect(rows).to_have_count(4)
    pasted = page.locator('#file-list li[data-file^="pasted-"]')
    expect(pasted).to_have_count(1)
    assert re.fullmatch(r"pasted-\d{4}-\d\d-\d\d-\d{4}\.png", pasted.get_attribute("data-file") or "")
    expect(page.locator("#id_description")).to_have_value("")  # the paste was taken as a file, not text
    for i in range(4):
        row = rows.nth(i)
        expect(row).to_have_class(re.compile(r"\bfile-uploaded\b"))
        expect(row.locator("progress")).to_have_attribute("value", "100")
        expect(row.locator("img.file-thumb")).to_have_count(1)
    size = f"{len(first)} B" if len(first) < 1024 else f"{round(len(first) / 1024)} KB"
    expect(file_row(page, "first.png")).to_contain_text(f"{size} · uploaded")
    assert len(uploads) == 4 and all(r.method == "POST" for r in uploads)

    # removed before sending: uploaded, but not attached
    file_row(page, "second.png").get_by_role("button", name="Remove").click()
    expect(rows).to_have_count(3)
    shot(page, "intake-create-page")

    with page.expect_request(lambda r: r.url.endswith("/tickets/new/") and r.method == "POST") as created:
        page.get_by_role("button", name="Create ticket").dblclick()  # an impatient double click: one ticket
    body = created.value.post_data_buffer or b""
    assert first not in body  # the bytes went ahead; the form carries tokens
    expect(page).to_have_url(re.compile(r"/tickets/\d+/$"))
    ticket = Ticket.objects.get()
    names = list(ticket.attachments.values_list("original_name", flat=True))
    assert names[0] == "first.png" and names[2] == "picked.png" and names[1].startswith("pasted-")
    expect(page.locator(".messages[role=status]")).to_contain_text(
        f"{ticket.reference} created with 3 attachments"
    )


def test_an_oversize_and_a_wrong_type_file_are_refused_before_sending_and_by_the_server(
    live_server, page: Page, uploads, settings
):
    settings.TRIAGE_MAX_IMAGE_BYTES = 2000
    big = png_bytes(400, 300, (10, 200, 30)) + b"\0" * 2500
    notes = b"just some notes, not a picture\n"
    open_form(page, live_server.url)
    page.evaluate(DROP_JS, [spec("big.png", big, "image/png"), spec("notes.txt", notes, "text/plain")])

    expect(file_row(page, "big.png")).to_contain_text("'big.png' is larger than 2 KB.")
    expect(file_row(page, "notes.txt")).to_contain_text(
        "'notes.txt' is not a screenshot or recording this form takes (text/plain)."
    )
    expect(page.locator("#file-list li.file-refused")).to_have_count(2)
    page.get_by_role("button", name="Create ticket").click()
    expect(page.locator("#intake-error")).to_have_text(
        "Remove the files marked in red before creating the ticket."
    )
    page.wait_for_timeout(300)
    assert uploads == []  # nothing went out
    expect(page).to_have_url(f"{live_server.url}/tickets/new/")
    assert not Ticket.objects.exists()

    # the same files sent straight to the server, as a script that skips the page would
    csrf = page.locator('#ticket-form input[name="csrfmiddlewaretoken"]').input_value()
    for name, data, mime, reason in [
        ("big.png", big, "image/png", "'big.png': screenshots may be at most 0 MB"),
        ("notes.txt", notes, "text/plain", "'notes.txt': not a supported screenshot or recording"),
    ]:
        response = page.request.post(
            f"{live_server.url}{UPLOAD_PATH}",
            multipart={"file": {"name": name, "mimeType": mime, "buffer": data}},
            headers={"X-CSRFToken": csrf},
        )
        assert response.status == 400
        assert reason in response.json()["error"]
    assert not Ticket.objects.exists() and not Attachment.objects.exists()


def test_a_file_the_server_refuses_loses_neither_the_form_nor_the_other_files(live_server, page: Page):
    open_form(page, live_server.url)
    page.get_by_label("Description").fill("It fails every time.")
    good = png_bytes(120, 90)
    page.evaluate(DROP_JS, [spec("good.png", good, "image/png"), spec("page.png", HTML_AS_PNG, "image/png")])

    expect(file_row(page, "good.png")).to_have_class(re.compile(r"\bfile-uploaded\b"))
    expect(file_row(page, "page.png")).to_have_class(re.compile(r"\bfile-failed\b"))
    expect(file_row(page, "page.png")).to_contain_text(
        "'page.png': not a supported screenshot or recording (looks like HTML)"
    )
    page.get_by_role("button", name="Create ticket").click()
    expect(page.locator("#intake-error")).to_contain_text("Remove the files marked in red")
    assert not Ticket.objects.exists()

    file_row(page, "page.png").get_by_role("button", name="Remove").click()
    page.get_by_role("button", name="Create ticket").click()
    expect(page).to_have_url(re.compile(r"/tickets/\d+/$"))
    ticket = Ticket.objects.get()
    assert ticket.description == "It fails every time."
    assert list(ticket.attachments.values_list("original_name", "size_bytes")) == [("good.png", len(good))]


def test_create_waits_for_uploads_still_running(live_server, page: Page):
    open_form(page, live_server.url)
    # hold the upload until the button has been pressed
    held: list = []
    page.route(f"**{UPLOAD_PATH}", lambda route: held.append(route))
    page.evaluate(DROP_JS, [spec("slow.png", png_bytes(100, 100), "image/png")])
    expect(file_row(page, "slow.png")).to_have_class(re.compile(r"\bfile-uploading\b"))
    page.get_by_role("button", name="Create ticket").click()
    expect(page.get_by_role("button", name="Waiting for the uploads…")).to_be_disabled()
    assert not Ticket.objects.exists()
    for _ in range(100):  # the route handler runs while Playwright is waiting, not in time.sleep
        if held:
            break
        page.wait_for_timeout(100)
    held[0].continue_()
    expect(page).to_have_url(re.compile(r"/tickets/\d+/$"))
    assert Ticket.objects.get().attachments.get().original_name == "slow.png"


def test_the_record_button_is_hidden_without_the_screen_capture_api(live_server, page: Page):
    page.add_init_script("delete MediaDevices.prototype.getDisplayMedia;")
    open_form(page, live_server.url)
    expect(page.locator("#recorder")).to_be_hidden()
    expect(page.locator("#dropzone .dropzone-prompt")).to_be_visible()


# --- screen recording: Chromium's fake capture picks the screen without a dialog, headless --------


@pytest.fixture(scope="module")
def capture_browser(playwright: Playwright) -> Browser:
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            "--auto-select-desktop-capture-source=Entire screen",
        ],
    )
    yield browser
    browser.close()


def test_a_screen_recording_stops_at_the_cap_is_previewed_added_and_processed(
    live_server, capture_browser: Browser, settings, start_worker
):
    settings.TRIAGE_SCREEN_RECORDING_MAX_S = 2
    page = capture_browser.new_page(viewport={"width": 1280, "height": 900})
    open_form(page, live_server.url)
    recorder = page.locator("#recorder")
    expect(recorder).to_be_visible()

    expect(page.locator("#record-preview")).to_be_hidden()  # nothing to show before a recording
    recorder.get_by_role("button", name="Record the screen").click()
    expect(page.locator("#record-countdown")).to_have_text(re.compile(r"^[12] s left$"))
    expect(recorder.get_by_role("button", name="Stop recording")).to_be_visible()
    preview = page.locator("#record-preview")
    expect(preview).to_be_visible(timeout=8000)  # stopped by itself at the cap
    assert (preview.locator("video").get_attribute("src") or "").startswith("blob:")
    assert (
        preview.locator("video").evaluate(
            "v => new Promise(ok => v.readyState >= 1 ? ok(v.duration) : v.addEventListener('loadedmetadata', () => ok(v.duration)))"
        )
        is not None
    )
    assert page.locator("#file-list li").count() == 0  # not added until the person says so

    recorder.get_by_role("button", name="Record again").click()
    expect(preview).to_be_hidden()
    expect(page.locator("#record-countdown")).to_have_text("1 s left")
    recorder.get_by_role("button", name="Stop recording").click()  # stopped by hand this time
    expect(preview).to_be_visible(timeout=8000)
    recorder.get_by_role("button", name="Discard").click()
    expect(preview).to_be_hidden()
    assert page.locator("#file-list li").count() == 0

    recorder.get_by_role("button", name="Record the screen").click()
    expect(preview).to_be_visible(timeout=8000)
    shot(page, "intake-recording-preview")
    recorder.get_by_role("button", name="Add the recording").click()
    expect(preview).to_be_hidden()
    row = page.locator('#file-list li[data-file^="screen-recording-"]')
    expect(row).to_have_class(re.compile(r"\bfile-uploaded\b"), timeout=10000)
    expect(row.locator("progress")).to_have_attribute("value", "100")

    page.get_by_role("button", name="Create ticket").click()
    expect(page).to_have_url(re.compile(r"/tickets/\d+/$"))
    attachment = Attachment.objects.get()
    assert attachment.kind == Attachment.Kind.VIDEO and attachment.mime == "video/webm"
    assert re.fullmatch(r"screen-recording-\d{4}-\d\d-\d\d-\d{4}\.webm", attachment.original_name)

    # MediaRecorder's WebM has no duration in its header; the worker must still sample it
    start_worker()
    wait_for(
        lambda: Attachment.objects.get(id=attachment.id).status in Attachment.TERMINAL,
        timeout=120,
        message="the recording processed",
    )
    attachment.refresh_from_db()
    assert attachment.status == Attachment.Status.DONE, attachment.reject_reason
    assert attachment.renditions.filter(kind="FRAME").exists()
    page.close()


# --- end to end: a real worker processes what the page uploaded ---------------------------------


def test_the_ticket_page_shows_each_attachments_stage_until_done_or_rejected(
    live_server, page: Page, start_worker, settings, tmp_path: Path
):
    settings.TRIAGE_POLL_INTERVAL_S = 1
    settings.TRIAGE_OCR_ENABLED = True  # the page and the worker agree: text is read before triage
    video = tmp_path / "rec.mp4"
    render_recording(video, seconds=3, width=640, height=360, error_text="Payment failed: HTTP 500")
    screenshot = render_screenshot(title="Checkout", lines=["Total 129 EUR"], error_dialog="Payment failed")
    open_form(page, live_server.url)
    page.evaluate(
        DROP_JS,
        [
            spec("checkout.png", screenshot, "image/png"),
            spec("recording.mp4", video.read_bytes(), "video/mp4"),
            spec("broken.mp4", FAKE_MP4, "video/mp4"),  # an mp4 header, no pictures: the worker refuses it
        ],
    )
    expect(page.locator("#file-list li.file-uploaded")).to_have_count(3)
    page.get_by_role("button", name="Create ticket").click()
    expect(page).to_have_url(re.compile(r"/tickets/\d+/$"))

    stages = page.locator("#ticket-live .stages")
    expect(stages).to_have_count(3)
    for i in range(3):  # no worker yet: each file is uploaded and waits
        expect(stages.nth(i)).to_have_attribute("data-stage", "uploaded")
    expect(stages.first.locator('[aria-current="step"]')).to_have_text("Uploaded")
    shot(page, "intake-ticket-page-uploaded")

    start_worker(TRIAGE_OCR_ENABLED="1")
    expect(page.locator("#ticket-status-badge")).not_to_contain_text("Processing", timeout=120_000)
    expect(page.locator("#review-form")).to_be_visible(timeout=120_000)  # reloaded once triaged
    stages = page.locator("#ticket-live .stages")
    expect(stages.nth(0)).to_have_attribute("data-stage", "done")
    expect(stages.nth(1)).to_have_attribute("data-stage", "done")
    expect(stages.nth(2)).to_have_attribute("data-stage", "rejected")
    expect(stages.nth(0).locator(".stage-done")).to_have_text(
        ["Uploaded", "Normalizing", "Reading text", "Triaging", "Done"]
    )
    expect(stages.nth(1).locator(".stage-done")).to_have_text(
        ["Uploaded", "Sampling frames", "Reading text", "Triaging", "Done"]
    )
    broken = Attachment.objects.get(original_name="broken.mp4")
    assert broken.status == Attachment.Status.REJECTED and broken.reject_reason
    expect(page.locator("#ticket-live")).to_contain_text(f"Rejected: {broken.reject_reason[:40]}")
    expect(page.locator("#ticket-live .ocr-text").first).to_contain_text("Text read from")
    shot(page, "intake-ticket-page-stages")


def test_the_progress_bar_moves_while_a_slow_upload_runs(live_server, page: Page):
    open_form(page, live_server.url)
    cdp = page.context.new_cdp_session(page)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 256 * 1024},
    )
    # ~1 MB of incompressible pixels: about 4 s at 256 KB/s
    page.evaluate(DROP_JS, [spec("large.png", noise_png(600), "image/png")])
    bar = file_row(page, "large.png").locator("progress")
    expect(bar).to_have_attribute("value", re.compile(r"^[1-9]\d?$"), timeout=10_000)  # part way
    expect(bar).to_have_attribute("value", "100", timeout=30_000)
