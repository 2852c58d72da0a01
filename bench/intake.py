"""What the browser intake costs the web process, side by side with the plain form.

    python bench/intake.py [--files 5] [--mb 2] [--attachments 20] [--repeat 5]

In one process, through Django's test client (no network: the figures are the server's own work):
- the plain form: one multipart POST carrying every file;
- the intake: one POST /tickets/uploads/ per file (each checked by its bytes, hashed, stored), then
  the form with the tokens;
- the ticket page's live fragment (polled every TRIAGE_POLL_INTERVAL_S while a ticket is in
  progress) with N attachments, with the stage of each: time and query count.

Runs on a throwaway SQLite database and media folder; queued jobs go to a filesystem broker that
nobody consumes. Prints one JSON object per line: {"metric", "value", "unit", ...}.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def emit(metric: str, value: float, unit: str, **extra: object) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 3), "unit": unit, **extra}), flush=True)


def setup(scratch: Path) -> None:
    for folder in ("queue", "processed", "control"):
        (scratch / "broker" / folder).mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "triage.settings",
            "TRIAGE_VAR_DIR": str(scratch),
            "DATABASE_URL": f"sqlite:///{scratch}/bench.sqlite3",
            "CELERY_BROKER_URL": "filesystem://",
            "LOG_LEVEL": "WARNING",
            "TRIAGE_MAX_FILES_PER_TICKET": "100",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def noise_png(size_bytes: int, seed: int) -> bytes:
    """An incompressible PNG of about `size_bytes` (random pixels: the size a real upload has)."""
    import random

    from PIL import Image

    side = int((size_bytes / 3) ** 0.5)
    rng = random.Random(seed)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=5)
    parser.add_argument("--mb", type=float, default=2.0)
    parser.add_argument("--attachments", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="triage-bench-intake-") as tmp:
        setup(Path(tmp))
        from django.contrib.auth import get_user_model
        from django.core.files.uploadedfile import SimpleUploadedFile
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from triage.models import Attachment, Ticket

        agent = get_user_model().objects.create_user("bench")
        client = Client(SERVER_NAME="localhost")
        client.force_login(agent)

        plain_ms, staged_ms = [], []
        for run in range(args.repeat):
            # new bytes each run: the same bytes would be stored once and cost less the second time
            files = [noise_png(int(args.mb * 1024 * 1024), seed=run * 100 + i) for i in range(args.files)]
            start = time.perf_counter()
            response = client.post(
                "/tickets/new/",
                {
                    "subject": "plain",
                    "attachments": [
                        SimpleUploadedFile(f"{i}.png", f, "image/png") for i, f in enumerate(files)
                    ],
                },
            )
            plain_ms.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 302, response.content[:500]

            files = [
                noise_png(int(args.mb * 1024 * 1024), seed=run * 100 + 50 + i) for i in range(args.files)
            ]
            start = time.perf_counter()
            tokens = []
            for i, data in enumerate(files):
                reply = client.post(
                    "/tickets/uploads/", {"file": SimpleUploadedFile(f"{i}.png", data, "image/png")}
                )
                assert reply.status_code == 201, reply.content[:500]
                tokens.append(reply.json()["token"])
            response = client.post("/tickets/new/", {"subject": "staged", "staged": tokens})
            staged_ms.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 302, response.content[:500]

        size = f"{args.files} files of {args.mb:g} MB"
        emit("create_plain_form_ms", statistics.median(plain_ms), "ms", files=size, runs=args.repeat)
        emit(
            "create_intake_uploads_then_form_ms",
            statistics.median(staged_ms),
            "ms",
            files=size,
            runs=args.repeat,
        )
        emit("intake_over_plain", statistics.median(staged_ms) / statistics.median(plain_ms), "x", files=size)

        ticket = Ticket.objects.create(subject="many", status=Ticket.Status.PROCESSING)
        first = Attachment.objects.filter(ticket__subject="staged").first()
        assert first is not None
        for i in range(args.attachments):
            Attachment.objects.create(
                ticket=ticket,
                kind=Attachment.Kind.IMAGE if i % 2 else Attachment.Kind.VIDEO,
                status=[Attachment.Status.QUEUED, Attachment.Status.PROCESSING, Attachment.Status.DONE][
                    i % 3
                ],
                sha256=first.sha256,
                file=first.file.name,
                mime="image/png",
                size_bytes=first.size_bytes,
                original_name=f"{i}.png",
            )
        url = f"/tickets/{ticket.id}/?fragment=live"
        client.get(url, headers={"HX-Request": "true"})
        timings = []
        for _ in range(args.repeat * 4):
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                response = client.get(url, headers={"HX-Request": "true"})
                timings.append((time.perf_counter() - start) * 1000)
            assert response.content.count(b'class="stages"') == args.attachments
        emit(
            "live_fragment_ms",
            statistics.median(timings),
            "ms",
            attachments=args.attachments,
            queries=len(queries),
        )


if __name__ == "__main__":
    main()
