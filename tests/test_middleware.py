"""ServerTimingMiddleware: the Server-Timing header bench/load.py reads the queue page's server time from."""

from __future__ import annotations

import re
import time

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from tests.factories import UserFactory
from triage.middleware import ServerTimingMiddleware

pytestmark = pytest.mark.django_db

TIMING = re.compile(
    r'^app;dur=(?P<app>[\d.]+), db;dur=(?P<db>[\d.]+);desc="(?P<queries>\d+) queries", cpu;dur=(?P<cpu>[\d.]+)'
)


def _timing(response) -> dict[str, float]:  # noqa: ANN001
    match = TIMING.match(response["Server-Timing"])
    assert match, response["Server-Timing"]
    return {key: float(value) for key, value in match.groupdict().items()}


def _middleware(view) -> ServerTimingMiddleware:  # noqa: ANN001
    with override_settings(TRIAGE_SERVER_TIMING=True):
        return ServerTimingMiddleware(view)


def test_off_by_default_no_header(client):
    client.force_login(UserFactory())
    response = client.get(reverse("triage:review-queue"))
    assert response.status_code == 200
    assert "Server-Timing" not in response


def test_on_the_queue_page_carries_app_db_and_cpu_time():
    with override_settings(TRIAGE_SERVER_TIMING=True):
        client = Client()  # built inside the override: the middleware reads the setting once
        client.force_login(UserFactory())
        response = client.get(reverse("triage:review-queue"))
    assert response.status_code == 200
    timing = _timing(response)
    assert timing["queries"] >= 1  # the session, the user, the queue itself
    assert 0 < timing["db"] <= timing["app"]
    assert timing["cpu"] > 0


def test_counts_every_query_and_only_sql_time_as_db():
    def view(request):  # noqa: ANN001
        with connection.cursor() as cursor:
            for _ in range(3):
                cursor.execute("SELECT 1")
        time.sleep(0.05)  # waiting outside SQL: app time, neither db nor cpu
        return HttpResponse("ok")

    timing = _timing(_middleware(view)(RequestFactory().get("/")))
    assert timing["queries"] == 3
    assert timing["app"] >= 50
    assert timing["db"] < timing["app"] - 40
    assert timing["cpu"] < 40


def test_cpu_time_is_this_threads_work():
    def view(request):  # noqa: ANN001
        started = time.thread_time()
        while time.thread_time() - started < 0.03:
            pass
        return HttpResponse("ok")

    timing = _timing(_middleware(view)(RequestFactory().get("/")))
    assert timing["cpu"] >= 30
    assert timing["app"] >= timing["cpu"] - 1  # rounding of two clocks
    assert timing["queries"] == 0 and timing["db"] == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_sleep: a wait inside the database")
def test_a_wait_inside_the_database_is_db_time():
    def view(request):  # noqa: ANN001
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(0.05)")
        return HttpResponse("ok")

    timing = _timing(_middleware(view)(RequestFactory().get("/")))
    assert timing["queries"] == 1
    assert timing["db"] >= 50
    assert timing["cpu"] < 40


def test_keeps_a_server_timing_the_view_set():
    def view(request):  # noqa: ANN001
        response = HttpResponse("ok")
        response["Server-Timing"] = "render;dur=1.0"
        return response

    header = _middleware(view)(RequestFactory().get("/"))["Server-Timing"]
    assert header.startswith("app;dur=") and header.endswith(", render;dur=1.0")
