"""KimiClient with media: video parts inline or uploaded, and the token estimate before a heavy request."""

from __future__ import annotations

import base64

from tests.kimi_fake import BILLING_REPLY, KimiFake
from triage.adapters.llm.base import ImagePart, TicketInput, VideoPart
from triage.adapters.llm.kimi import CONTEXT_WINDOW_TOKENS, KimiClient
from triage.taxonomy_defaults import taxonomy_from_rows

TAXONOMY = taxonomy_from_rows()
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8  # 2 KB of "video"


def _ticket(**kw: object) -> TicketInput:
    defaults: dict = {"ticket_id": 9, "subject": "Crash on save", "body": "See the recording."}
    return TicketInput(**{**defaults, **kw})


def _client(fake: KimiFake, **kw: object) -> KimiClient:
    options: dict = {"api_key": "sk-test", "base_url": fake.base_url, "timeout_s": 5.0, "max_retries": 0}
    return KimiClient(**{**options, **kw})


def _parts(body: dict, kind: str) -> list[dict]:
    return [p for p in body["messages"][1]["content"] if p["type"] == kind]


def _video(data: bytes = MP4) -> VideoPart:
    return VideoPart(data=data, mime="video/mp4", label="recording 'save.mov' (3 s)", filename="save.mov.mp4")


def test_a_small_video_goes_inline_as_a_base64_video_url_after_its_label(kimi_fake):
    kimi_fake.reply_json(BILLING_REPLY)
    outcome = _client(kimi_fake).triage(_ticket(videos=(_video(),)), TAXONOMY)
    assert outcome.ok, outcome.error_message
    (body,) = kimi_fake.requests
    (part,) = _parts(body, "video_url")
    url = part["video_url"]["url"]
    assert url.startswith("data:video/mp4;base64,") and base64.b64decode(url.split(",", 1)[1]) == MP4
    content = body["messages"][1]["content"]
    assert content[content.index(part) - 1] == {"type": "text", "text": "recording 'save.mov' (3 s)"}
    assert kimi_fake.uploads == []


def test_a_large_video_is_uploaded_referenced_as_ms_and_deleted_afterwards(kimi_fake):
    kimi_fake.reply_json(BILLING_REPLY)
    outcome = _client(kimi_fake, inline_video_max_bytes=1000).triage(_ticket(videos=(_video(),)), TAXONOMY)
    assert outcome.ok, outcome.error_message
    (upload,) = kimi_fake.uploads
    assert (
        upload["purpose"] == "video" and upload["bytes"] == len(MP4) and upload["filename"] == "save.mov.mp4"
    )
    (part,) = _parts(kimi_fake.requests[0], "video_url")
    assert part["video_url"]["url"] == f"ms://{upload['id']}"
    assert kimi_fake.deleted == [upload["id"]] and kimi_fake.files == {}
    assert outcome.extra["uploaded_files"] == [upload["id"]] and outcome.extra["undeleted_files"] == []


def test_the_uploaded_video_is_deleted_even_when_the_chat_call_fails(kimi_fake):
    kimi_fake.reply_error(400, "invalid_request_error", "Invalid request: video too long")
    outcome = _client(kimi_fake, inline_video_max_bytes=1000).triage(_ticket(videos=(_video(),)), TAXONOMY)
    assert not outcome.ok and outcome.error_kind == "bad_input"
    assert len(kimi_fake.uploads) == 1 and kimi_fake.files == {}


def test_a_refused_upload_is_reported_not_raised(kimi_fake):
    kimi_fake.upload_error = (400, "invalid_request_error", "File size is too large, max file size is 100MB")
    outcome = _client(kimi_fake, inline_video_max_bytes=1000).triage(_ticket(videos=(_video(),)), TAXONOMY)
    assert not outcome.ok and outcome.error_kind == "bad_input"
    assert "max file size is 100MB" in outcome.error_message
    assert kimi_fake.requests == []  # no chat call with a reference to nothing


def test_a_request_with_a_video_is_measured_with_the_estimate_endpoint_first(kimi_fake):
    kimi_fake.estimate_total = 5321
    kimi_fake.reply_json(BILLING_REPLY)
    outcome = _client(kimi_fake).triage(_ticket(videos=(_video(),)), TAXONOMY)
    assert outcome.ok
    (estimate,) = kimi_fake.estimate_requests
    assert estimate["model"] == "kimi-k2.6"
    assert estimate["messages"] == kimi_fake.requests[0]["messages"]  # the same body as the chat
    assert outcome.extra["estimated_prompt_tokens"] == 5321


def test_many_images_are_measured_a_short_text_ticket_is_not(kimi_fake):
    images = tuple(ImagePart(data=PNG, mime="image/png", label=f"screenshot {i}") for i in range(3))
    kimi_fake.reply_json(BILLING_REPLY)
    kimi_fake.reply_json(BILLING_REPLY)
    client = _client(kimi_fake, estimate_min_images=3)
    assert client.triage(_ticket(), TAXONOMY).extra["estimated_prompt_tokens"] is None
    assert kimi_fake.estimate_requests == []
    assert client.triage(_ticket(images=images), TAXONOMY).extra["estimated_prompt_tokens"] > 0
    assert len(kimi_fake.estimate_requests) == 1


def test_a_request_over_the_context_window_is_not_sent(kimi_fake):
    kimi_fake.estimate_total = CONTEXT_WINDOW_TOKENS - 100
    outcome = _client(kimi_fake, max_completion_tokens=4096).triage(_ticket(videos=(_video(),)), TAXONOMY)
    assert not outcome.ok and outcome.error_kind == "bad_input"
    assert "window" in outcome.error_message and str(CONTEXT_WINDOW_TOKENS - 100) in outcome.error_message
    assert kimi_fake.requests == []


def test_an_estimate_endpoint_that_fails_does_not_stop_the_triage(kimi_fake):
    kimi_fake.estimate_status = 503
    kimi_fake.reply_json(BILLING_REPLY)
    outcome = _client(kimi_fake).triage(_ticket(videos=(_video(),)), TAXONOMY)
    assert outcome.ok
    assert outcome.extra["estimated_prompt_tokens"] is None
    assert (
        "503" in outcome.extra["estimate_error"] or "InternalServerError" in outcome.extra["estimate_error"]
    )
