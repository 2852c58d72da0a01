"""The database briefly unavailable, between PostgreSQL and both the web process and the worker:
requests during the cut get a clear 503 page with Retry-After (not a 500), the worker's task
retries, and once the database is back the ticket completes and the pages work again.
"""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.resilience.conftest import production_user
from tests.test_pipeline_e2e import http_login
from tests.worker import wait_for
from triage.models import Ticket
from triage.services.tickets import ticket_create

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _through(proxy) -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db.get('USER') or 'postgres'}@127.0.0.1:{proxy.port}/{db['NAME']}"


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_a_database_cut_is_a_503_page_and_the_worker_retries_until_it_is_back(
    db_proxy, gunicorn, start_worker, taxonomy, broker
):
    production_user("db-agent", "db-pass-123")
    url = _through(db_proxy)
    base = gunicorn(
        DATABASE_URL=url, DATABASE_CONN_MAX_AGE="60", CELERY_BROKER_URL=settings.CELERY_BROKER_URL
    )
    worker = start_worker(queues="llm", DATABASE_URL=url)
    session = http_login(base, "db-agent", "db-pass-123")
    assert session.get(f"{base}/", timeout=10).status_code == 200  # a persistent connection is open

    db_proxy.cut()
    for path in ("/", "/tickets/new/"):
        page = session.get(f"{base}{path}", timeout=30)
        assert page.status_code == 503, page.text[:500]
        assert page.headers["Retry-After"] == "30"
        assert "Database unavailable, try again" in page.text
    assert session.get(f"{base}/accounts/login/", timeout=30).status_code in (200, 503)  # never a 500

    # work queued while the worker cannot reach the database (this process still can)
    ticket = ticket_create(subject="Cannot log in", description="The login page says error 500.",
                           requester_email="c@example.com")  # fmt: skip
    wait_for(lambda: "Retry in" in worker.log(), timeout=60, message="the task to be retried")
    assert Ticket.objects.get(id=ticket.id).status == Ticket.Status.TRIAGING

    db_proxy.restore()
    wait_for(
        lambda: Ticket.objects.get(id=ticket.id).status == Ticket.Status.NEEDS_REVIEW,
        timeout=120,
        message="the retried triage to complete",
    )
    assert Ticket.objects.get(id=ticket.id).runs.count() == 1
    assert session.get(f"{base}/", timeout=10).status_code == 200
