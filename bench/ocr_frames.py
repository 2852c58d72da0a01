"""OCR of the demo ticket's media: every frame read whole vs incrementally (ocr_frames.read_frames).

    python bench/ocr_frames.py [--frames N] [--concurrency C]

CPU seconds say more than wall-clock seconds on a shared machine: both are printed, with the load
average, and whether the incremental read kept every distinct line of reading every frame.
Prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import emit  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()

    from triage.adapters.media import video
    from triage.adapters.ocr import RapidOcrReader
    from triage.adapters.ocr_frames import read_frames
    from triage.demo_media import render_recording, render_screenshot

    shot = render_screenshot(
        title="Acme Shop - Checkout",
        lines=["Order #10235", "Total: 129.00 EUR"],
        error_dialog="Payment failed: HTTP 500 Internal Server Error",
    )
    path = Path(tempfile.mkdtemp(prefix="triage-ocr-")) / "demo.mp4"
    render_recording(path, seconds=6, error_text="Payment failed: HTTP 500 (ref 1)")
    probe = video.probe_video(path, timeout_s=60)
    frames = video.sample_frames(path, probe=probe, count=args.frames, max_side=1280, timeout_s=60)
    data = [frame.data for frame in frames]
    cores = len(os.sched_getaffinity(0))
    whole_reader = RapidOcrReader()
    reader = RapidOcrReader(threads=max(1, cores // args.concurrency))
    whole_reader.read(shot), reader.read(shot)  # the engines' load is not what is measured

    cpu, wall = time.process_time(), time.monotonic()
    whole_reader.read(shot)
    whole = [whole_reader.read(frame) for frame in data]
    whole_cpu, whole_wall = time.process_time() - cpu, time.monotonic() - wall

    cpu, wall = time.process_time(), time.monotonic()
    reader.read(shot)
    texts = read_frames(data, reader=reader, concurrency=args.concurrency)
    inc_cpu, inc_wall = time.process_time() - cpu, time.monotonic() - wall

    def first_seen(results: list) -> dict[str, int]:
        seen: dict[str, int] = {}
        for frame, result in zip(frames, results, strict=True):
            for line in result.lines:
                seen.setdefault("".join(line.text.split()), frame.timestamp_ms)
        return seen

    expected, got = first_seen(whole), first_seen([t.result for t in texts])
    load = Path("/proc/loadavg").read_text().split()[0]
    emit("ocr_every_frame_whole_cpu", whole_cpu, "s", wall_s=round(whole_wall, 2), load=load)
    emit("ocr_incremental_cpu", inc_cpu, "s", wall_s=round(inc_wall, 2), load=load)
    emit("ocr_incremental_cpu_share", inc_cpu / whole_cpu, "ratio")
    emit("ocr_frames_sampled", len(frames), "frames")
    for mode in ("full", "region", "reused"):
        emit(f"ocr_frames_{mode}", sum(t.mode == mode for t in texts), "frames")
    lost = sorted(line for line in expected if expected[line] != got.get(line))
    emit("ocr_lines_lost_or_late", len(lost), "lines", goal="== 0", lines=lost)
    emit("ocr_lines_extra", len(set(got) - set(expected)), "lines", lines=sorted(set(got) - set(expected)))


if __name__ == "__main__":
    main()
