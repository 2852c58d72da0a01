from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from triage.fields import TAXONOMY_FIELDS
from triage.models import ReportExport
from triage.services.storage import content_store

pytestmark = pytest.mark.django_db


def test_taxonomy_lists_each_field(api_client):
    body = json.loads(api_client().api("get", "/api/v1/taxonomy").content)
    assert set(body) == set(TAXONOMY_FIELDS)
    assert all(body[name] for name in body)


def test_export_start_poll_download(api_client, django_capture_on_commit_callbacks):
    manager = api_client("manager")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        started = manager.api("post", "/api/v1/exports", {"format": "csv", "date_from": "2026-01-01"})
    assert started.status_code == 202 and callbacks, "the export job is queued"
    export_id = json.loads(started.content)["id"]
    poll = json.loads(manager.api("get", f"/api/v1/exports/{export_id}").content)
    assert poll["status"] == "QUEUED" and poll["download_url"] is None
    assert manager.api("get", f"/api/v1/exports/{export_id}/download").status_code == 409
    # the worker's outcome, as report_export_run leaves it
    content_store(key="exports/api.csv", content=ContentFile(b"id\n1\n"))
    ReportExport.objects.filter(id=export_id).update(
        status="DONE", file="exports/api.csv", expires_at=timezone.now() + timezone.timedelta(hours=1)
    )
    poll = json.loads(manager.api("get", f"/api/v1/exports/{export_id}").content)
    assert poll["download_url"].endswith("/download")
    download = manager.api("get", poll["download_url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"id\n1\n"


def test_someone_elses_export_is_a_404(api_client):
    manager, admin = api_client("manager"), api_client("admin")
    export_id = json.loads(manager.api("post", "/api/v1/exports", {"format": "csv"}).content)["id"]
    assert admin.api("get", f"/api/v1/exports/{export_id}").status_code == 404


def test_bad_export_filters_are_422(api_client):
    manager = api_client("manager")
    assert manager.api("post", "/api/v1/exports", {"format": "pdf"}).status_code == 422
    assert manager.api("post", "/api/v1/exports", {"date_from": "yesterday"}).status_code == 422
    assert manager.api("post", "/api/v1/exports", {"colour": "red"}).status_code == 422


def test_schema_is_openapi_31_and_docs_use_our_static_files(client, db):
    schema = client.get("/api/v1/schema")
    assert schema.status_code == 200
    document = json.loads(schema.content)
    assert document["openapi"].startswith("3.1")
    assert "/api/v1/tickets/{ticket_id}/review" in document["paths"]
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/triage/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "http://" not in html and "https://" not in html, "nothing from a CDN"
