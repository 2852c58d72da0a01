"""Kimi (Moonshot) through the openai SDK: one ticket, a short conversation, errors as outcomes.

What one `triage()` does (the API facts behind each step are in docs/kimi.md):
- thinking on or off for this ticket (`thinking_for`: KIMI_THINKING on/off, or auto: on for long
  tickets, a recording sent as video, many images or an unsure offline model), sent as
  `extra_body={"thinking": ...}` with the matching max_completion_tokens budget (§5);
- recordings inline as base64 data URLs, or uploaded through the files API and sent as `ms://<id>`,
  deleted after the call (§3);
- a media-heavy request measured first with the token-estimate endpoint and made smaller
  (fit.shrink) until it fits the ticket budget and the context window; a "too long" 400 gets one
  smaller request (§4, §7);
- JSON mode, the shape described in the prompt; up to `max_tool_steps` rounds of read-only tool
  calls (tool_choice "auto", the only one allowed while thinking) before the answer; then at most
  one repair turn quoting what was wrong with the reply (§6);
- never temperature/top_p/n/penalties, which are fixed for K2.5/K2.6 so any value is a 400 (§5).
Retries of 408/409/429/5xx and connection errors are the SDK's (`max_retries`, exponential backoff,
Retry-After honoured), except an exhausted balance, which is never retried (§7). Every failure comes
back as a TriageOutcome with an error kind, never as an exception; `extra["transient"]` and
`extra["retry_after_s"]` tell the task whether and when to try again.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, cast

import httpx2
import openai
from openai.types import FilePurpose
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from triage.adapters.llm import fit
from triage.adapters.llm.base import Taxonomy, TicketInput, TriageOutcome
from triage.adapters.llm.draft import DraftAnswer
from triage.adapters.llm.prompt import PROMPT_VERSION, build_messages, data_url, prompt_cache_key
from triage.adapters.llm.schema import SCHEMA_VERSION, InvalidReply, TriageResult, parse_triage_reply
from triage.adapters.llm.tools import run_tool, tool_definitions

# Worth a task-level retry when calling the SDK directly: the SDK has already retried these
# `max_retries` times, so a later retry is for an API that stays down for minutes. KimiClient.triage
# itself never raises them: it reports `outcome.extra["transient"]` instead, which also knows that
# a 429 exceeded_current_quota_error (no balance) is NOT transient although it is a RateLimitError.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    openai.APITimeoutError,
    openai.APIConnectionError,
    openai.RateLimitError,
    openai.InternalServerError,
)

# Kimi error types that no amount of retrying fixes (docs/kimi.md §7): an empty balance.
_NEVER_RETRY = frozenset({"exceeded_current_quota_error"})

_STATUS_LABELS = {
    401: "authentication failed: check the API key and that it belongs to this platform "
    "(keys from platform.kimi.ai and platform.kimi.com are not interchangeable)",
    403: "permission denied",
    404: "model not found or not permitted",
    429: "rate limited",
}
_TYPE_LABELS = {
    "exceeded_current_quota_error": "quota exceeded / insufficient balance: top up the account",
    "engine_overloaded_error": "engine overloaded",
    "rate_limit_reached_error": "rate limit reached",
    "content_filter": "content refused by Kimi's moderation",
}


def _error_kind_and_message(exc: openai.APIStatusError) -> tuple[str, str]:
    """Kimi's error.type and error.message (the SDK already unwrapped the `error` member)."""
    body: Any = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    if not isinstance(body, dict):
        return "", str(body or exc.message)
    return str(body.get("type") or ""), str(body.get("message") or exc.message)


_WAIT_IN_MESSAGE = re.compile(r"after (\d+(?:\.\d+)?) ?s(?:econds?)?\b", re.IGNORECASE)


def _stated_wait(header: str, message: str) -> int | None:
    """The wait Kimi asked for: Retry-After (seconds), or "try again after N seconds" in the
    rate-limit message (docs/kimi.md §7). Capped at 10 minutes."""
    for text in (header.strip(), *(m.group(1) for m in _WAIT_IN_MESSAGE.finditer(message))):
        try:
            seconds = float(text)
        except ValueError:
            continue
        if seconds >= 0:
            return min(600, max(1, round(seconds)))
    return None


def _never_retry_hopeless_429(response: httpx2.Response) -> None:
    """Tell the SDK not to retry an exhausted quota: the SDK retries every 429, but retrying an
    empty balance only burns max_retries backoff rounds (0.5+1+2 s with the default 3)."""
    if response.status_code != 429:
        return
    response.read()
    try:
        payload = response.json()
    except ValueError:
        return
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and error.get("type") in _NEVER_RETRY:
        response.headers["x-should-retry"] = "false"  # honoured by the SDK's _should_retry


class _HttpClient(openai.DefaultHttpxClient):
    """The SDK's default transport settings plus the quota hook; closes its pool when collected,
    like the SDK's own wrapper, because KimiClient is created per call by the service."""

    def __init__(self) -> None:
        super().__init__(event_hooks={"response": [_never_retry_hopeless_429]})

    def __del__(self) -> None:
        if self.is_closed:
            return
        with contextlib.suppress(Exception):  # interpreter shutdown: nothing useful to do
            self.close()


def _count(value: object) -> int:
    """A token count from the wire: a non-negative int, else 0 (it is bookkeeping, not the answer)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


class _UnexpectedAnswer(Exception):
    """The API answered 200 with something that is not a usable chat completion."""


@dataclass
class _Reply:
    content: str
    reasoning: str
    tool_calls: list[dict]  # [{"id", "name", "arguments"}] as the model asked
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    trace_id: str
    sdk_retries: int


@dataclass
class _Run:
    """What accumulates across the answer and the repair turn."""

    started: float = field(default_factory=time.monotonic)
    raw_outputs: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    trace_id: str = ""
    requests: int = 0
    sdk_retries: int = 0
    uploaded: list[str] = field(default_factory=list)  # file ids to delete after the call
    cleanup_errors: list[str] = field(default_factory=list)
    estimated_prompt_tokens: int | None = None
    estimate_error: str = ""
    thinking: bool = False
    thinking_why: str = ""
    dropped: list[str] = field(default_factory=list)  # what fit.shrink removed, in order
    tool_calls: list[dict] = field(default_factory=list)

    def add(self, reply: _Reply) -> None:
        self.raw_outputs.append(reply.content)
        if reply.reasoning:
            self.reasoning.append(reply.reasoning)
        self.prompt_tokens += reply.prompt_tokens
        self.completion_tokens += reply.completion_tokens
        self.cached_tokens += reply.cached_tokens
        self.trace_id = reply.trace_id or self.trace_id
        self.sdk_retries += reply.sdk_retries


# kimi-k2.6's context window (docs/kimi.md §1).
CONTEXT_WINDOW_TOKENS = 262_144
# Kimi's 400s for a request over the window (docs/kimi.md §7): one smaller request follows.
_TOO_LONG = re.compile(r"token length too long|exceeded model token limit", re.IGNORECASE)
THINKING_MODES = ("on", "off", "auto")


class _TooLarge(Exception):
    """The token-estimate endpoint says the request does not fit the context window."""


class KimiClient:
    provider = "kimi"
    accepts_video = True

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        model: str = "kimi-k2.6",
        timeout_s: float = 300.0,
        max_retries: int = 3,
        max_completion_tokens: int = 4096,
        inline_video_max_bytes: int = 8 * 1024 * 1024,
        estimate_min_images: int = 3,
        thinking: str = "auto",
        thinking_max_completion_tokens: int = 16384,
        thinking_auto_chars: int = 1500,
        thinking_auto_images: int = 6,
        thinking_auto_confidence: float = 0.5,
        max_tool_steps: int = 3,
        ticket_token_budget: int = 100_000,
    ) -> None:
        if thinking not in THINKING_MODES:
            raise ValueError(f"thinking must be one of {', '.join(THINKING_MODES)}, not {thinking!r}")
        self.thinking = thinking
        self.thinking_max_completion_tokens = thinking_max_completion_tokens
        self.thinking_auto_chars = thinking_auto_chars
        self.thinking_auto_images = thinking_auto_images
        self.thinking_auto_confidence = thinking_auto_confidence
        self.max_tool_steps = max_tool_steps
        self.ticket_token_budget = ticket_token_budget
        self.model = model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.max_completion_tokens = max_completion_tokens
        self.inline_video_max_bytes = inline_video_max_bytes
        self.estimate_min_images = estimate_min_images
        self._client = openai.OpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_s,
            max_retries=max_retries,
            http_client=_HttpClient(),
        )

    def close(self) -> None:
        self._client.close()

    def _call(self, messages: list[dict], *, cache_key: str, thinking: bool, tools: list[dict]) -> _Reply:
        extra: dict[str, Any] = {"thinking": {"type": "enabled" if thinking else "disabled"}}
        options: dict[str, Any] = {}
        if tools:
            # "auto" only: a forced tool_choice is refused while thinking is on (docs/kimi.md §6).
            options = {"tools": tools, "tool_choice": "auto"}
        raw = self._client.chat.completions.with_raw_response.create(
            model=self.model,
            # our messages are plain dicts in the wire shape (prompt.py), which the SDK's TypedDicts describe
            messages=cast("list[ChatCompletionMessageParam]", messages),
            response_format={"type": "json_object"},
            max_completion_tokens=self.thinking_max_completion_tokens
            if thinking
            else self.max_completion_tokens,
            # Shared by every ticket under the same prompt version and taxonomy: the ~9.5 KB system
            # prompt is the common prefix, and a per-ticket key would keep it from being reused.
            prompt_cache_key=cache_key,
            # Not an SDK argument: extra_body keys are merged into the top level of the JSON.
            extra_body=extra,
            **options,
        )
        try:
            completion = raw.parse()
        except ValueError as exc:  # a JSON content-type with a body that is not JSON
            raise _UnexpectedAnswer(f"HTTP 200 whose body is not JSON ({exc})") from None
        trace_id = raw.headers.get("x-trace-id", "")
        # A proxy's HTML page or an API change is not the model's wording: a repair turn cannot
        # fix it, so it is reported as upstream trouble.
        if not isinstance(completion, ChatCompletion):
            content_type = raw.headers.get("content-type", "?")
            raise _UnexpectedAnswer(f"HTTP 200 that is not a chat completion (content-type {content_type})")
        if not completion.choices:
            raise _UnexpectedAnswer("HTTP 200 without choices")
        usage = completion.usage
        cached = 0
        if usage is not None:
            # Kimi reports usage.cached_tokens at the top level; OpenAI-style gateways use
            # prompt_tokens_details.cached_tokens. Read both, like Kimi CLI does.
            cached = getattr(usage, "cached_tokens", None) or 0
            details = getattr(usage, "prompt_tokens_details", None)
            if not cached and details is not None:
                cached = getattr(details, "cached_tokens", None) or 0
        choice = completion.choices[0]
        message = choice.message
        # The SDK builds its models from the JSON without validating types: a gateway's content
        # list, a numeric content or string token counts reach us as they are (tests/hostile).
        content = message.content if message is not None else None
        if content is not None and not isinstance(content, str):
            raise _UnexpectedAnswer(f"message content is {type(content).__name__}, not text")
        calls = []
        for call in (message.tool_calls if message is not None else None) or []:
            function = getattr(call, "function", None)
            if function is not None:
                arguments = function.arguments if isinstance(function.arguments, str) else ""
                calls.append({"id": str(call.id), "name": str(function.name or ""), "arguments": arguments})
        return _Reply(
            content=content or "",
            # Not declared by the SDK types; present only with thinking on.
            reasoning=str(getattr(message, "reasoning_content", None) or ""),
            tool_calls=calls,
            finish_reason=str(choice.finish_reason or ""),
            prompt_tokens=_count(usage.prompt_tokens) if usage is not None else 0,
            completion_tokens=_count(usage.completion_tokens) if usage is not None else 0,
            cached_tokens=_count(cached),
            trace_id=trace_id,
            sdk_retries=raw.retries_taken,
        )

    def _outcome(
        self,
        run: _Run,
        *,
        result: TriageResult | None,
        error_kind: str = "",
        error_message: str = "",
        transient: bool = False,
    ) -> TriageOutcome:
        return TriageOutcome(
            provider=self.provider,
            model=self.model,
            prompt_version=f"{PROMPT_VERSION}+schema{SCHEMA_VERSION}",
            result=result,
            raw_output="\n---\n".join(run.raw_outputs),
            reasoning="\n---\n".join(run.reasoning),
            error_kind=error_kind,
            error_message=error_message[:2000],
            prompt_tokens=run.prompt_tokens,
            completion_tokens=run.completion_tokens,
            cached_tokens=run.cached_tokens,
            latency_ms=int((time.monotonic() - run.started) * 1000),
            extra={
                "trace_id": run.trace_id,
                "requests": run.requests,
                "sdk_retries": run.sdk_retries,
                "repaired": result is not None and run.requests > 1,
                "transient": transient,
                "estimated_prompt_tokens": run.estimated_prompt_tokens,
                "estimate_error": run.estimate_error,
                "uploaded_files": list(run.uploaded),
                "undeleted_files": list(run.cleanup_errors),
                "thinking": run.thinking,
                "thinking_why": run.thinking_why,
                "dropped": list(run.dropped),
                "tool_calls": list(run.tool_calls),
            },
        )

    def _video_urls(self, ticket: TicketInput, run: _Run) -> list[str]:
        """A data URL for a small video, `ms://<id>` after an upload for a larger one (docs/kimi.md
        §3): base64 adds a third, and the whole request must stay under 100 MB."""
        urls: list[str] = []
        for video in ticket.videos:
            if len(video.data) <= self.inline_video_max_bytes:
                urls.append(data_url(mime=video.mime, data=video.data))
                continue
            uploaded = self._client.files.create(
                file=(video.filename, video.data, video.mime),
                # "video" is missing from the SDK's FilePurpose literal but accepted by Kimi (§3)
                purpose=cast("FilePurpose", "video"),
            )
            run.uploaded.append(uploaded.id)
            urls.append(f"ms://{uploaded.id}")
        return urls

    def _cleanup(self, run: _Run) -> None:
        """Uploaded files count against 1,000 files / 10 GB per account: delete them after the call."""
        for file_id in run.uploaded:
            try:
                self._client.files.delete(file_id)
            except openai.APIError:
                run.cleanup_errors.append(file_id)

    def estimate_tokens(self, messages: list[dict]) -> int | None:
        """Kimi's count of the request's input tokens (POST /tokenizers/estimate-token-count), or None
        when the endpoint does not answer with one. Raises the SDK's errors like a chat call."""
        body = self._client.post(
            "/tokenizers/estimate-token-count",
            body={"model": self.model, "messages": messages},
            cast_to=object,
        )
        data = body.get("data") if isinstance(body, dict) else None
        total = data.get("total_tokens") if isinstance(data, dict) else None
        return int(total) if isinstance(total, int | float) and not isinstance(total, bool) else None

    def thinking_for(self, ticket: TicketInput) -> tuple[bool, str]:
        """Whether to think on this ticket, and why. "auto" thinks on long or ambiguous tickets:
        text over `thinking_auto_chars`, a recording sent as video, `thinking_auto_images` or more
        images, or an offline model that was unsure (lowest confidence under
        `thinking_auto_confidence`); everything else is a short classification without it."""
        if self.thinking == "on":
            return True, "thinking on (KIMI_THINKING=on)"
        if self.thinking == "off":
            return False, "thinking off (KIMI_THINKING=off)"
        length = len(ticket.subject) + len(ticket.body) + sum(len(n) for n in ticket.notes)
        if length >= self.thinking_auto_chars:
            return True, f"thinking on: a long ticket ({length} characters)"
        if ticket.videos:
            return True, "thinking on: a recording sent as video"
        if len(ticket.images) >= self.thinking_auto_images:
            return True, f"thinking on: {len(ticket.images)} images"
        if (
            ticket.offline_confidence is not None
            and ticket.offline_confidence < self.thinking_auto_confidence
        ):
            return (
                True,
                f"thinking on: an ambiguous ticket (offline model confidence {ticket.offline_confidence:.2f})",
            )
        return False, "thinking off: a short, clear ticket"

    def _fit(self, ticket: TicketInput, taxonomy: Taxonomy, run: _Run, *, thinking: bool) -> list[dict]:
        """The request's messages, measured first when media-heavy and made smaller (fit.shrink, in
        its fixed order) until Kimi's estimate fits the ticket budget and the context window."""
        answer = self.thinking_max_completion_tokens if thinking else self.max_completion_tokens
        limit = min(self.ticket_token_budget, CONTEXT_WINDOW_TOKENS - answer)
        messages = build_messages(ticket, taxonomy, video_urls=self._video_urls(ticket, run))
        if not ticket.videos and len(ticket.images) < self.estimate_min_images:
            return messages
        for _ in range(12):  # every shrink step removes something; a dozen is far more than needed
            try:
                estimated = self.estimate_tokens(messages)
            except (openai.APIStatusError, openai.APIConnectionError) as exc:
                # The estimate is a precaution: the chat call itself reports a request too large.
                run.estimate_error = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"[:300]
                return messages
            run.estimated_prompt_tokens = estimated
            if estimated is None or estimated <= limit:
                return messages
            smaller = fit.shrink(ticket)
            if smaller is None:
                break
            ticket, dropped = smaller
            run.dropped.append(f"{dropped} (estimate {estimated} > {limit})")
            messages = build_messages(ticket, taxonomy, video_urls=self._video_urls(ticket, run))
        raise _TooLarge(
            f"the request would take {run.estimated_prompt_tokens} input tokens (Kimi's estimate), over "
            f"the limit of {limit} (ticket budget {self.ticket_token_budget}, {CONTEXT_WINDOW_TOKENS}-token "
            f"window less {answer} for the answer), even after: {'; '.join(run.dropped) or 'nothing to drop'}"
        )

    def triage(self, ticket: TicketInput, taxonomy: Taxonomy) -> TriageOutcome:
        run = _Run()
        try:
            return self._triage(ticket, taxonomy, run)
        finally:
            self._cleanup(run)

    def _triage(self, ticket: TicketInput, taxonomy: Taxonomy, run: _Run) -> TriageOutcome:
        thinking, run.thinking_why = self.thinking_for(ticket)
        run.thinking = thinking
        tools = tool_definitions() if ticket.lookup is not None and self.max_tool_steps > 0 else []
        try:
            try:
                messages = self._fit(ticket, taxonomy, run, thinking=thinking)
                return self._converse(messages, ticket, taxonomy, run, thinking=thinking, tools=tools)
            except openai.BadRequestError as exc:
                _, message = _error_kind_and_message(exc)
                smaller = fit.shrink(ticket) if _TOO_LONG.search(message) else None
                if smaller is None:
                    raise
                # Kimi counted more than its estimate said: one smaller request, no more.
                ticket, dropped = smaller
                run.dropped.append(f"{dropped} (Kimi: {message[:120]})")
                messages = build_messages(ticket, taxonomy, video_urls=self._video_urls(ticket, run))
                return self._converse(messages, ticket, taxonomy, run, thinking=thinking, tools=tools)
        except openai.APITimeoutError:
            return self._outcome(
                run,
                result=None,
                error_kind="timeout",
                error_message=f"the Kimi API did not answer within {self.timeout_s:g} s "
                "(APITimeoutError, after the SDK's retries)",
                transient=True,
            )
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            return self._outcome(
                run,
                result=None,
                error_kind="upstream",
                error_message=f"could not reach the Kimi API at {self.base_url} "
                f"(APIConnectionError: {type(cause).__name__}: {cause})",
                transient=True,
            )
        except openai.APIStatusError as exc:
            return self._status_outcome(run, exc)
        except _UnexpectedAnswer as exc:
            return self._outcome(
                run,
                result=None,
                error_kind="upstream",
                error_message=f"unexpected answer from the Kimi API: {exc}",
            )
        except _TooLarge as exc:
            return self._outcome(run, result=None, error_kind="bad_input", error_message=str(exc))
        except openai.APIError as exc:  # e.g. APIResponseValidationError: never let the SDK raise out
            return self._outcome(
                run,
                result=None,
                error_kind="upstream",
                error_message=f"unexpected answer from the Kimi API ({type(exc).__name__}: {exc.message})",
            )
        raise AssertionError("unreachable: the loop always returns")

    def _converse(
        self,
        messages: list[dict],
        ticket: TicketInput,
        taxonomy: Taxonomy,
        run: _Run,
        *,
        thinking: bool,
        tools: list[dict],
    ) -> TriageOutcome:
        """The answer: tool rounds while the model asks (at most max_tool_steps), then at most one
        repair turn quoting what was wrong with the reply."""
        repaired = False
        steps = 0
        while True:
            run.requests += 1
            offer = tools if steps < self.max_tool_steps else []
            reply = self._call(messages, cache_key=prompt_cache_key(taxonomy), thinking=thinking, tools=offer)
            run.add(reply)
            if reply.finish_reason == "content_filter":
                return self._outcome(
                    run,
                    result=None,
                    error_kind="bad_input",
                    error_message="Kimi stopped the answer: content refused by its moderation "
                    "(finish_reason content_filter)",
                )
            if reply.tool_calls and offer and ticket.lookup is not None:
                steps += 1
                messages = [*messages, *self._tool_turn(reply, ticket, run, thinking=thinking)]
                continue
            try:
                result = parse_triage_reply(reply.content, taxonomy=taxonomy)
            except InvalidReply as exc:
                problem = str(exc)
                if reply.finish_reason == "length":
                    limit = self.thinking_max_completion_tokens if thinking else self.max_completion_tokens
                    problem += f" (the reply was cut off at max_completion_tokens={limit})"
                if repaired:
                    return self._outcome(
                        run,
                        result=None,
                        error_kind="bad_output",
                        error_message=f"invalid reply after one repair turn: {problem}",
                    )
                repaired = True
                messages = [
                    *messages,
                    {"role": "assistant", "content": reply.content},
                    {
                        "role": "user",
                        "content": f"Your reply was invalid: {problem}. Answer again with the "
                        "corrected JSON object only, in the shape and with the values given in the "
                        "instructions.",
                    },
                ]
                continue
            return self._outcome(run, result=self._verified_duplicates(result, run))

    @staticmethod
    def _verified_duplicates(result: TriageResult, run: _Run) -> TriageResult:
        """Keep only duplicates the tools actually returned: a reference the model made up (or
        copied from an example) must not send a reviewer to an unrelated ticket."""
        seen = {
            str(ticket.get("reference"))
            for call in run.tool_calls
            for ticket in (call.get("output") or {}).get("tickets", [])
            if isinstance(ticket, dict)
        }
        kept = [d for d in result.duplicate_of if d.reference in seen]
        if len(kept) != len(result.duplicate_of):
            run.dropped.append(
                "ignored duplicate reference(s) no tool returned: "
                + ", ".join(d.reference for d in result.duplicate_of if d.reference not in seen)
            )
        return result.model_copy(update={"duplicate_of": kept})

    def _tool_turn(self, reply: _Reply, ticket: TicketInput, run: _Run, *, thinking: bool) -> list[dict]:
        """The assistant's tool-call message as sent back (with its reasoning_content when thinking
        is on, as Kimi requires even when empty) and one tool message per call."""
        assistant: dict[str, Any] = {
            "role": "assistant",
            "content": reply.content,
            "tool_calls": [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["arguments"]},
                }
                for c in reply.tool_calls
            ],
        }
        if thinking:
            assistant["reasoning_content"] = reply.reasoning
        answers = []
        for call in reply.tool_calls:
            output = run_tool(ticket.lookup, name=call["name"], arguments=call["arguments"])
            run.tool_calls.append(
                {"name": call["name"], "arguments": call["arguments"][:500], "output": output}
            )
            answers.append(
                {
                    "role": "tool",
                    "tool_call_id": call["id"],
                    "name": call["name"],
                    "content": json.dumps(output, ensure_ascii=False),
                }
            )
        return [assistant, *answers]

    def _status_outcome(self, run: _Run, exc: openai.APIStatusError) -> TriageOutcome:
        kind, message = _error_kind_and_message(exc)
        run.trace_id = exc.response.headers.get("x-trace-id", "") or run.trace_id
        status = exc.status_code
        # 400 = the request itself (moderation, too many tokens, a bad part): retrying the same
        # ticket unchanged cannot succeed, so it is the ticket's problem, not Kimi's.
        error_kind = "bad_input" if status in (400, 413, 422) else "upstream"
        label = (
            _TYPE_LABELS.get(kind)
            or _STATUS_LABELS.get(status)
            or ("Kimi server error" if status >= 500 else "request rejected")
        )
        if status == 404:
            label = f"model '{self.model}' not found or not permitted"
        transient = (status in (408, 409, 429) or status >= 500) and kind not in _NEVER_RETRY
        detail = f"{type(exc).__name__} {status}" + (f" {kind}" if kind else "")
        outcome = self._outcome(
            run,
            result=None,
            error_kind=error_kind,
            error_message=f"Kimi API error ({detail}): {label}: {message}",
            transient=transient,
        )
        wait = _stated_wait(exc.response.headers.get("retry-after", ""), message)
        if wait is not None:
            outcome.extra["retry_after_s"] = wait
        return outcome


def kimi_reply_draft(client: KimiClient, messages: list[dict], *, max_completion_tokens: int) -> DraftAnswer:
    """One plain-text completion with thinking off (a draft is a short answer, not a diagnosis).

    Raises openai.OpenAIError for trouble at the API; the caller records it."""
    raw = client._client.chat.completions.with_raw_response.create(
        model=client.model,
        messages=cast("list[ChatCompletionMessageParam]", messages),
        max_completion_tokens=max_completion_tokens,
        extra_body={"thinking": {"type": "disabled"}},
    )
    completion = raw.parse()
    if not isinstance(completion, ChatCompletion) or not completion.choices:
        raise _UnexpectedAnswer("HTTP 200 that is not a chat completion")
    usage = completion.usage
    cached = (getattr(usage, "cached_tokens", None) or 0) if usage is not None else 0
    content = completion.choices[0].message.content if completion.choices[0].message else ""
    return DraftAnswer(
        text=content if isinstance(content, str) else "",
        prompt_tokens=_count(usage.prompt_tokens) if usage is not None else 0,
        completion_tokens=_count(usage.completion_tokens) if usage is not None else 0,
        cached_tokens=_count(cached),
        trace_id=raw.headers.get("x-trace-id", ""),
    )
