"""Outbound webhooks end to end: a ticket created through the API, triaged by a real worker and
reviewed through the API reaches a local receiver as three signed events, delivered by a real
`webhooks` worker (Redis broker, PostgreSQL). The receiver verifies each signature with the
Standard Webhooks reference library and answers 500 once, so one event is retried."""

from __future__ import annotations

import json
import threading

import pytest
from standardwebhooks import Webhook
from werkzeug import Response

from tests.api.conftest import ApiClient
from tests.security.conftest import role_user
from tests.worker import wait_for
from triage.models import WebhookDelivery
from triage.services.api_tokens import api_token_create
from triage.services.webhooks import webhook_endpoint_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


def test_created_triaged_reviewed_arrive_signed_through_real_workers(
    broker, start_worker, httpserver, taxonomy
):
    if broker != "redis":
        pytest.skip("the production path: Redis")
    endpoint = webhook_endpoint_create(url=httpserver.url_for("/hook"), events=[])
    verifier = Webhook(endpoint.secret)
    received: list[dict] = []
    ids: list[str] = []
    lock = threading.Lock()
    first = {"failed": False}

    def handle(request):
        headers = {k.lower(): v for k, v in request.headers.items()}
        payload = verifier.verify(request.get_data(), headers)  # raises on a bad signature: a 500 here
        with lock:
            ids.append(headers["webhook-id"])
            if payload["type"] == "ticket.created" and not first["failed"]:
                first["failed"] = True
                return Response("try again", status=500)
            received.append(payload)
        return Response("ok")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(handle)
    start_worker(queues="llm,webhooks", TRIAGE_WEBHOOK_ALLOW_PRIVATE_URLS="true")

    client = ApiClient(api_token_create(user=role_user("agent"), name="e2e", scope="write").plaintext)
    created = client.api("post", "/api/v1/tickets", {"subject": "Checkout returns HTTP 500 on card payment"})
    assert created.status_code == 201, created.content
    ticket_id = json.loads(created.content)["id"]

    def types() -> list[str]:
        with lock:
            return [p["type"] for p in received]

    wait_for(lambda: {"ticket.created", "ticket.triaged"} <= set(types()), timeout=90, message="two events")
    ticket = json.loads(client.api("get", f"/api/v1/tickets/{ticket_id}").content)
    reviewed = client.api(
        "post", f"/api/v1/tickets/{ticket_id}/review", {"action": "accept", "version": ticket["version"]}
    )
    assert reviewed.status_code == 200, reviewed.content
    wait_for(lambda: "ticket.reviewed" in types(), timeout=60, message="the reviewed event")

    with lock:
        by_type = {p["type"]: p for p in received}
        assert len(ids) == 4 and len(set(ids)) == 3, "the retried event kept its webhook-id"
    assert by_type["ticket.reviewed"]["data"]["ticket"]["status"] == "REVIEWED"
    assert by_type["ticket.triaged"]["data"]["ticket"]["triage"]["fields"]["category"]["value"]
    created_delivery = WebhookDelivery.objects.get(event__event_type="ticket.created")
    assert created_delivery.status == "DELIVERED" and created_delivery.attempts == 2
