"""Local servers speaking Jira Cloud REST v3, GitHub Issues, Zendesk and Slack incoming webhooks.

Each checks what the real service checks (auth headers, required fields, the Atlassian no-check
header on uploads), keeps the objects it made (so a look-up by our key finds them), and can be told
to answer a failure: `fail_next(status, body, headers)` or `stall_next(seconds)` (a time-out).
`create_delay_s` makes a create store its object, then wait before answering: the worker can be
killed after the service made the issue and before it heard so.

    fakes = HandoffFakes(httpserver)       # or the `handoff_fakes` fixture
    fakes.jira.issues                      # {"WEB-1": {...}}
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

JIRA_EMAIL, JIRA_TOKEN, JIRA_PROJECT = "bot@example.com", "jira-token-1", "WEB"
GITHUB_TOKEN, GITHUB_REPO = "ghp_test_token", "acme/web"
ZENDESK_EMAIL, ZENDESK_TOKEN, ZENDESK_GROUP = "agent@example.com", "zd-token-1", "360001"
SLACK_PATH = "/services/T000/B000/XXXX"


def _json(data: object, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(data), status=status, headers=headers or {}, content_type="application/json")


@dataclass
class Script:
    # what the next requests get, in order: ("fail", (status, body, headers)) or ("stall", seconds)
    actions: list[tuple[str, object]] = field(default_factory=list)
    create_delay_s: float = 0.0
    requests: list[tuple[str, str]] = field(default_factory=list)

    def fail_next(
        self, status: int, body: object = None, headers: dict | None = None, times: int = 1
    ) -> None:
        for _ in range(times):
            self.actions.append(("fail", (status, body, headers or {})))

    def stall_next(self, seconds: float) -> None:
        """The next request waits this long before it is answered (a client time-out)."""
        self.actions.append(("stall", seconds))

    def scripted(self) -> Response | None:
        if not self.actions:
            return None
        kind, value = self.actions.pop(0)
        if kind == "stall":
            time.sleep(value)  # type: ignore[arg-type]
            return Response("too late", status=504)
        status, body, headers = value  # type: ignore[misc]
        if isinstance(body, str):
            return Response(body, status=status, headers=headers, content_type="text/plain")
        return _json(body if body is not None else {}, status=status, headers=headers)


class JiraFake(Script):
    def __init__(self) -> None:
        super().__init__()
        self.issues: dict[str, dict] = {}
        self.creates = 0
        self.release = threading.Event()  # ends a create_delay_s early
        self.refuse_uploads = 0  # a status to answer every attachment upload with

    def auth_ok(self, request: Request) -> bool:
        token = base64.b64encode(f"{JIRA_EMAIL}:{JIRA_TOKEN}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {token}"

    def handle(self, request: Request, path: str) -> Response:
        if not self.auth_ok(request):
            return _json({"errorMessages": ["Client must be authenticated to access this resource."]}, 401)
        scripted = self.scripted()
        if scripted is not None:
            return scripted
        if path == "/rest/api/3/search/jql" and request.method == "POST":
            body = request.get_json()
            found = re.search(r'labels = "([^"]+)"', body["jql"])
            project = re.search(r'project = "([^"]+)"', body["jql"])
            assert found and project, body
            hits = [
                {"id": i["id"], "key": k}
                for k, i in sorted(self.issues.items(), key=lambda kv: kv[1]["id"])
                if found[1] in i["fields"]["labels"] and i["fields"]["project"]["key"] == project[1]
            ]
            return _json({"issues": hits[: body.get("maxResults", 50)], "isLast": True})
        if path == "/rest/api/3/issue" and request.method == "POST":
            assert request.content_type == "application/json"
            fields = request.get_json()["fields"]
            if fields.get("project", {}).get("key") != JIRA_PROJECT:
                return _json({"errorMessages": [], "errors": {"project": "valid project is required"}}, 400)
            errors = {}
            if not fields.get("summary"):
                errors["summary"] = "You must specify a summary of the issue."
            description = fields.get("description") or {}
            if description.get("type") != "doc" or description.get("version") != 1:
                errors["description"] = "Operation value must be an Atlassian Document."
            if not fields.get("issuetype", {}).get("name"):
                errors["issuetype"] = "Specify an issue type"
            if errors:
                return _json({"errorMessages": [], "errors": errors}, 400)
            self.creates += 1
            number = len(self.issues) + 1
            key = f"{JIRA_PROJECT}-{number}"
            self.issues[key] = {"id": str(10000 + number), "fields": fields, "attachments": [], "links": {}}
            if self.create_delay_s:
                self.release.wait(self.create_delay_s)
            return _json(
                {"id": str(10000 + number), "key": key, "self": f"{request.host_url}rest/api/3/issue/{key}"},
                201,
            )
        match = re.fullmatch(r"/rest/api/3/issue/([A-Z]+-\d+)(/attachments|/remotelink)?", path)
        if not match or match[1] not in self.issues:
            return _json(
                {"errorMessages": ["Issue does not exist or you do not have permission to see it."]}, 404
            )
        issue = self.issues[match[1]]
        if match[2] is None and request.method == "GET":
            return _json(
                {"key": match[1], "fields": {"attachment": [{"filename": a} for a in issue["attachments"]]}}
            )
        if match[2] == "/attachments" and request.method == "POST":
            if self.refuse_uploads:
                return _json(
                    {"errorMessages": ["The file exceeds the maximum attachment size."]}, self.refuse_uploads
                )
            if request.headers.get("X-Atlassian-Token") != "no-check":
                return Response("XSRF check failed", status=403)
            upload = request.files.get("file")
            if upload is None:
                return _json({"errorMessages": ["no file"]}, 400)
            issue["attachments"].append(upload.filename)
            data = upload.read()
            issue.setdefault("files", {})[upload.filename] = data
            return _json([{"filename": upload.filename, "size": len(data)}])
        if match[2] == "/remotelink" and request.method == "POST":
            link = request.get_json()
            issue["links"][link["globalId"]] = link["object"]
            return _json({"id": len(issue["links"])}, 201)
        return _json({"errorMessages": ["method"]}, 405)


class GitHubFake(Script):
    def __init__(self) -> None:
        super().__init__()
        self.issues: list[dict] = []

    def handle(self, request: Request, path: str) -> Response:
        if request.headers.get("Authorization") != f"Bearer {GITHUB_TOKEN}":
            return _json(
                {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}, 401
            )
        if not request.headers.get("User-Agent"):
            return Response("Request forbidden by administrative rules.", status=403)
        assert request.headers.get("X-GitHub-Api-Version") == "2022-11-28"
        scripted = self.scripted()
        if scripted is not None:
            return scripted
        if not path.startswith(f"/repos/{GITHUB_REPO}/issues"):
            return _json({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, 404)
        if request.method == "GET":
            wanted = set(filter(None, request.args.get("labels", "").split(",")))
            hits = [i for i in self.issues if wanted <= {label["name"] for label in i["labels"]}]
            return _json(hits)
        body = request.get_json()
        if not body.get("title"):
            return _json(
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "Issue", "field": "title", "code": "missing_field"}],
                },
                422,
            )
        number = len(self.issues) + 1
        issue = {
            "number": number,
            "html_url": f"https://github.com/{GITHUB_REPO}/issues/{number}",
            "title": body["title"],
            "body": body.get("body", ""),
            "labels": [{"name": n} for n in body.get("labels", [])],
            "state": "open",
        }
        self.issues.append(issue)
        return _json(issue, 201)


class ZendeskFake(Script):
    def __init__(self) -> None:
        super().__init__()
        self.tickets: list[dict] = []

    def handle(self, request: Request, path: str) -> Response:
        token = base64.b64encode(f"{ZENDESK_EMAIL}/token:{ZENDESK_TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {token}":
            return _json({"error": "Couldn't authenticate you"}, 401)
        scripted = self.scripted()
        if scripted is not None:
            return scripted
        if path != "/api/v2/tickets":
            return _json({"error": "InvalidEndpoint", "description": "Not found"}, 404)
        if request.method == "GET":
            wanted = request.args.get("external_id")
            return _json({"tickets": [t for t in self.tickets if t["external_id"] == wanted], "count": 1})
        ticket = request.get_json()["ticket"]
        if str(ticket.get("group_id")) != ZENDESK_GROUP:
            return _json(
                {
                    "error": "RecordInvalid",
                    "description": "Record validation errors",
                    "details": {"group": [{"description": "Group: is invalid"}]},
                },
                422,
            )
        assert ticket["comment"]["public"] is False
        ticket = {**ticket, "id": 500 + len(self.tickets) + 1}
        self.tickets.append(ticket)
        return _json({"ticket": ticket}, 201)


class SlackFake(Script):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict] = []

    def handle(self, request: Request, path: str) -> Response:
        if path != SLACK_PATH:
            return Response("no_service", status=404)
        scripted = self.scripted()
        if scripted is not None:
            return scripted
        body = request.get_json(silent=True) or {}
        if not body.get("text") or not isinstance(body.get("blocks"), list):
            return Response("invalid_payload", status=400)
        self.messages.append(body)
        return Response("ok")


class HandoffFakes:
    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.jira, self.github, self.zendesk, self.slack = (
            JiraFake(),
            GitHubFake(),
            ZendeskFake(),
            SlackFake(),
        )
        self.lock = threading.Lock()
        server.expect_request(re.compile("^/.*")).respond_with_handler(self.handle)

    @property
    def base_url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def handle(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/jira"):
            service, path = self.jira, path.removeprefix("/jira")
        elif path.startswith("/github"):
            service, path = self.github, path.removeprefix("/github")
        elif path.startswith("/zendesk"):
            service, path = self.zendesk, path.removeprefix("/zendesk")
        else:
            service = self.slack
        service.requests.append((request.method, path))
        return service.handle(request, path)


@pytest.fixture
def handoff_fakes(httpserver: HTTPServer) -> HandoffFakes:
    return HandoffFakes(httpserver)


@pytest.fixture
def threaded_handoff_fakes() -> Iterator[HandoffFakes]:
    """The fakes on a server answering requests concurrently (a create held open by
    `create_delay_s` does not block the next worker's look-up)."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        yield HandoffFakes(server)
    finally:
        server.clear()
        server.stop()
