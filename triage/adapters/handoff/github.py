"""GitHub Issues REST API (docs.github.com/rest/issues).

- auth: `Authorization: Bearer <token>`, `Accept: application/vnd.github+json`,
  `X-GitHub-Api-Version: 2022-11-28` and a User-Agent (GitHub refuses requests without one);
- look-up: GET /repos/{owner}/{repo}/issues?labels=triage:TRI-12&state=all (the list, not the
  search API: search is eventually consistent, a just-created issue may not be found there yet);
- create: POST /repos/{owner}/{repo}/issues with title, Markdown body and labels (a missing label
  is created by GitHub).
Errors come as {"message": ..., "errors": [{"resource", "field", "code", "message"}]}.
"""

from __future__ import annotations

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

SERVICE = "GitHub"
API_VERSION = "2022-11-28"


def label(ticket_key: str) -> str:
    return f"triage:{ticket_key}"


def _headers(config: Config) -> dict[str, str]:
    return {
        "authorization": f"Bearer {config.secret}",
        "accept": "application/vnd.github+json",
        "x-github-api-version": API_VERSION,
        "user-agent": "Triage-Handoff/1",
        "content-type": "application/json",
    }


def error_message(response: Response) -> str:
    data = response.json() or {}
    parts = [str(data.get("message") or "")]
    for err in data.get("errors") or []:
        if isinstance(err, dict):
            parts.append(err.get("message") or f"{err.get('field', '')} {err.get('code', '')}".strip())
        else:
            parts.append(str(err))
    return "; ".join(p for p in parts if p)


def markdown_body(ticket: TicketData) -> str:
    lines = []
    if ticket.summary:
        lines += ["### Summary", "", ticket.summary, ""]
    sources: list[str] = []
    for name, title in REPORT_TITLES:
        claims = ticket.report.get(name) or []
        if not claims:
            continue
        lines += [f"### {title}", ""]
        for number, (text, source) in enumerate(claims, 1):
            bullet = f"{number}." if name == "steps_to_reproduce" else "-"
            lines.append(f"{bullet} {text}")
            if source and source not in sources:
                sources.append(source)
        lines.append("")
    if ticket.description and not ticket.report:
        lines += ["### Description", "", ticket.description[:20000], ""]
    if ticket.images:
        lines += ["### Screenshots", ""] + [f"![{i.name}]({i.url})" for i in ticket.images] + [""]
    if sources:
        lines += ["### Sources", ""] + [f"- {s}" for s in sources] + [""]
    lines.append(f"From Triage: [{ticket.key}]({ticket.url})")
    lines.append(f"<!-- triage-ticket: {ticket.key} -->")
    return "\n".join(lines)


class GitHubConnector:
    kind = "github"

    def _repo_url(self, config: Config, path: str) -> str:
        owner, _, repo = config.project.partition("/")
        return f"{config.base_url.rstrip('/')}/repos/{quote(owner)}/{quote(repo)}{path}"

    def find(self, *, config: Config, ticket: TicketData, send: Send) -> External | None:
        url = self._repo_url(config, f"/issues?labels={quote(label(ticket.key))}&state=all&per_page=5")
        response = check(send(Request("GET", url, _headers(config))), service=SERVICE, message=error_message)
        issues = [i for i in response.json() or [] if isinstance(i, dict) and "pull_request" not in i]
        if not issues:
            return None
        first = min(issues, key=lambda i: int(i["number"]))
        return External(id=str(first["number"]), url=str(first.get("html_url") or ""))

    def create(self, *, config: Config, ticket: TicketData, send: Send) -> External:
        labels = [label(ticket.key)]
        for name, value in (("category_labels", ticket.category), ("priority_labels", ticket.priority)):
            mapped = config.mapped(name, value, default=value)
            if mapped:
                labels.append(mapped)
        body = {"title": ticket.subject[:256], "body": markdown_body(ticket), "labels": labels}
        response = send(Request("POST", self._repo_url(config, "/issues"), _headers(config), json_body(body)))
        data = check(response, service=SERVICE, message=error_message).json()
        return External(id=str(data["number"]), url=str(data["html_url"]))

    def finish(self, *, config: Config, ticket: TicketData, external: External, send: Send) -> None:
        return None


def sync_status(payload: dict) -> tuple[str, str, str] | None:
    """(owner/repo, issue number, "closed" | "reopened") from an `issues` webhook, else None."""
    action = payload.get("action")
    issue = payload.get("issue") or {}
    repo = (payload.get("repository") or {}).get("full_name")
    if action not in ("closed", "reopened") or not issue.get("number") or not repo:
        return None
    return (str(repo), str(issue["number"]), str(action))
