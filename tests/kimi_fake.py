"""A local HTTP server that speaks Kimi's wire format and rejects what the real API rejects.

The real `openai` SDK talks to it over HTTP, so its retries, timeouts and parsing run for real.
Scripted answers are served in the order they were queued; every chat request is validated first,
so a client that sends something Kimi refuses fails here the way it would in production
(rules and error bodies from docs/kimi.md §2, §5, §6, §7 and §9).

Usage (the `kimi_fake` fixture is registered through `pytest_plugins = ["tests.kimi_fake"]`):

    kimi_fake.reply_error(429, "engine_overloaded_error", "busy", headers={"Retry-After": "0"})
    kimi_fake.reply_json({"summary": ...})
    client = KimiClient(api_key="sk-test", base_url=kimi_fake.base_url)
    ...
    assert kimi_fake.requests[-1]["thinking"] == {"type": "disabled"}

Stored replies live in tests/fixtures/kimi/<name>.json as {"status", "headers", "body"} and are
served with `reply_fixture(name)`. They are written in the documented wire format, not captured
from the live API (unreachable from here): refresh them from a real call when a key is available.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.declared import DECLARED_GUESSES

# A valid triage reply (a German double-charge ticket) shared by the model tests.
BILLING_REPLY = {
    "summary": "The customer was charged twice for the November invoice.",
    "category": {"value": "billing", "confidence": 0.93},
    "priority": {"value": "high", "confidence": 0.7},
    "queue": {"value": "billing_team", "confidence": 0.8},
    "sentiment": {"value": "negative", "confidence": 0.66},
    "language": {"value": "de", "confidence": 0.99},
    **DECLARED_GUESSES,
}
KNOWN_MODELS = frozenset({"kimi-k2.6", "kimi-k2.5"})
# Fixed server-side for K2.5/K2.6: any value at all is a 400 (docs/kimi.md §5).
FIXED_SAMPLING = ("temperature", "top_p", "n", "presence_penalty", "frequency_penalty")
RESPONSE_FORMATS = frozenset({"text", "json_object", "json_schema"})
MAX_BODY_BYTES = 100 * 1024 * 1024
FIXTURES = Path(__file__).parent / "fixtures" / "kimi"
TRACE_ID = "trace-fake-0001"

_Reply = Callable[[], Response]


def chat_completion_body(
    content: str,
    *,
    model: str = "kimi-k2.6",
    prompt_tokens: int = 1200,
    completion_tokens: int = 180,
    cached_tokens: int = 0,
    reasoning: str | None = None,
    finish_reason: str = "stop",
) -> dict:
    """A non-streaming chat completion exactly as Kimi returns it (usage.cached_tokens is top-level)."""
    message: dict = {"role": "assistant", "content": content}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "cached_tokens": cached_tokens,
        },
    }


def error_body(kind: str, message: str) -> dict:
    return {"error": {"type": kind, "message": message}}


def load_fixture(name: str) -> dict:
    """A stored exchange from tests/fixtures/kimi/<name>.json: {"status", "headers", "body"}.

    A recorded triage reply predates a field declared later with default values (tests/declared.py):
    its guess for that field is added, so the recording still tests what it was recorded for."""
    stored = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    for choice in stored.get("body", {}).get("choices", ()) if DECLARED_GUESSES else ():
        message = choice.get("message") or {}
        if isinstance(message.get("content"), str):
            message["content"] = _with_declared(message["content"])
    return stored


def _with_declared(content: str) -> str:
    start, end = content.find("{"), content.rfind("}")
    try:
        reply = json.loads(content[start : end + 1])
    except ValueError:
        return content  # a truncated or broken reply stays as it was recorded
    if not isinstance(reply, dict) or "summary" not in reply:
        return content
    return content[:start] + json.dumps({**reply, **DECLARED_GUESSES}) + content[end + 1 :]


def _json_response(status: int, body: object, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, headers=dict(headers or {}), content_type="application/json"
    )


def _refuse(status: int, kind: str, message: str) -> Response:
    return _json_response(status, error_body(kind, message))


def _image_url(part: dict) -> str:
    value = part.get("image_url")
    return str(value.get("url", "")) if isinstance(value, dict) else str(value or "")


def _video_url(part: dict) -> str:
    value = part.get("video_url")
    return str(value.get("url", "")) if isinstance(value, dict) else str(value or "")


def validate_chat_request(
    *, headers: Mapping[str, str], raw: bytes, files: Mapping[str, dict] | None = None
) -> Response | None:
    """The refusal the real API would send for this request, or None when it would accept it."""
    # Authentication is checked before anything else, as on the real endpoint.
    auth = headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or not auth.removeprefix("Bearer ").strip():
        return _refuse(401, "invalid_authentication_error", "Invalid Authentication")
    if len(raw) > MAX_BODY_BYTES:
        return _refuse(400, "invalid_request_error", "Invalid request: request body exceeds 100M")
    try:
        body = json.loads(raw or b"")
    except ValueError:
        return _refuse(400, "invalid_request_error", "Invalid request: body is not valid JSON")
    if not isinstance(body, dict):
        return _refuse(400, "invalid_request_error", "Invalid request: body must be a JSON object")
    model = body.get("model")
    if model not in KNOWN_MODELS:
        return _refuse(404, "resource_not_found_error", f"Not found the model {model} or Permission denied")
    for name in FIXED_SAMPLING:
        if name in body:
            return _refuse(
                400, "invalid_request_error", f"invalid {name}: only the default is allowed for this model"
            )
    # Thinking is ON when the field is absent: a client that forgets to disable it gets this 400.
    thinking = (body.get("thinking") or {}).get("type", "enabled")
    choice = body.get("tool_choice")
    if thinking == "enabled" and (choice == "required" or isinstance(choice, dict)):
        kind = "required" if choice == "required" else "specified"
        return _refuse(
            400, "invalid_request_error", f"tool_choice '{kind}' is incompatible with thinking enabled"
        )
    response_format = body.get("response_format")
    if response_format is not None and (
        not isinstance(response_format, dict) or response_format.get("type") not in RESPONSE_FORMATS
    ):
        return _refuse(400, "invalid_request_error", "Invalid request: unsupported response_format")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _refuse(400, "invalid_request_error", "Invalid request: messages must be a non-empty list")
    if thinking == "enabled":
        for index, message in enumerate(messages):
            if (
                isinstance(message, dict)
                and message.get("role") == "assistant"
                and message.get("tool_calls")
                and "reasoning_content" not in message
            ):
                return _refuse(
                    400,
                    "invalid_request_error",
                    "thinking is enabled but reasoning_content is missing in assistant tool call message "
                    f"at index {index}",
                )
    for tool in body.get("tools") or []:
        name = (tool.get("function") or {}).get("name", "") if isinstance(tool, dict) else ""
        if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9\-_]{2,63}", name):
            return _refuse(400, "invalid_request_error", f"Invalid request: invalid function name {name!r}")
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for part in content:
            if isinstance(part, dict) and part.get("type") == "image_url":
                url = _image_url(part)
                # http(s) image URLs are not fetched by Kimi: only inline data or uploaded files.
                if not (url.startswith("data:") or url.startswith("ms://")):
                    return _refuse(
                        400, "invalid_request_error", "Invalid request: image url must be base64 or ms://"
                    )
            if isinstance(part, dict) and part.get("type") == "video_url":
                url = _video_url(part)
                if url.startswith("ms://"):
                    if files is not None and url.removeprefix("ms://") not in files:
                        return _refuse(400, "invalid_request_error", f"Invalid request: file {url} not found")
                elif not url.startswith("data:video/"):
                    return _refuse(
                        400, "invalid_request_error", "Invalid request: video url must be base64 or ms://"
                    )
    return None


class KimiFake:
    """Scripted Kimi replies on a real HTTP server. Unscripted requests get a 500 server_error."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.requests: list[dict] = []  # parsed JSON bodies of every chat request, refused ones too
        self.request_headers: list[dict[str, str]] = []
        self._script: list[_Reply] = []
        self._lock = threading.Lock()  # the server is threaded: a slow reply must not block the next
        self._closed = threading.Event()
        # files API: id -> {"id", "filename", "purpose", "bytes", "data"}; deleted ones are removed
        self.files: dict[str, dict] = {}
        self.uploads: list[dict] = []  # every upload, deleted or not
        self.uploaded_data: dict[str, bytes] = {}  # file id -> bytes, kept after a delete
        self.deleted: list[str] = []
        self.upload_error: tuple[int, str, str] | None = None  # (status, type, message) for every upload
        # token-estimate endpoint: the requests it got, and what it answers (None: ~4 bytes a token)
        self.estimate_requests: list[dict] = []
        self.estimate_total: int | None = None
        self.estimate_status: int = 200

    @property
    def base_url(self) -> str:
        return f"http://{self.server.host}:{self.server.port}/v1"

    @property
    def pending(self) -> int:
        """Scripted replies not consumed yet."""
        with self._lock:
            return len(self._script)

    def install(self) -> None:
        self.server.expect_request("/v1/chat/completions", method="POST").respond_with_handler(self._handle)
        self.server.expect_request("/v1/files", method="POST").respond_with_handler(self._upload)
        self.server.expect_request(re.compile(r"^/v1/files/[\w-]+$"), method="DELETE").respond_with_handler(
            self._delete
        )
        self.server.expect_request("/v1/tokenizers/estimate-token-count", method="POST").respond_with_handler(
            self._estimate
        )

    def close(self) -> None:
        self._closed.set()  # wakes any reply_slow handler still sleeping

    # --- scripting ----------------------------------------------------------------------------

    def reply_json(
        self,
        obj: object,
        *,
        usage: Mapping[str, object] | None = None,
        reasoning: str | None = None,
        finish_reason: str = "stop",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer with `obj` (a dict is JSON-encoded, a str is sent as-is) as the message content.

        `usage` overrides keys of the usage object, e.g. {"prompt_tokens": 900, "cached_tokens": 512}
        or {"prompt_tokens_details": {"cached_tokens": 512}} for the OpenAI-style field.
        """
        self.reply_body(
            self._completion(obj, usage=usage, reasoning=reasoning, finish_reason=finish_reason),
            headers=headers,
        )

    def reply_tool_calls(self, calls: list[tuple[str, dict]], *, reasoning: str | None = None) -> None:
        """Answer with tool calls [(name, arguments)] and finish_reason "tool_calls"."""
        body = chat_completion_body("", reasoning=reasoning, finish_reason="tool_calls")
        body["choices"][0]["message"]["tool_calls"] = [
            {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
            for i, (name, args) in enumerate(calls)
        ]
        self.reply_body(body)

    def reply_body(
        self, body: object, *, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        """Answer with an exact wire body (e.g. a stored fixture)."""
        merged = {"x-trace-id": TRACE_ID, **(headers or {})}
        self._queue(lambda: _json_response(status, body, merged))

    def reply_text(
        self, text: str, *, status: int = 200, content_type: str = "text/html; charset=utf-8"
    ) -> None:
        """Answer with a non-JSON body, as a proxy or gateway in front of the API might."""
        self._queue(lambda: Response(text, status=status, content_type=content_type))

    def reply_fixture(self, name: str) -> None:
        stored = load_fixture(name)
        self.reply_body(stored["body"], status=stored.get("status", 200), headers=stored.get("headers"))

    def reply_error(
        self, status: int, kind: str, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        self.reply_body(error_body(kind, message), status=status, headers=headers)

    def reply_slow(
        self, seconds: float, obj: object = "{}", *, usage: Mapping[str, object] | None = None
    ) -> None:
        """Answer after `seconds` (for client timeouts); the wait ends early when the test finishes."""
        body = self._completion(obj, usage=usage)

        def slow() -> Response:
            self._closed.wait(seconds)
            return _json_response(200, body, {"x-trace-id": TRACE_ID})

        self._queue(slow)

    # --- internals ----------------------------------------------------------------------------

    @staticmethod
    def _completion(
        obj: object,
        *,
        usage: Mapping[str, object] | None = None,
        reasoning: str | None = None,
        finish_reason: str = "stop",
    ) -> dict:
        content = obj if isinstance(obj, str) else json.dumps(obj)
        body = chat_completion_body(content, reasoning=reasoning, finish_reason=finish_reason)
        body["usage"].update(usage or {})
        usage_obj = body["usage"]
        usage_obj["total_tokens"] = int(usage_obj["prompt_tokens"]) + int(usage_obj["completion_tokens"])
        return body

    def _queue(self, reply: _Reply) -> None:
        with self._lock:
            self._script.append(reply)

    def _handle(self, request: Request) -> Response:
        raw = request.get_data()
        try:
            parsed = json.loads(raw or b"{}")
        except ValueError:
            parsed = {"_unparsed": raw.decode("utf-8", "replace")}
        with self._lock:
            self.requests.append(parsed)
            self.request_headers.append(dict(request.headers.items()))
        with self._lock:
            files = dict(self.files)
        refusal = validate_chat_request(headers=request.headers, raw=raw, files=files)
        if refusal is not None:
            return refusal
        with self._lock:
            reply = self._script.pop(0) if self._script else None
        if reply is None:
            return _refuse(500, "server_error", "the fake has no scripted answer left")
        return reply()

    def _upload(self, request: Request) -> Response:
        """POST /v1/files (multipart: file, purpose), with the limits of docs/kimi.md §2."""
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return _refuse(401, "invalid_authentication_error", "Invalid Authentication")
        upload = request.files.get("file")
        purpose = request.form.get("purpose", "")
        if upload is None:
            return _refuse(400, "invalid_request_error", "Invalid request: no file")
        if purpose not in {"file-extract", "image", "video", "batch"}:
            return _refuse(400, "invalid_request_error", f"Invalid request: invalid purpose {purpose}")
        data = upload.read()
        if self.upload_error is not None:
            return _refuse(*self.upload_error)
        if not data:
            return _refuse(400, "invalid_request_error", "File size is zero")
        if len(data) > MAX_BODY_BYTES:
            return _refuse(400, "invalid_request_error", "File size is too large, max file size is 100MB")
        with self._lock:
            file_id = f"file-fake{len(self.uploads) + 1:04d}"
            record = {"id": file_id, "filename": upload.filename, "purpose": purpose, "bytes": len(data)}
            self.files[file_id] = {**record, "data": data, "content_type": upload.content_type}
            self.uploads.append(record)
            self.uploaded_data[file_id] = data
        return _json_response(
            200,
            {
                **record,
                "object": "file",
                "created_at": int(time.time()),
                "status": "ok",
                "status_details": "",
            },
        )

    def _delete(self, request: Request) -> Response:
        file_id = request.path.rsplit("/", 1)[-1]
        with self._lock:
            found = self.files.pop(file_id, None) is not None
            if found:
                self.deleted.append(file_id)
        if not found:
            return _refuse(404, "resource_not_found_error", f"file {file_id} not found")
        return _json_response(200, {"id": file_id, "object": "file", "deleted": True})

    def _estimate(self, request: Request) -> Response:
        raw = request.get_data()
        with self._lock:
            files = dict(self.files)
        refusal = validate_chat_request(headers=request.headers, raw=raw, files=files)
        if refusal is not None:
            return refusal
        body = json.loads(raw)
        with self._lock:
            self.estimate_requests.append(body)
        if self.estimate_status != 200:
            return _refuse(self.estimate_status, "server_error", "estimate unavailable")
        total = self.estimate_total if self.estimate_total is not None else len(raw) // 4
        return _json_response(200, {"data": {"total_tokens": total}})


@pytest.fixture(scope="session")
def kimi_fake_server() -> Iterator[HTTPServer]:
    # Our own threaded server (not the shared `httpserver`): a reply_slow handler still sleeping
    # after the client timed out must not hold up the next request or the next test.
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def kimi_fake(kimi_fake_server: HTTPServer) -> Iterator[KimiFake]:
    kimi_fake_server.clear_all_handlers()
    kimi_fake_server.clear()
    fake = KimiFake(kimi_fake_server)
    fake.install()
    yield fake
    fake.close()
    kimi_fake_server.clear_all_handlers()
    kimi_fake_server.clear()


def seen_by_the_model(fake: KimiFake, *, reader: object) -> list[tuple[str, str]]:
    """Everything the fake received, as text: each text part and string content of every chat and
    estimate request, the OCR (with `reader`, the app's engine) of every image part, and of frames
    taken every half second from every video, inline or uploaded. [(where, text)]."""
    import base64
    import subprocess
    import tempfile
    from pathlib import Path as _Path

    from triage.adapters.media.video import ffmpeg_exe

    def ocr(data: bytes) -> str:
        return reader.read(data).text  # type: ignore[attr-defined]

    def video_text(data: bytes) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            src = _Path(tmp) / "video.bin"
            src.write_bytes(data)
            subprocess.run(  # noqa: S603 (our ffmpeg, a temp file)
                [ffmpeg_exe(), "-v", "error", "-i", str(src), "-vf", "fps=2", f"{tmp}/f%03d.png"],
                check=True,
                timeout=120,
            )
            return "\n".join(ocr(p.read_bytes()) for p in sorted(_Path(tmp).glob("f*.png")))

    def decode(url: str) -> bytes:
        return base64.b64decode(url.split(",", 1)[1])

    seen: list[tuple[str, str]] = []
    for n, body in enumerate([*fake.requests, *fake.estimate_requests]):
        seen.append((f"request {n} (raw JSON)", json.dumps(body, ensure_ascii=False)))
        for message in body.get("messages") or []:
            content = message.get("content")
            parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
            for part in parts:
                kind = part.get("type")
                if kind == "text":
                    seen.append((f"request {n} text", str(part.get("text"))))
                elif kind == "image_url":
                    seen.append((f"request {n} image", ocr(decode(_image_url(part)))))
                elif kind == "video_url":
                    url = _video_url(part)
                    data = decode(url) if url.startswith("data:") else b""
                    seen.append((f"request {n} video", video_text(data) if data else url))
    with fake._lock:
        uploads = dict(fake.uploaded_data)
    for file_id, data in uploads.items():  # uploaded and maybe deleted since: the fake still saw it
        seen.append((f"upload {file_id}", video_text(data)))
    return seen
