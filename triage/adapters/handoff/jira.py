"""Jira Cloud REST API v3 (developer.atlassian.com/cloud/jira/platform/rest/v3).

- auth: Basic base64(email:API token);
- look-up: POST /rest/api/3/search/jql with `project = KEY AND labels = "triage-TRI-12"`;
- create: POST /rest/api/3/issue, the description in Atlassian Document Format (ADF);
- attachments: POST /rest/api/3/issue/{key}/attachments, multipart `file`, with
  `X-Atlassian-Token: no-check` (Jira refuses the upload without it);
- link back: POST /rest/api/3/issue/{key}/remotelink with a `globalId` (the same id updates the
  same link, so a repeat makes no second one).
Errors come as {"errorMessages": [...], "errors": {"field": "message"}}.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

import urllib3

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

SERVICE = "Jira"


def label(ticket_key: str) -> str:
    return f"triage-{ticket_key}"


def _headers(config: Config, *, json_content: bool = True) -> dict[str, str]:
    token = base64.b64encode(f"{config.account}:{config.secret}".encode()).decode()
    headers = {"authorization": f"Basic {token}", "accept": "application/json"}
    if json_content:
        headers["content-type"] = "application/json"
    return headers


def error_message(response: Response) -> str:
    data = response.json() or {}
    parts = [str(m) for m in data.get("errorMessages") or []]
    parts += [f"{k}: {v}" for k, v in (data.get("errors") or {}).items()]
    return "; ".join(parts)


def _text(text: str, *, strong: bool = False, href: str = "") -> dict:
    node: dict = {"type": "text", "text": text}
    marks: list[dict] = []
    if strong:
        marks.append({"type": "strong"})
    if href:
        marks.append({"type": "link", "attrs": {"href": href}})
    if marks:
        node["marks"] = marks
    return node


def _paragraph(*content: dict) -> dict:
    return {"type": "paragraph", "content": list(content)}


def _heading(text: str) -> dict:
    return {"type": "heading", "attrs": {"level": 3}, "content": [_text(text)]}


def adf_description(ticket: TicketData) -> dict:
    """The ticket as an ADF document: summary, the reviewed report with its sources, a link back."""
    content: list[dict] = []
    if ticket.summary:
        content += [_heading("Summary"), _paragraph(_text(ticket.summary))]
    sources: list[str] = []
    for name, title in REPORT_TITLES:
        claims = ticket.report.get(name) or []
        if not claims:
            continue
        content.append(_heading(title))
        items = []
        for text, source in claims:
            items.append({"type": "listItem", "content": [_paragraph(_text(text))]})
            if source and source not in sources:
                sources.append(source)
        list_type = "orderedList" if name == "steps_to_reproduce" else "bulletList"
        content.append({"type": list_type, "content": items})
    if ticket.description and not ticket.report:
        content += [_heading("Description"), _paragraph(_text(ticket.description[:20000]))]
    if sources:
        content.append(_heading("Sources"))
        content.append(
            {
                "type": "bulletList",
                "content": [{"type": "listItem", "content": [_paragraph(_text(s))]} for s in sources],
            }
        )
    content.append(
        _paragraph(
            _text("From Triage: "),
            _text(ticket.key, strong=True, href=ticket.url),
            _text(f" (category {ticket.category or '—'}, priority {ticket.priority or '—'})"),
        )
    )
    return {"type": "doc", "version": 1, "content": content}


class JiraConnector:
    kind = "jira"

    def _url(self, config: Config, path: str) -> str:
        return config.base_url.rstrip("/") + path

    def find(self, *, config: Config, ticket: TicketData, send: Send) -> External | None:
        jql = f'project = "{config.project}" AND labels = "{label(ticket.key)}" ORDER BY created ASC'
        response = send(
            Request(
                "POST",
                self._url(config, "/rest/api/3/search/jql"),
                _headers(config),
                json_body({"jql": jql, "fields": ["summary"], "maxResults": 1}),
            )
        )
        issues = (check(response, service=SERVICE, message=error_message).json() or {}).get("issues") or []
        if not issues:
            return None
        key = str(issues[0]["key"])
        return External(id=key, url=self._browse(config, key))

    def _browse(self, config: Config, key: str) -> str:
        return self._url(config, f"/browse/{key}")

    def create(self, *, config: Config, ticket: TicketData, send: Send) -> External:
        fields: dict = {
            "project": {"key": config.project},
            "issuetype": {"name": str(config.options.get("issue_type") or "Bug")},
            "summary": f"{ticket.subject}"[:255].replace("\n", " "),
            "description": adf_description(ticket),
            "labels": [label(ticket.key)]
            + [
                v.replace(" ", "_")
                for v in (ticket.category, config.mapped("label_map", ticket.category))
                if v
            ],
        }
        priority = config.mapped("priority_map", ticket.priority)
        if priority:
            fields["priority"] = {"name": priority}
        response = send(
            Request(
                "POST",
                self._url(config, "/rest/api/3/issue"),
                _headers(config),
                json_body({"fields": fields}),
            )
        )
        key = str(check(response, service=SERVICE, message=error_message).json()["key"])
        return External(id=key, url=self._browse(config, key))

    def finish(self, *, config: Config, ticket: TicketData, external: External, send: Send) -> None:
        """The screenshots and storyboard not attached yet, and the link back (both idempotent)."""
        if ticket.images:
            response = send(
                Request(
                    "GET",
                    self._url(config, f"/rest/api/3/issue/{quote(external.id)}?fields=attachment"),
                    _headers(config, json_content=False),
                )
            )
            data = check(response, service=SERVICE, message=error_message).json() or {}
            present = {a.get("filename") for a in (data.get("fields") or {}).get("attachment") or []}
            for image in ticket.images:
                if image.name in present:
                    continue
                body, content_type = urllib3.encode_multipart_formdata(
                    {"file": (image.name, image.content, image.mime)}
                )
                headers = {
                    **_headers(config, json_content=False),
                    "content-type": content_type,
                    "x-atlassian-token": "no-check",
                }
                url = self._url(config, f"/rest/api/3/issue/{quote(external.id)}/attachments")
                check(send(Request("POST", url, headers, body)), service=SERVICE, message=error_message)
        link = {
            "globalId": f"triage:{ticket.key}",
            "object": {"url": ticket.url, "title": f"{ticket.key} in Triage"},
        }
        url = self._url(config, f"/rest/api/3/issue/{quote(external.id)}/remotelink")
        check(
            send(Request("POST", url, _headers(config), json_body(link))),
            service=SERVICE,
            message=error_message,
        )


def sync_status(payload: dict) -> tuple[str, str] | None:
    """(issue key, "closed" | "reopened") from a jira:issue_updated webhook, else None."""
    issue = payload.get("issue") or {}
    key = issue.get("key")
    if not key or payload.get("webhookEvent") != "jira:issue_updated":
        return None
    category = (((issue.get("fields") or {}).get("status") or {}).get("statusCategory") or {}).get("key")
    changed = [i for i in ((payload.get("changelog") or {}).get("items") or []) if i.get("field") == "status"]
    if not changed:
        return None
    return (str(key), "closed" if category == "done" else "reopened")
