"""The connectors' pure part: what each sends for a ticket, and how answers become outcomes."""

from __future__ import annotations

import json

import pytest

from triage.adapters.handoff import (
    Config,
    External,
    HandoffFailed,
    Image,
    Request,
    Response,
    TicketData,
    check,
    connector_for,
    github,
    jira,
    slack,
    zendesk,
)

TICKET = TicketData(
    key="TRI-9",
    url="https://triage.example.com/tickets/9/",
    subject="Checkout fails",
    summary="Card payments fail with HTTP 500.",
    category="bug",
    priority="urgent",
    queue="engineering",
    language="en",
    requester_email="ana@example.com",
    rule="Bugs",
    report={
        "steps_to_reproduce": [("Open checkout", "description"), ("Pay by card", "description")],
        "actual": [("HTTP 500", "screenshot 1")],
    },
    images=(Image(name="shot-1-0.png", mime="image/png", content=b"\x89PNG", url="https://t/r/1"),),
)


class Recorder:
    """`send` that records requests and answers from a list."""

    def __init__(self, *answers: Response) -> None:
        self.answers = list(answers)
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        return self.answers.pop(0)


def ok(data: object, status: int = 200) -> Response:
    return Response(status=status, headers={}, body=json.dumps(data).encode())


def test_the_adf_description_has_the_report_its_sources_and_a_link_back():
    doc = jira.adf_description(TICKET)
    assert doc["type"] == "doc" and doc["version"] == 1
    kinds = [node["type"] for node in doc["content"]]
    assert "orderedList" in kinds  # the steps, numbered
    text = json.dumps(doc)
    assert "Steps to reproduce" in text and "screenshot 1" in text and "Sources" in text
    link = doc["content"][-1]["content"][1]
    assert link["marks"][1] == {"type": "link", "attrs": {"href": TICKET.url}}


def test_jira_create_sends_basic_auth_labels_and_the_mapped_priority():
    config = Config(
        base_url="https://acme.atlassian.net", project="WEB", account="bot@acme.com", secret="tok",
        options={"priority_map": {"urgent": "Highest"}, "issue_type": "Task"},
    )  # fmt: skip
    send = Recorder(ok({"id": "1", "key": "WEB-3"}, 201))
    external = jira.JiraConnector().create(config=config, ticket=TICKET, send=send)
    assert external == External(id="WEB-3", url="https://acme.atlassian.net/browse/WEB-3")
    request = send.requests[0]
    assert request.headers["authorization"] == "Basic Ym90QGFjbWUuY29tOnRvaw=="
    fields = json.loads(request.body or b"")["fields"]
    assert fields["priority"] == {"name": "Highest"} and fields["issuetype"] == {"name": "Task"}
    assert fields["labels"][0] == "triage-TRI-9"


def test_jira_attachments_skip_files_already_there_and_carry_the_no_check_header():
    config = Config(base_url="https://a.atlassian.net", project="WEB", account="a", secret="b")
    send = Recorder(ok({"fields": {"attachment": []}}), ok([{}]), ok({}, 201))
    jira.JiraConnector().finish(config=config, ticket=TICKET, external=External("WEB-1", ""), send=send)
    upload = send.requests[1]
    assert upload.headers["x-atlassian-token"] == "no-check"
    assert upload.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="file"; filename="shot-1-0.png"' in (upload.body or b"")
    again = Recorder(ok({"fields": {"attachment": [{"filename": "shot-1-0.png"}]}}), ok({}, 201))
    jira.JiraConnector().finish(config=config, ticket=TICKET, external=External("WEB-1", ""), send=again)
    assert [r.url.rsplit("/", 1)[-1] for r in again.requests] == ["WEB-1?fields=attachment", "remotelink"]


def test_github_markdown_links_images_and_numbers_the_steps():
    body = github.markdown_body(TICKET)
    assert "1. Open checkout\n2. Pay by card" in body and "![shot-1-0.png](https://t/r/1)" in body
    assert "<!-- triage-ticket: TRI-9 -->" in body


def test_github_find_ignores_pull_requests():
    config = Config(base_url="https://api.github.com", project="acme/web", account="", secret="t")
    send = Recorder(
        ok([{"number": 3, "html_url": "u3", "pull_request": {}}, {"number": 5, "html_url": "u5"}])
    )
    found = github.GitHubConnector().find(config=config, ticket=TICKET, send=send)
    assert found == External("5", "u5")
    assert "labels=triage%3ATRI-9" in send.requests[0].url and "state=all" in send.requests[0].url


def test_zendesk_maps_priority_and_sends_a_private_note():
    config = Config(
        base_url="https://acme.zendesk.com", project="77", account="a@acme.com", secret="z",
        options={"priority_map": {"urgent": "urgent"}},
    )  # fmt: skip
    send = Recorder(ok({"ticket": {"id": 12}}, 201))
    external = zendesk.ZendeskConnector().create(config=config, ticket=TICKET, send=send)
    assert external.url == "https://acme.zendesk.com/agent/tickets/12"
    body = json.loads(send.requests[0].body or b"")["ticket"]
    assert body["group_id"] == 77 and body["priority"] == "urgent" and body["comment"]["public"] is False
    assert body["external_id"] == "TRI-9" and body["requester"]["email"] == "ana@example.com"


def test_slack_blocks_have_a_header_fields_and_a_button():
    blocks = slack.blocks(TICKET)
    assert [b["type"] for b in blocks] == ["header", "section", "section", "actions", "context"]
    assert blocks[3]["elements"][0]["url"] == TICKET.url


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [(429, {"retry-after": "17"}, 17.0), (429, {}, 30.0), (503, {}, 30.0), (401, {}, None), (422, {}, None)],
)
def test_check_classifies_answers(status, headers, retry_after):
    with pytest.raises(HandoffFailed) as caught:
        check(Response(status=status, headers=headers, body=b'{"message": "nope"}'), service="GitHub",
              message=github.error_message)  # fmt: skip
    assert caught.value.retry_after == retry_after and caught.value.message.endswith(": nope")


def test_sync_parsers():
    assert github.sync_status(
        {"action": "closed", "issue": {"number": 4}, "repository": {"full_name": "a/b"}}
    ) == (
        "a/b",
        "4",
        "closed",
    )
    assert (
        github.sync_status({"action": "labeled", "issue": {"number": 4}, "repository": {"full_name": "a/b"}})
        is None
    )
    event = {
        "webhookEvent": "jira:issue_updated",
        "issue": {"key": "WEB-1", "fields": {"status": {"statusCategory": {"key": "indeterminate"}}}},
        "changelog": {"items": [{"field": "status"}]},
    }
    assert jira.sync_status(event) == ("WEB-1", "reopened")
    event["changelog"] = {"items": [{"field": "summary"}]}
    assert jira.sync_status(event) is None  # not a status change
    assert zendesk.sync_status({"ticket_id": "12", "status": "Closed"}) == ("12", "closed")


def test_every_kind_has_a_connector():
    assert {connector_for(k).kind for k in ("jira", "github", "zendesk", "slack")} == {
        "jira",
        "github",
        "zendesk",
        "slack",
    }
