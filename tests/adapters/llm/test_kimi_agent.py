"""KimiClient in depth: thinking on/off/auto, the tool-call loop, and fitting a request to its budget."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from tests.kimi_fake import BILLING_REPLY, KimiFake
from triage.adapters.llm.base import ImagePart, TicketInput, VideoPart
from triage.adapters.llm.kimi import KimiClient
from triage.taxonomy_defaults import taxonomy_from_rows

TAXONOMY = taxonomy_from_rows()


def _client(fake: KimiFake, **kw: object) -> KimiClient:
    options: dict = {"api_key": "sk-test", "base_url": fake.base_url, "timeout_s": 5.0, "max_retries": 0}
    return KimiClient(**{**options, **kw})


def _ticket(**kw: object) -> TicketInput:
    defaults: dict = {"ticket_id": 11, "subject": "Refund", "body": "Charged twice for November."}
    return TicketInput(**{**defaults, **kw})


class Lookup:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def similar_tickets(self, *, query: str, limit: int) -> list[dict]:
        self.calls.append(("similar", {"query": query, "limit": limit}))
        return [{"reference": "TRI-41", "subject": "Charged twice", "summary": "Double charge in November"}]

    def requester_tickets(self, *, limit: int) -> list[dict]:
        self.calls.append(("requester", {"limit": limit}))
        return [{"reference": "TRI-7", "subject": "Invoice address"}]


def _jpeg(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (90, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


# --- thinking ------------------------------------------------------------------------------------


def test_thinking_on_is_sent_with_the_larger_answer_budget_and_the_reasoning_is_kept(kimi_fake):
    kimi_fake.reply_json(BILLING_REPLY, reasoning="The customer mentions two charges, so billing.")
    client = _client(
        kimi_fake, thinking="on", thinking_max_completion_tokens=12000, max_completion_tokens=2000
    )
    outcome = client.triage(_ticket(), TAXONOMY)
    assert outcome.ok
    (body,) = kimi_fake.requests
    assert body["thinking"] == {"type": "enabled"} and body["max_completion_tokens"] == 12000
    assert outcome.reasoning == "The customer mentions two charges, so billing."
    assert outcome.extra["thinking"] is True and "KIMI_THINKING=on" in outcome.extra["thinking_why"]


@pytest.mark.parametrize(
    ("ticket_kw", "thinks", "why"),
    [
        ({}, False, "short, clear"),
        ({"body": "x " * 1000}, True, "long ticket"),
        ({"offline_confidence": 0.3}, True, "ambiguous"),
        ({"offline_confidence": 0.9}, False, "short, clear"),
        (
            {"images": tuple(ImagePart(data=b"i", mime="image/png", label=f"s{i}") for i in range(6))},
            True,
            "6 images",
        ),
        ({"videos": (VideoPart(data=b"v", mime="video/mp4", label="rec"),)}, True, "recording"),
    ],
)
def test_auto_thinks_on_long_or_ambiguous_tickets_only(kimi_fake, ticket_kw, thinks, why):
    client = _client(kimi_fake, thinking="auto")
    decided, reason = client.thinking_for(_ticket(**ticket_kw))
    assert decided is thinks and why in reason


def test_an_unknown_thinking_mode_is_refused_at_construction(kimi_fake):
    with pytest.raises(ValueError, match="thinking must be one of"):
        _client(kimi_fake, thinking="sometimes")


# --- tools -----------------------------------------------------------------------------------------


def test_the_model_looks_up_similar_tickets_and_its_duplicate_is_kept(kimi_fake):
    lookup = Lookup()
    kimi_fake.reply_tool_calls(
        [
            ("find_similar_tickets", {"query": "charged twice November", "limit": 3}),
            ("requester_recent_tickets", {}),
        ]
    )
    kimi_fake.reply_json({**BILLING_REPLY, "duplicate_of": [{"reference": "TRI-41", "confidence": 0.8}]})
    outcome = _client(kimi_fake, thinking="off").triage(_ticket(lookup=lookup), TAXONOMY)
    assert outcome.ok, outcome.error_message
    assert [d.reference for d in outcome.result.duplicate_of] == ["TRI-41"]
    assert lookup.calls == [
        ("similar", {"query": "charged twice November", "limit": 3}),
        ("requester", {"limit": 5}),
    ]

    first, second = kimi_fake.requests
    names = [t["function"]["name"] for t in first["tools"]]
    assert names == ["find_similar_tickets", "requester_recent_tickets"] and first["tool_choice"] == "auto"
    assistant, *tool_messages = second["messages"][-3:]
    assert [c["id"] for c in assistant["tool_calls"]] == ["call_0", "call_1"]
    assert [m["tool_call_id"] for m in tool_messages] == ["call_0", "call_1"]
    assert json.loads(tool_messages[0]["content"])["tickets"][0]["reference"] == "TRI-41"
    assert [c["name"] for c in outcome.extra["tool_calls"]] == [
        "find_similar_tickets",
        "requester_recent_tickets",
    ]


def test_with_thinking_on_the_tool_turn_carries_its_reasoning_back(kimi_fake):
    kimi_fake.reply_tool_calls([("requester_recent_tickets", {"limit": 2})], reasoning="Check history first.")
    kimi_fake.reply_json(BILLING_REPLY)
    outcome = _client(kimi_fake, thinking="on").triage(_ticket(lookup=Lookup()), TAXONOMY)
    assert outcome.ok, outcome.error_message  # the fake refuses a tool turn without reasoning_content
    assistant = kimi_fake.requests[1]["messages"][-2]
    assert assistant["reasoning_content"] == "Check history first."


def test_a_duplicate_no_tool_returned_is_dropped(kimi_fake):
    kimi_fake.reply_json({**BILLING_REPLY, "duplicate_of": [{"reference": "TRI-123", "confidence": 0.9}]})
    outcome = _client(kimi_fake, thinking="off").triage(_ticket(lookup=Lookup()), TAXONOMY)
    assert outcome.ok and outcome.result.duplicate_of == []
    assert "TRI-123" in " ".join(outcome.extra["dropped"])


def test_the_tool_loop_is_bounded(kimi_fake):
    for _ in range(2):
        kimi_fake.reply_tool_calls([("requester_recent_tickets", {})])
    kimi_fake.reply_json(BILLING_REPLY)
    outcome = _client(kimi_fake, thinking="off", max_tool_steps=2).triage(_ticket(lookup=Lookup()), TAXONOMY)
    assert outcome.ok
    assert "tools" in kimi_fake.requests[1] and "tools" not in kimi_fake.requests[2]  # the last must answer


def test_a_malformed_tool_call_gets_an_error_back_not_a_crash(kimi_fake):
    body_calls = [("find_similar_tickets", {"query": ""}), ("delete_everything", {})]
    kimi_fake.reply_tool_calls(body_calls)
    kimi_fake.reply_json(BILLING_REPLY)
    outcome = _client(kimi_fake, thinking="off").triage(_ticket(lookup=Lookup()), TAXONOMY)
    assert outcome.ok
    outputs = [json.loads(m["content"]) for m in kimi_fake.requests[1]["messages"] if m["role"] == "tool"]
    assert outputs == [
        {"error": "query must be a non-empty string"},
        {"error": "unknown tool 'delete_everything'"},
    ]


# --- fitting the budget ------------------------------------------------------------------------------


def test_an_estimate_over_the_budget_drops_frames_then_halves_images_and_says_so(kimi_fake):
    frames = tuple(
        ImagePart(
            data=_jpeg((1280, 720)),
            mime="image/jpeg",
            label=f"frame at 00:00:0{i} of recording 'r.mp4'",
            kind="frame",
        )
        for i in range(6)
    )
    shot = ImagePart(data=_jpeg((2400, 1500)), mime="image/jpeg", label="screenshot 's.png'")
    budgets = iter([9000, 8000, 7000, 6000, 3000])  # the estimate before and after each step

    def estimate(messages):
        return next(budgets)

    client = _client(kimi_fake, ticket_token_budget=4000)
    client.estimate_tokens = estimate  # the endpoint itself is covered in test_kimi_media.py
    kimi_fake.reply_json(BILLING_REPLY)
    outcome = client.triage(_ticket(images=(shot, *frames)), TAXONOMY)
    assert outcome.ok, outcome.error_message
    assert [d.split(" (")[0] for d in outcome.extra["dropped"]] == [
        "dropped 2 frame(s)",
        "dropped 1 frame(s)",
        "dropped 1 frame(s)",
        "halved the resolution of 3 image(s)",
    ]
    content = kimi_fake.requests[0]["messages"][1]["content"]
    labels = [content[i - 1]["text"] for i, p in enumerate(content) if p["type"] == "image_url"]
    # the screenshot and the recording's first and last frames survive, at half size
    assert labels == [
        "screenshot 's.png'",
        "frame at 00:00:00 of recording 'r.mp4'",
        "frame at 00:00:05 of recording 'r.mp4'",
    ]
    first = content[[p["type"] for p in content].index("image_url")]["image_url"]["url"]
    with Image.open(io.BytesIO(base64.b64decode(first.split(",", 1)[1]))) as img:
        assert img.size == (1200, 750)


def test_a_recording_sent_as_video_is_the_first_thing_replaced(kimi_fake):
    frame = ImagePart(
        data=_jpeg((640, 360)),
        mime="image/jpeg",
        label="frame at 00:00:01 of recording 'r.mp4'",
        kind="frame",
    )
    video = VideoPart(data=b"\x00" * 64, mime="video/mp4", label="recording 'r.mp4'", frames=(frame,))
    kimi_fake.estimate_total = None
    client = _client(kimi_fake, ticket_token_budget=10)
    estimates = iter([5000, 5])
    client.estimate_tokens = lambda messages: next(estimates)
    kimi_fake.reply_json(BILLING_REPLY)
    outcome = client.triage(_ticket(videos=(video,)), TAXONOMY)
    assert outcome.ok
    parts = kimi_fake.requests[0]["messages"][1]["content"]
    assert not [p for p in parts if p["type"] == "video_url"] and [
        p for p in parts if p["type"] == "image_url"
    ]
    assert outcome.extra["dropped"][0].startswith("sent 1 recording(s) as 1 frame(s) instead of video")


def test_when_nothing_is_left_to_drop_the_request_is_refused_plainly(kimi_fake):
    client = _client(kimi_fake, ticket_token_budget=10)
    client.estimate_tokens = lambda messages: 50_000
    images = tuple(ImagePart(data=b"not an image", mime="image/png", label=f"s{i}") for i in range(3))
    outcome = client.triage(_ticket(images=images), TAXONOMY)
    assert not outcome.ok and outcome.error_kind == "bad_input"
    assert "50000 input tokens" in outcome.error_message and kimi_fake.requests == []


def test_kimi_saying_the_input_is_too_long_gets_one_smaller_request(kimi_fake):
    frames = tuple(
        ImagePart(
            data=_jpeg((640, 360)),
            mime="image/jpeg",
            label=f"frame at 00:00:0{i} of recording 'r.mp4'",
            kind="frame",
        )
        for i in range(5)
    )
    kimi_fake.reply_error(400, "invalid_request_error", "Invalid request: Input token length too long")
    kimi_fake.reply_json(BILLING_REPLY)
    outcome = _client(kimi_fake, estimate_min_images=99).triage(_ticket(images=frames), TAXONOMY)
    assert outcome.ok, outcome.error_message
    first, second = kimi_fake.requests
    count = lambda body: sum(p["type"] == "image_url" for p in body["messages"][1]["content"])  # noqa: E731
    assert (count(first), count(second)) == (5, 3)
    assert "Input token length too long" in outcome.extra["dropped"][0]
