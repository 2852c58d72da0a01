"""Kimi (Moonshot) through the openai SDK: one JSON-mode request, one repair turn, errors as outcomes."""

from __future__ import annotations

import time

import openai

from triage.adapters.llm.base import Taxonomy, TicketInput, TriageOutcome
from triage.adapters.llm.prompt import PROMPT_VERSION, build_messages
from triage.adapters.llm.schema import InvalidReply, parse_triage_reply

# The SDK already retries these (408/409/429/5xx, connection errors) with backoff and Retry-After;
# a task-level retry on top is for an API that stays down for minutes.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (openai.APIConnectionError, openai.InternalServerError)


def _kimi_error(exc: openai.APIStatusError) -> tuple[str, str]:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body, dict) else {}
    kind = error.get("type", "") if isinstance(error, dict) else ""
    message = error.get("message", "") if isinstance(error, dict) else ""
    return str(kind or ""), str(message or exc.message)


class KimiClient:
    provider = "kimi"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        model: str = "kimi-k2.6",
        timeout_s: float = 300.0,
        max_retries: int = 3,
        max_completion_tokens: int = 4096,
    ) -> None:
        self.model = model
        self.max_completion_tokens = max_completion_tokens
        self._client = openai.OpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries
        )

    def _call(self, messages: list[dict], ticket_id: int) -> tuple[str, str, dict[str, int], str]:
        raw = self._client.chat.completions.with_raw_response.create(
            model=self.model,
            messages=messages,  # type: ignore[arg-type]
            response_format={"type": "json_object"},
            max_completion_tokens=self.max_completion_tokens,
            # thinking off: a short classification needs no reasoning budget. Never send
            # temperature/top_p/n/penalties: they are fixed for kimi-k2.6 and any value is a 400.
            extra_body={"thinking": {"type": "disabled"}, "prompt_cache_key": f"ticket-{ticket_id}"},
        )
        completion = raw.parse()
        message = completion.choices[0].message
        usage = completion.usage
        cached = 0
        if usage is not None:
            cached = getattr(usage, "cached_tokens", None) or 0
            details = getattr(usage, "prompt_tokens_details", None)
            if not cached and details is not None:
                cached = getattr(details, "cached_tokens", 0) or 0
        tokens = {
            "prompt": usage.prompt_tokens if usage else 0,
            "completion": usage.completion_tokens if usage else 0,
            "cached": int(cached),
        }
        return (
            message.content or "",
            getattr(message, "reasoning_content", None) or "",
            tokens,
            raw.headers.get("x-trace-id", ""),
        )

    def triage(self, ticket: TicketInput, taxonomy: Taxonomy) -> TriageOutcome:
        started = time.monotonic()
        messages = build_messages(ticket, taxonomy)
        totals = {"prompt": 0, "completion": 0, "cached": 0}
        raw_outputs: list[str] = []
        reasoning = ""
        trace_id = ""

        def outcome(**kw: object) -> TriageOutcome:
            return TriageOutcome(
                provider=self.provider,
                model=self.model,
                prompt_version=PROMPT_VERSION,
                raw_output="\n---\n".join(raw_outputs),
                reasoning=reasoning,
                prompt_tokens=totals["prompt"],
                completion_tokens=totals["completion"],
                cached_tokens=totals["cached"],
                latency_ms=int((time.monotonic() - started) * 1000),
                extra={"trace_id": trace_id},
                **kw,  # type: ignore[arg-type]
            )

        try:
            for attempt in range(2):  # the answer, then at most one repair turn
                content, reasoning, tokens, trace_id = self._call(messages, ticket.ticket_id)
                for key in totals:
                    totals[key] += tokens[key]
                raw_outputs.append(content)
                try:
                    return outcome(result=parse_triage_reply(content, taxonomy=taxonomy))
                except InvalidReply as exc:
                    if attempt == 1:
                        return outcome(result=None, error_kind="bad_output", error_message=str(exc))
                    messages = [
                        *messages,
                        {"role": "assistant", "content": content},
                        {
                            "role": "user",
                            "content": f"Your reply was invalid: {exc}. Answer again with the corrected JSON "
                            "object only.",
                        },
                    ]
        except openai.APITimeoutError:
            return outcome(
                result=None, error_kind="timeout", error_message="the Kimi API did not answer in time"
            )
        except openai.APIConnectionError as exc:
            return outcome(
                result=None, error_kind="upstream", error_message=f"could not reach the Kimi API: {exc}"
            )
        except openai.APIStatusError as exc:
            kind, message = _kimi_error(exc)
            if exc.status_code == 400:
                error_kind = "bad_input"
            else:
                error_kind = "upstream"
            label = {401: "authentication failed", 403: "permission denied", 404: "model not found"}.get(
                exc.status_code, f"HTTP {exc.status_code}"
            )
            return outcome(
                result=None,
                error_kind=error_kind,
                error_message=f"Kimi API error ({label}, {kind}): {message}"[:2000],
            )
        raise AssertionError("unreachable")
