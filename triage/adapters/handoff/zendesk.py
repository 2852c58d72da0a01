"""Zendesk Support API (developer.zendesk.com/api-reference/ticketing/tickets/tickets).

- auth: Basic base64("{email}/token:{API token}");
- look-up: GET /api/v2/tickets?external_id=TRI-12 (our key is the ticket's `external_id`);
- create: POST /api/v2/tickets with `group_id`, `priority` (urgent/high/normal/low), `tags`,
  `external_id`, the requester, and the summary as the first comment with `public: false` (an
  internal note the customer never sees).
Errors come as {"error": ..., "description": ..., "details": {"field": [{"description": ...}]}}.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import quote

from triage.adapters.handoff import (
    REPORT_TITLES,
    Config,
    External,
    Request,
    Response,
    Send,
    TicketData,
    check,
    json_body,
)

SERVICE = "Zendesk"
PRIORITIES = ("urgent", "high", "normal", "low")


def _headers(config: Config) -> dict[str, str]:
    token = base64.b64encode(f"{config.account}/token:{config.secret}".encode()).decode()
    return {
        "authorization": f"Basic {token}",
        "accept": "application/json",
        "content-type": "application/json",
    }


def error_message(response: Response) -> str:
    data = response.json() or {}
    if not isinstance(data, dict):
        return ""
    error = data.get("error")
    if isinstance(error, dict):  # 404s: {"error": {"title", "message"}}
        error = error.get("message") or error.get("title")
    parts = [str(p) for p in (error, data.get("description")) if p]
    for name, problems in (data.get("details") or {}).items():
        for problem in problems or []:
            parts.append(
                f"{name}: {problem.get('description', problem) if isinstance(problem, dict) else problem}"
            )
    return "; ".join(parts)


def _tag(value: str) -> str:
    return re.sub(r"[^a-z0-9_\-:]", "_", value.lower())[:80]


def note_body(ticket: TicketData) -> str:
    lines = [ticket.summary or ticket.subject, ""]
    for name, title in REPORT_TITLES:
        claims = ticket.report.get(name) or []
        if claims:
            lines += [f"{title}:"] + [f"- {text}" for text, _ in claims] + [""]
    lines.append(f"Triage: {ticket.key} {ticket.url}")
    return "\n".join(lines)


class ZendeskConnector:
    kind = "zendesk"

    def _url(self, config: Config, path: str) -> str:
        return config.base_url.rstrip("/") + path

    def _agent_url(self, config: Config, ticket_id: str) -> str:
        return self._url(config, f"/agent/tickets/{ticket_id}")

    def find(self, *, config: Config, ticket: TicketData, send: Send) -> External | None:
        url = self._url(config, f"/api/v2/tickets?external_id={quote(ticket.key)}")
        response = check(send(Request("GET", url, _headers(config))), service=SERVICE, message=error_message)
        tickets = (response.json() or {}).get("tickets") or []
        if not tickets:
            return None
        first = min(tickets, key=lambda t: int(t["id"]))
        return External(id=str(first["id"]), url=self._agent_url(config, str(first["id"])))

    def create(self, *, config: Config, ticket: TicketData, send: Send) -> External:
        priority = config.mapped("priority_map", ticket.priority, default=ticket.priority)
        body: dict = {
            "subject": ticket.subject[:300],
            "comment": {"body": note_body(ticket), "public": False},
            "external_id": ticket.key,
            "tags": [
                _tag(t)
                for t in ("triage", ticket.category, ticket.queue, *config.options.get("tags", []))
                if t
            ],
        }
        if priority in PRIORITIES:
            body["priority"] = priority
        if config.project:
            body["group_id"] = int(config.project) if config.project.isdigit() else config.project
        if ticket.requester_email:
            body["requester"] = {
                "email": ticket.requester_email,
                "name": ticket.requester_email.split("@")[0],
            }
        response = send(
            Request(
                "POST", self._url(config, "/api/v2/tickets"), _headers(config), json_body({"ticket": body})
            )
        )
        data = check(response, service=SERVICE, message=error_message).json()
        ticket_id = str(data["ticket"]["id"])
        return External(id=ticket_id, url=self._agent_url(config, ticket_id))

    def finish(self, *, config: Config, ticket: TicketData, external: External, send: Send) -> None:
        return None


def sync_status(payload: dict) -> tuple[str, str] | None:
    """(Zendesk ticket id, "closed" | "reopened") from the trigger's webhook body (docs/integrations.md
    gives the JSON to paste: {"ticket_id": "{{ticket.id}}", "status": "{{ticket.status}}"}), else None."""
    ticket_id = str(payload.get("ticket_id") or "").strip()
    status = str(payload.get("status") or "").strip().lower()
    if not ticket_id or not status:
        return None
    return (ticket_id, "closed" if status in ("solved", "closed") else "reopened")
