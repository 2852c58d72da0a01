"""Media on S3-compatible storage (TRIAGE_STORAGE=s3), against moto's S3 server on a local port.

The server is a real HTTP endpoint (moto's ThreadedMotoServer): boto3 and django-storages sign
and send real requests to it, as they would to AWS or MinIO. The end-to-end test runs the web side
(live server) and a real worker process with different MEDIA_ROOTs, so whatever the worker reads
or writes can only have come through the bucket.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from django.core.files.base import ContentFile
from moto.server import ThreadedMotoServer

from triage.services.storage import bytes_store, content_store, local_path

ACCESS_KEY, SECRET_KEY, REGION = "triage-test", "triage-test-secret", "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def keys(self, bucket: str) -> set[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return {obj["Key"] for page in pages for obj in page.get("Contents", [])}

    def env(self, bucket: str) -> dict[str, str]:
        """What a web or worker process on another machine is given (docs/operations.md "Scaling")."""
        return {
            "TRIAGE_STORAGE": "s3",
            "TRIAGE_S3_BUCKET": bucket,
            "TRIAGE_S3_ENDPOINT_URL": self.endpoint,
            "TRIAGE_S3_REGION": REGION,
            "TRIAGE_S3_ADDRESSING_STYLE": "path",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield S3Server(endpoint=f"http://{host}:{port}")
    server.stop()


@pytest.fixture
def s3_media(settings, s3_server: S3Server, tmp_path: Path) -> Iterator[tuple[S3Server, str]]:
    """This process's default storage switched to a fresh bucket (with no local MEDIA_ROOT to fall
    back on), as TRIAGE_STORAGE=s3 configures it."""
    bucket = f"triage-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=bucket)
    env = s3_server.env(bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": env["TRIAGE_S3_ENDPOINT_URL"],
                "region_name": REGION,
                "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY,
                "addressing_style": "path",
                "file_overwrite": True,
                "default_acl": None,
            },
        },
    }
    settings.MEDIA_ROOT = tmp_path / "web-media-unused"
    yield s3_server, bucket


def test_settings_switch_to_s3_from_the_environment(s3_server: S3Server):
    """triage.settings read in a fresh interpreter with TRIAGE_STORAGE=s3 (as a worker would)."""
    code = (
        "import json; from triage import settings as s; "
        "print(json.dumps([s.STORAGES['default']['BACKEND'], s.STORAGES['default']['OPTIONS']]))"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_SETTINGS")},
        **s3_server.env("the-bucket"),
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    backend, options = json.loads(out.stdout)
    assert backend == "storages.backends.s3.S3Storage"
    assert options["bucket_name"] == "the-bucket"
    assert options["endpoint_url"] == s3_server.endpoint
    assert options["addressing_style"] == "path" and options["default_acl"] is None

    env["TRIAGE_STORAGE"] = "nfs"
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "TRIAGE_STORAGE must be" in bad.stderr


def test_objects_are_stored_in_the_bucket_under_their_content_key(s3_media):
    server, bucket = s3_media
    key, sha = bytes_store(prefix="renditions", data=b"frame bytes", extension="jpg")
    assert key == f"renditions/{sha[:2]}/{sha[2:4]}/{sha}.jpg"
    assert key in server.keys(bucket)
    assert server.client().get_object(Bucket=bucket, Key=key)["Body"].read() == b"frame bytes"
    # the same bytes again: the same key, still one object
    assert bytes_store(prefix="renditions", data=b"frame bytes", extension="jpg") == (key, sha)
    assert content_store(key=key, content=ContentFile(b"frame bytes")) == key
    assert server.keys(bucket) == {key}


def test_local_path_copies_an_object_to_a_temporary_file_and_removes_it(s3_media):
    server, bucket = s3_media
    server.client().put_object(Bucket=bucket, Key="originals/ab/cd/abcd.png", Body=b"\x89PNG data")
    with local_path("originals/ab/cd/abcd.png") as path:
        assert path.suffix == ".png"
        assert path.read_bytes() == b"\x89PNG data"
    assert not path.exists()


def test_a_missing_object_is_a_file_not_found(s3_media):
    with pytest.raises(FileNotFoundError), local_path("originals/00/00/missing.png"):
        pass


def test_raw_emails_and_their_attachments_go_to_the_bucket(
    s3_media, taxonomy, django_capture_on_commit_callbacks
):
    """The webhook's store and the intake job's parse, both through S3 (the intake worker reads
    the raw message back from the bucket, not from a local file)."""
    import io

    from tests.hostile.seeds import EMAIL_FIXTURES
    from triage.models import Attachment, InboundEmail
    from triage.services.inbound_email import inbound_email_process, inbound_email_receive

    server, bucket = s3_media
    raw = (EMAIL_FIXTURES / "attachments.eml").read_bytes()
    with django_capture_on_commit_callbacks(execute=False):
        result = inbound_email_receive(fileobj=io.BytesIO(raw), source="raw")
        inbound_email_process(inbound_email_id=result.inbound_email_id)
    email = InboundEmail.objects.get(id=result.inbound_email_id)
    assert email.status == InboundEmail.Status.TICKETED
    keys = server.keys(bucket)
    assert email.raw.name in keys and email.raw.name.startswith("inbound/")
    assert server.client().get_object(Bucket=bucket, Key=email.raw.name)["Body"].read() == raw
    originals = [a.file.name for a in Attachment.objects.filter(ticket=email.ticket)]
    assert originals and set(originals) <= keys


def test_exports_are_written_to_and_purged_from_the_bucket(s3_media, db, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from triage.models import ReportExport
    from triage.selectors.reports import ReportFilters
    from triage.services.reports import report_export_create, report_export_purge, report_export_run

    server, bucket = s3_media
    user = get_user_model().objects.create_user("s3-manager", password="x-pass-123")
    with django_capture_on_commit_callbacks(execute=False):
        export = report_export_create(user=user, filters=ReportFilters(), fmt="csv")
    report_export_run(export_id=export.id)
    export.refresh_from_db()
    assert export.status == ReportExport.Status.DONE
    assert export.file.name in server.keys(bucket)
    body = server.client().get_object(Bucket=bucket, Key=export.file.name)["Body"].read()
    assert b"subject" in body.splitlines()[0].lower()  # the CSV's header row
    assert report_export_purge(now=timezone.now() + timedelta(days=30)) == 1
    assert export.file.name not in server.keys(bucket)
