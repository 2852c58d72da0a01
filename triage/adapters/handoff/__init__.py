"""Hand-off connectors, the pure part: each builds the requests its service documents and reads the
answers. No ORM, no settings: the service (services/handoff.py) passes the destination's
configuration, the ticket as plain data and `send`, which performs one HTTP request.

Every connector follows the same three steps, so a retried or killed job never makes a second
external object:
1. `find`: look the ticket up by our key (a Jira label, a GitHub label, a Zendesk external_id);
2. `create` only when nothing was found;
3. `finish` (idempotent): attachments and links that may be missing after a crash.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None = None


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


# performs one request; raises Unreachable for a time-out or a refused connection
Send = Callable[[Request], Response]


@dataclass(frozen=True)
class Image:
    name: str
    mime: str
    content: bytes
    url: str  # where a person signed in to Triage sees it


@dataclass(frozen=True)
class TicketData:
    key: str  # "TRI-12": our ticket key, the look-up key in every service
    url: str  # the ticket page in Triage (the link back)
    subject: str
    summary: str = ""
    description: str = ""
    category: str = ""
    priority: str = ""
    queue: str = ""
    language: str = ""
    channel: str = ""
    requester_email: str = ""
    rule: str = ""
    # the model's report, reviewed: problem, steps_to_reproduce, expected, actual, environment,
    # error_messages -> [(text, source)]
    report: Mapping[str, list[tuple[str, str]]] = field(default_factory=dict)
    images: tuple[Image, ...] = ()


@dataclass(frozen=True)
class Config:
    base_url: str
    project: str
    account: str
    secret: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def mapped(self, name: str, value: str, default: str = "") -> str:
        """A value through the destination's mapping `name` (e.g. priority_map), else `default`."""
        mapping = self.options.get(name) or {}
        return str(mapping.get(value, default)) if isinstance(mapping, dict) else default


@dataclass(frozen=True)
class External:
    id: str
    url: str


class Unreachable(Exception):
    """No answer: a time-out or a refused connection (worth another try)."""


class HandoffFailed(Exception):
    """The service refused or failed. `retry_after` set: worth another try after that many seconds
    (429, 5xx); None: it will not pass as it is (401/403/404/422...), shown to the user."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.retry_after is not None


class Connector(Protocol):
    kind: str

    def find(self, *, config: Config, ticket: TicketData, send: Send) -> External | None: ...

    def create(self, *, config: Config, ticket: TicketData, send: Send) -> External: ...

    def finish(self, *, config: Config, ticket: TicketData, external: External, send: Send) -> None: ...


DEFAULT_RETRY_S = 30.0
_STATUS_WORDS = {
    400: "bad request",
    401: "bad credentials",
    403: "not allowed (credentials or permissions)",
    404: "not found (unknown project, repository, group or URL)",
    410: "gone",
    422: "a field the service refuses",
    429: "rate limited",
}


def retry_after_s(headers: Mapping[str, str], default: float = DEFAULT_RETRY_S) -> float:
    value = headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    # GitHub's secondary limits: x-ratelimit-reset is an epoch second
    return default


def check(response: Response, *, service: str, message: Callable[[Response], str]) -> Response:
    """Raise HandoffFailed for a non-2xx answer, with the service's own message."""
    if 200 <= response.status < 300:
        return response
    said = ""
    try:
        said = message(response).strip()
    except Exception:  # noqa: BLE001 - any odd body: fall back to its text
        said = ""
    said = said or response.text.strip()[:300]
    words = _STATUS_WORDS.get(response.status, "server error" if response.status >= 500 else "error")
    text = f"{service} answered {response.status} ({words})" + (f": {said}" if said else "")
    if response.status == 429:
        raise HandoffFailed(text, status=429, retry_after=retry_after_s(response.headers))
    if response.status >= 500:
        raise HandoffFailed(text, status=response.status, retry_after=DEFAULT_RETRY_S)
    raise HandoffFailed(text, status=response.status)


def connector_for(kind: str) -> Connector:
    from triage.adapters.handoff import github, jira, slack, zendesk

    connectors: dict[str, Connector] = {
        "jira": jira.JiraConnector(),
        "github": github.GitHubConnector(),
        "zendesk": zendesk.ZendeskConnector(),
        "slack": slack.SlackConnector(),
    }
    return connectors[kind]


REPORT_TITLES = (
    ("problem", "Problem"),
    ("steps_to_reproduce", "Steps to reproduce"),
    ("expected", "Expected"),
    ("actual", "Actual"),
    ("environment", "Environment"),
    ("error_messages", "Error messages"),
)


def json_body(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()
