"""Slack incoming webhooks (api.slack.com/messaging/webhooks) with Block Kit blocks.

The webhook URL is the secret. Slack answers 200 `ok`, or a status with a plain-text reason:
400 invalid_payload, 403 action_prohibited, 404 channel_not_found / no_service, 410
channel_is_archived, 429 with Retry-After. A message cannot be looked up, so a notification whose
job was killed mid-call may be posted twice (docs/integrations.md).
"""

from __future__ import annotations

from triage.adapters.handoff import Config, External, Request, Response, Send, TicketData, check, json_body

SERVICE = "Slack"


def error_message(response: Response) -> str:
    return response.text.strip()[:200]


def blocks(ticket: TicketData) -> list[dict]:
    fields = [
        {"type": "mrkdwn", "text": f"*{name}:*\n{value}"}
        for name, value in (
            ("Category", ticket.category),
            ("Priority", ticket.priority),
            ("Queue", ticket.queue),
            ("Language", ticket.language),
        )
        if value
    ]
    result: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{ticket.key}: {ticket.subject}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": (ticket.summary or ticket.subject)[:2900]}},
    ]
    if fields:
        result.append({"type": "section", "fields": fields[:10]})
    result.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open in Triage"},
                    "url": ticket.url,
                    "action_id": "open-ticket",
                }
            ],
        }
    )
    if ticket.rule:
        result.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Rule: {ticket.rule}"}]})
    return result


class SlackConnector:
    kind = "slack"

    def find(self, *, config: Config, ticket: TicketData, send: Send) -> External | None:
        return None

    def create(self, *, config: Config, ticket: TicketData, send: Send) -> External:
        body = {"text": f"{ticket.key}: {ticket.subject}", "blocks": blocks(ticket)}
        response = send(Request("POST", config.secret, {"content-type": "application/json"}, json_body(body)))
        check(response, service=SERVICE, message=error_message)
        return External(id="", url="")

    def finish(self, *, config: Config, ticket: TicketData, external: External, send: Send) -> None:
        return None
