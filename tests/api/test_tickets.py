from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import TicketFactory, png_bytes, triaged_ticket
from triage.models import ApiIdempotencyKey, ReviewDecision, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def _json(response):
    return json.loads(response.content)


def test_create_with_json_returns_the_ticket_and_queues_triage(
    api_client, django_capture_on_commit_callbacks
):
    client = api_client()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.api(
            "post", "/api/v1/tickets", {"subject": "Login fails", "description": "500 on submit"}
        )
    assert response.status_code == 201, response.content
    body = _json(response)
    ticket = Ticket.objects.get(id=body["id"])
    assert body["reference"] == ticket.reference and body["status"] == "TRIAGING"
    assert ticket.created_by == client.user
    assert callbacks, "triage is queued on commit"


def test_create_with_multipart_attachments(api_client):
    client = api_client()
    upload = SimpleUploadedFile("shot.png", png_bytes(), content_type="image/png")
    response = client.post(
        "/api/v1/tickets",
        {"subject": "With a screenshot", "attachments": [upload]},
        HTTP_AUTHORIZATION=f"Bearer {client.token}",
    )
    assert response.status_code == 201, response.content
    body = _json(response)
    assert [a["name"] for a in body["attachments"]] == ["shot.png"]
    assert body["status"] == "PROCESSING"


def test_create_referencing_a_staged_upload(api_client):
    client = api_client()
    upload = SimpleUploadedFile("first.png", png_bytes(), content_type="image/png")
    staged = client.post("/api/v1/uploads", {"file": upload}, HTTP_AUTHORIZATION=f"Bearer {client.token}")
    assert staged.status_code == 201, staged.content
    token = _json(staged)["token"]
    response = client.api("post", "/api/v1/tickets", {"subject": "Uploaded first", "uploads": [token]})
    assert response.status_code == 201, response.content
    assert [a["name"] for a in _json(response)["attachments"]] == ["first.png"]


def test_another_users_upload_token_is_refused(api_client):
    one, other = api_client("agent"), api_client("manager")
    upload = SimpleUploadedFile("mine.png", png_bytes(), content_type="image/png")
    token = _json(one.post("/api/v1/uploads", {"file": upload}, HTTP_AUTHORIZATION=f"Bearer {one.token}"))[
        "token"
    ]
    response = other.api("post", "/api/v1/tickets", {"subject": "x", "uploads": [token]})
    assert response.status_code == 422 and response["Content-Type"] == PROBLEM
    assert "not an upload of yours" in _json(response)["detail"]


def test_idempotency_key_same_body_same_ticket_other_body_refused(api_client):
    client = api_client()
    body = {"subject": "Once only", "description": "retry me"}
    first = client.api("post", "/api/v1/tickets", body, HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.api("post", "/api/v1/tickets", body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201 and again.status_code == 200
    assert _json(first)["id"] == _json(again)["id"]
    assert Ticket.objects.filter(subject="Once only").count() == 1
    other = client.api(
        "post", "/api/v1/tickets", {**body, "description": "changed"}, HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert other.status_code == 422 and other["Content-Type"] == PROBLEM
    assert "different body" in _json(other)["detail"]
    assert ApiIdempotencyKey.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"subject": ""}, 422, "subject"),
        ({"subject": 5}, 422, "subject"),
        ({"subject": "x", "unknown": 1}, 422, "unknown"),
        ({"subject": "x", "requester_email": "not-an-email"}, 422, "requester_email"),
        ([1, 2], 422, "JSON object"),
    ],
)
def test_bad_create_bodies_are_problems(api_client, body, status, needle):
    response = api_client().api("post", "/api/v1/tickets", json.dumps(body))
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    assert needle in response.content.decode()


def test_malformed_json_is_a_400_problem(api_client):
    response = api_client().api("post", "/api/v1/tickets", "{not json", content_type="application/json")
    assert response.status_code == 400 and _json(response)["title"] == "Malformed JSON"


def test_oversize_body_is_a_413_problem(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api_client().api("post", "/api/v1/tickets", json.dumps({"subject": "x" * 5000}))
    assert response.status_code == 413 and response["Content-Type"] == PROBLEM


def test_get_shows_triage_with_confidence_and_sources_runs_and_decisions(api_client):
    client = api_client()
    ticket = triaged_ticket()
    response = client.api("get", f"/api/v1/tickets/{ticket.id}")
    assert response.status_code == 200
    body = _json(response)
    category = body["triage"]["fields"]["category"]
    assert category["value"] == ticket.category and isinstance(category["confidence"], float)
    assert "source" in category
    assert [r["id"] for r in body["runs"]] == [ticket.latest_run_id]
    assert body["version"] and body["decisions"] == []


def test_get_unknown_ticket_is_a_404_problem(api_client):
    response = api_client().api("get", "/api/v1/tickets/999999")
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM


def test_review_accept_with_current_version(api_client):
    client = api_client()
    ticket = triaged_ticket()
    version = _json(client.api("get", f"/api/v1/tickets/{ticket.id}"))["version"]
    response = client.api(
        "post", f"/api/v1/tickets/{ticket.id}/review", {"action": "accept", "version": version}
    )
    assert response.status_code == 200, response.content
    assert _json(response)["status"] == "REVIEWED"
    assert ReviewDecision.objects.get(ticket=ticket).action == ReviewDecision.Action.ACCEPT


def test_review_with_a_stale_version_is_a_409_saying_what_changed(api_client):
    client = api_client()
    ticket = triaged_ticket()
    stale = _json(client.api("get", f"/api/v1/tickets/{ticket.id}"))["version"]
    other = api_client("manager")
    other.api("post", f"/api/v1/tickets/{ticket.id}/review", {"action": "accept", "version": stale})
    response = client.api(
        "post",
        f"/api/v1/tickets/{ticket.id}/review",
        {"action": "correct", "version": stale, "values": {"priority": "low"}},
    )
    assert response.status_code == 409, response.content
    problem = _json(response)
    assert problem["changes"] and other.user.get_full_name() in problem["changes"][0]
    assert "accepted as proposed" in problem["detail"]
    assert problem["current_version"] != stale
    assert ReviewDecision.objects.filter(ticket=ticket).count() == 1


def test_review_correct_validates_values_against_the_taxonomy(api_client):
    client = api_client()
    ticket = triaged_ticket()
    version = _json(client.api("get", f"/api/v1/tickets/{ticket.id}"))["version"]
    bad = client.api(
        "post",
        f"/api/v1/tickets/{ticket.id}/review",
        {"action": "correct", "version": version, "values": {"category": "no-such-category"}},
    )
    assert bad.status_code == 422 and "category" in bad.content.decode()
    good = client.api(
        "post",
        f"/api/v1/tickets/{ticket.id}/review",
        {"action": "correct", "version": version, "values": {"priority": "low"}},
    )
    assert good.status_code == 200, good.content
    assert _json(good)["priority"] == "low"
    assert ReviewDecision.objects.get(ticket=ticket).action == ReviewDecision.Action.CORRECT


def test_assign_and_retriage_call_the_services(api_client, django_capture_on_commit_callbacks):
    client = api_client()
    ticket = triaged_ticket()
    response = client.api("post", f"/api/v1/tickets/{ticket.id}/assign", {"assignee": client.user.username})
    assert response.status_code == 200 and _json(response)["assignee"] == client.user.username
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.api("post", f"/api/v1/tickets/{ticket.id}/retriage", {"provider": "local"})
    assert response.status_code == 202, response.content
    assert callbacks
    assert set(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True)) == {
        "ASSIGN",
        "RETRIAGE",
    }
    busy = client.api("post", f"/api/v1/tickets/{ticket.id}/retriage", {"provider": "local"})
    assert busy.status_code == 409


def test_retriage_with_kimi_and_no_key_is_refused_and_starts_nothing(api_client, settings):
    settings.KIMI_API_KEY = ""
    client = api_client()
    ticket = triaged_ticket()
    response = client.api("post", f"/api/v1/tickets/{ticket.id}/retriage", {"provider": "kimi"})
    assert response.status_code == 422, response.content
    assert "KIMI_API_KEY" in _json(response)["detail"]
    assert not TicketEvent.objects.filter(ticket=ticket).exists()


def test_list_walks_every_ticket_once_even_with_inserts_between_pages(api_client):
    client = api_client()
    for n in range(7):
        triaged_ticket(subject=f"t{n}")
    seen: list[int] = []
    cursor = ""
    pages = 0
    while True:
        query = {"sort": "work", "limit": 3, **({"cursor": cursor} if cursor else {})}
        body = _json(client.api("get", "/api/v1/tickets", query))
        seen += [t["id"] for t in body["items"]]
        pages += 1
        if pages == 1:
            triaged_ticket(subject="inserted meanwhile")  # lands behind the cursor in work order
            TicketFactory(status=Ticket.Status.REVIEWED, subject="reviewed meanwhile")
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)), "no ticket twice"
    assert set(Ticket.objects.exclude(subject__endswith="meanwhile").values_list("id", flat=True)) <= set(
        seen
    )


@pytest.mark.parametrize("sort", ["newest", "oldest", "confidence"])
def test_list_sorts_page_through_everything(api_client, sort):
    client = api_client()
    for n in range(5):
        triaged_ticket(subject=f"s{n}")
    TicketFactory(status=Ticket.Status.TRIAGING)  # no confidence
    seen, cursor = [], ""
    while True:
        body = _json(
            client.api(
                "get", "/api/v1/tickets", {"sort": sort, "limit": 2, **({"cursor": cursor} if cursor else {})}
            )
        )
        seen += [t["id"] for t in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(Ticket.objects.values_list("id", flat=True))
    if sort == "newest":
        assert seen == sorted(seen, reverse=True)


def test_list_filters_like_the_queue_and_refuses_bad_ones(api_client):
    client = api_client()
    a = triaged_ticket()
    TicketFactory(status=Ticket.Status.REVIEWED)
    body = _json(client.api("get", "/api/v1/tickets", {"status": "needs_review"}))
    assert [t["id"] for t in body["items"]] == [a.id]
    bad = client.api("get", "/api/v1/tickets", {"category": "nope"})
    assert bad.status_code == 422 and bad["Content-Type"] == PROBLEM
    assert client.api("get", "/api/v1/tickets", {"limit": "many"}).status_code == 422
    assert client.api("get", "/api/v1/tickets", {"cursor": "garbage!"}).status_code == 400


def test_list_query_count_does_not_grow_with_the_page(api_client, django_assert_max_num_queries):
    client = api_client()
    for n in range(30):
        triaged_ticket(subject=f"q{n}")
    client.api("get", "/api/v1/tickets", {"limit": 1})  # warm the token's last-used stamp
    with django_assert_max_num_queries(12):
        small = client.api("get", "/api/v1/tickets", {"limit": 2})
    with django_assert_max_num_queries(12):
        large = client.api("get", "/api/v1/tickets", {"limit": 25})
    assert len(_json(small)["items"]) == 2 and len(_json(large)["items"]) == 25


def test_get_and_list_show_the_sla_targets(api_client):
    from datetime import timedelta

    from django.utils import timezone

    client = api_client()
    ticket = triaged_ticket()
    assert _json(client.api("get", f"/api/v1/tickets/{ticket.id}"))["sla"] == []  # no policy
    now = timezone.now()
    # update(): no post_save, so no policy recomputes these
    Ticket.objects.filter(id=ticket.id).update(
        sla_first_due_at=now - timedelta(hours=2), sla_resolve_due_at=now + timedelta(hours=3)
    )
    body = _json(client.api("get", f"/api/v1/tickets/{ticket.id}"))
    first, resolution = body["sla"]
    assert first["target"] == "first_decision" and first["state"] == "overdue" and first["done_at"] is None
    assert -7300 < first["seconds_left"] <= -7200
    assert resolution["target"] == "resolution" and resolution["state"] == "ok"
    assert 10700 < resolution["seconds_left"] <= 10800
    Ticket.objects.filter(id=ticket.id).update(reviewed_at=now - timedelta(hours=3))
    listed = _json(client.api("get", "/api/v1/tickets"))["items"]
    first = next(t for t in listed if t["id"] == ticket.id)["sla"][0]
    assert first["state"] == "met" and first["seconds_left"] is None and first["done_at"]


def test_the_schema_describes_the_sla_targets(client, db):
    document = json.loads(client.get("/api/v1/schema").content)
    target = document["components"]["schemas"]["SlaTargetOut"]
    assert set(target["properties"]) == {"target", "due_at", "done_at", "state", "seconds_left"}


def test_list_filters_flagged_low_like_the_queue(api_client):
    from tests.factories import PROPOSAL

    client = api_client()
    unsure = triaged_ticket(subject="unsure")  # sentiment 0.55, below the fixed 60%
    sure = triaged_ticket(
        subject="sure", result={**PROPOSAL, "sentiment": {"value": "negative", "confidence": 0.9}}
    )
    items = _json(client.api("get", "/api/v1/tickets", {"low": "true"}))["items"]
    assert [t["id"] for t in items] == [unsure.id]
    everything = _json(client.api("get", "/api/v1/tickets"))["items"]
    assert {unsure.id, sure.id} <= {t["id"] for t in everything}
