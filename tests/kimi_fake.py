"""A local HTTP server that speaks Kimi's wire format and rejects what the real API rejects.

The real `openai` SDK talks to it over HTTP, so its retries, timeouts and parsing run for real.
Scripted answers are served in order; every chat request is validated first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

KNOWN_MODELS = {"kimi-k2.6", "kimi-k2.5"}
FIXED_SAMPLING = ("temperature", "top_p", "n", "presence_penalty", "frequency_penalty")


def chat_completion_body(
    content: str,
    *,
    model: str = "kimi-k2.6",
    prompt_tokens: int = 1200,
    completion_tokens: int = 180,
    cached_tokens: int = 0,
    reasoning: str | None = None,
) -> dict:
    message: dict = {"role": "assistant", "content": content}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "cached_tokens": cached_tokens,
        },
    }


def _error(status: int, kind: str, message: str, headers: dict | None = None) -> Response:
    return Response(
        json.dumps({"error": {"type": kind, "message": message}}),
        status=status,
        headers=headers or {},
        content_type="application/json",
    )


def validate_chat_request(request: Request, body: dict) -> Response | None:
    """What the real API refuses (kimi-api.md §0, §5, §6, §7)."""
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        return _error(401, "invalid_authentication_error", "Invalid Authentication")
    if body.get("model") not in KNOWN_MODELS:
        return _error(
            404, "resource_not_found_error", f"Not found the model {body.get('model')} or Permission denied"
        )
    for name in FIXED_SAMPLING:
        if name in body:
            return _error(
                400, "invalid_request_error", f"invalid {name}: only the default is allowed for this model"
            )
    thinking = (body.get("thinking") or {}).get("type", "enabled")
    choice = body.get("tool_choice")
    if thinking == "enabled" and (choice == "required" or isinstance(choice, dict)):
        kind = "required" if choice == "required" else "specified"
        return _error(
            400, "invalid_request_error", f"tool_choice '{kind}' is incompatible with thinking enabled"
        )
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if part.get("type") == "image_url":
                    url = (
                        part["image_url"]["url"] if isinstance(part["image_url"], dict) else part["image_url"]
                    )
                    if not (url.startswith("data:") or url.startswith("ms://")):
                        return _error(400, "invalid_request_error", "Invalid request: unsupported image url")
    if len(request.get_data()) > 100 * 1024 * 1024:
        return _error(400, "invalid_request_error", "Invalid request: request body exceeds 100M")
    return None


@dataclass
class KimiFake:
    server: HTTPServer
    requests: list[dict] = field(default_factory=list)
    _script: list = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.server.url_for("/v1").rstrip("/")

    def reply_json(self, obj: object, *, reasoning: str | None = None, **usage: int) -> None:
        content = obj if isinstance(obj, str) else json.dumps(obj)
        body = chat_completion_body(content, reasoning=reasoning, **usage)
        self._script.append(
            lambda: Response(
                json.dumps(body), content_type="application/json", headers={"x-trace-id": "trace-test"}
            )
        )

    def reply_error(self, status: int, kind: str, message: str, *, headers: dict | None = None) -> None:
        self._script.append(lambda: _error(status, kind, message, headers))

    def reply_slow(self, seconds: float, obj: object) -> None:
        content = obj if isinstance(obj, str) else json.dumps(obj)

        def slow() -> Response:
            time.sleep(seconds)
            return Response(json.dumps(chat_completion_body(content)), content_type="application/json")

        self._script.append(slow)

    def _handle(self, request: Request) -> Response:
        body = json.loads(request.get_data() or b"{}")
        self.requests.append(body)
        if (refusal := validate_chat_request(request, body)) is not None:
            return refusal
        if not self._script:
            return _error(500, "server_error", "the fake has no scripted answer left")
        return self._script.pop(0)()


@pytest.fixture
def kimi_fake(httpserver: HTTPServer) -> Iterator[KimiFake]:
    fake = KimiFake(server=httpserver)
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(fake._handle)
    yield fake
