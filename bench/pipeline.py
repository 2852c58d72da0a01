"""Upload-to-triaged time for the demo ticket (a screenshot and a 6 s recording) with the offline
model, through a real Celery worker process on the embedded defaults (SQLite, filesystem broker).

    python bench/pipeline.py [--runs N] [--no-ocr]

OCR is on (the default): the screenshot is read whole, the recording's frames incrementally (only
what changed since the last read frame). Prints one JSON object per line, among them how many of
the sampled frames were read whole, read in bands, or reused.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import emit  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--no-ocr", action="store_true", help="without OCR, as before it was added")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="triage-bench-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "triage.settings",
        "TRIAGE_VAR_DIR": str(scratch),
        "DATABASE_URL": f"sqlite:///{scratch / 'bench.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "TRIAGE_PROVIDER": "local",
        "TRIAGE_OCR_ENABLED": "0" if args.no_ocr else "1",
    }
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)

    import django

    django.setup()
    from triage.demo_media import render_recording, render_screenshot
    from triage.models import Attachment, Rendition, RenditionText, Ticket
    from triage.services.tickets import Upload, ticket_create

    def demo_media(run: int) -> tuple[bytes, bytes]:
        """Different bytes every run: identical files would hit the derivative cache, not the pipeline."""
        shot = render_screenshot(
            title="Acme Shop - Checkout",
            lines=[f"Order #{10234 + run}", "Total: 129.00 EUR"],
            error_dialog="Payment failed: HTTP 500 Internal Server Error",
        )
        video_path = scratch / f"rec-{run}.mp4"
        render_recording(video_path, seconds=6, error_text=f"Payment failed: HTTP 500 (ref {run})")
        return shot, video_path.read_bytes()

    log = (scratch / "worker.log").open("wb")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "triage",
            "worker",
            "-Q",
            "media,llm",
            "-c",
            "2",
            "-l",
            "INFO",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while " ready." not in (scratch / "worker.log").read_text(errors="replace"):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit("worker did not start:\n" + (scratch / "worker.log").read_text())
            time.sleep(0.1)

        timings: list[float] = []
        for run in range(args.runs):
            shot, video = demo_media(run)
            started = time.monotonic()
            ticket = ticket_create(
                subject="Checkout fails with error 500 when paying by card",
                description="Every card payment fails at the last step with HTTP 500. Recording attached.",
                requester_email="bench@example.com",
                uploads=[
                    Upload(fileobj=io.BytesIO(shot), name="checkout.png", size_bytes=len(shot)),
                    Upload(fileobj=io.BytesIO(video), name="recording.mp4", size_bytes=len(video)),
                ],
            )
            while Ticket.objects.filter(id=ticket.id, status__in=["PROCESSING", "TRIAGING"]).exists():
                if time.monotonic() - started > 120:
                    raise SystemExit("ticket not triaged within 120 s")
                time.sleep(0.02)
            timings.append(time.monotonic() - started)
            ticket.refresh_from_db()
            assert ticket.status == Ticket.Status.NEEDS_REVIEW, ticket.status
            assert not ticket.attachments.exclude(status=Attachment.Status.DONE).exists()

        ocr = not args.no_ocr
        meta = {"provider": "local", "broker": "filesystem", "database": "sqlite", "ocr": ocr}
        # the first ticket also pays for the worker's first imports, the OCR engine's load and the
        # classifier's fit
        emit("upload_to_triaged_cold", timings[0] * 1000, "ms", **meta)
        warm = timings[1:] or timings
        emit(
            "upload_to_triaged_warm_median",
            statistics.median(warm) * 1000,
            "ms",
            goal="<= 2000",
            runs=len(warm),
            **meta,
        )
        emit("triage_latency_local_model", ticket.latest_run.latency_ms, "ms")
        if ocr:
            frames = RenditionText.objects.filter(rendition__kind=Rendition.Kind.FRAME)
            sampled = frames.count()
            modes = {mode: frames.filter(mode=mode).count() for mode in RenditionText.Mode.values}
            emit("ocr_frames_sampled", sampled, "frames", tickets=args.runs)
            read = modes["FULL"] + modes["REGION"]
            emit("ocr_frames_read", read, "frames", of_sampled=sampled)
            emit(
                "ocr_frames_read_whole",
                modes["FULL"],
                "frames",
                share=round(modes["FULL"] / max(1, sampled), 3),
            )
            emit("ocr_frames_read_in_bands", modes["REGION"], "frames")
            emit("ocr_frames_reused", modes["REUSED"], "frames")
            emit(
                "ocr_frame_read_ms_median",
                statistics.median(list(frames.values_list("elapsed_ms", flat=True)) or [0]),
                "ms",
                note="engine time per frame, bands only for a frame read in bands, 0 when reused",
            )
    finally:
        worker.terminate()
        worker.wait(timeout=20)


if __name__ == "__main__":
    main()
