"""A fuzzing run over the hostile-input targets of tests/hostile/targets.py: the MIME parser (and
the webhook's header peek), upload sniffing, the media pipeline on whole files, model-reply parsing
and tool calls.

    python bench/fuzz.py [--seconds 240] [--seed 1] [--out var/fuzz]

A mutation loop per target, for its share of --seconds: take an input from the corpus (real seeds:
the recorded .eml fixtures, small real PNG/JPEG/GIF/WebP/MP4/WebM files, a valid model reply),
apply 1-8 byte-level mutations (bit flips, extreme integers, inserts, deletes, duplicated and
spliced chunks, truncation), run the target. Without coverage instrumentation the feedback is the
outcome: an input that gives a result or a rejection reason not seen before joins the corpus, so
the loop walks into new branches of the parsers (a new charset path, a new ffmpeg complaint).

A crash is anything but the adapter's contract (tests/hostile/targets.py: a value or its own clear
error; for media, a "bug" result counts too). Crashing inputs and the slowest inputs of each target
are written under --out (the slowest are the "worst inputs" tests/hostile/test_requests_hostile.py
posts to the real endpoints). Prints one JSON object per line; the goal of every crash count is 0.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import random
import resource
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.hostile import targets  # noqa: E402
from tests.hostile.seeds import email_seeds, image_seeds, video_seeds  # noqa: E402
from tests.hostile.strategies import VALID_REPLY  # noqa: E402

INTERESTING = (
    b"\x00",
    b"\xff",
    b"\x7f",
    b"\x80",
    b"\xff\xff\xff\xff",
    b"\x00\x00\x00\x00",
    b"\x7f\xff\xff\xff",
)
TOKENS = {
    "email": [
        b"\r\n\r\n", b"\n--", b"boundary=", b"Content-Type: multipart/mixed; boundary=x\r\n",
        b"Content-Transfer-Encoding: base64\r\n", b"=?utf-8?B?", b"?=", b"charset=\"idna\"", b"charset=utf-7",
        b"message/rfc822", b"Content-ID: <../x>\r\n", b"filename*=utf-8''%2e%2e%2f", b"begin 644 x\n",
    ],
    "reply": [
        b"{", b"}", b"[", b"]", b'"', b"NaN", b"1e999", b"-0", b"\\u0000", b"\\ud800", b"```json\n", b'"value":',
        b'"confidence":', b"null", b"true", b'"summary":',
    ],
}  # fmt: skip


@dataclass(order=True)
class Slow:
    seconds: float
    digest: str = field(compare=False)
    data: bytes = field(compare=False, repr=False)


@dataclass
class Stats:
    inputs: int = 0
    crashes: int = 0
    crash_kinds: dict[str, int] = field(default_factory=dict)
    outcomes: set[str] = field(default_factory=set)
    slowest: list[Slow] = field(default_factory=list)
    seconds: float = 0.0


def mutate(rng: random.Random, data: bytes, corpus: list[bytes], tokens: list[bytes]) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(10)
        # most structure (headers, boxes, chunk sizes) is near the start: bias positions there
        limit = len(out) if rng.random() < 0.5 else min(len(out), 512)
        at = rng.randrange(limit) if limit else 0
        if op == 0 and out:
            out[at] ^= 1 << rng.randrange(8)
        elif op == 1 and out:
            chunk = rng.choice(INTERESTING)
            out[at : at + len(chunk)] = chunk
        elif op == 2:
            out[at:at] = rng.randbytes(rng.randint(1, 32))
        elif op == 3 and out:
            del out[at : at + rng.randint(1, 256)]
        elif op == 4 and out:
            end = min(len(out), at + rng.randint(1, 512))
            out[at:at] = out[at:end] * rng.randint(1, 8)
        elif op == 5 and corpus:
            other = rng.choice(corpus)
            cut = rng.randrange(len(other) + 1)
            out = out[:at] + bytearray(other[cut:])
        elif op == 6 and out:
            del out[at:]
        elif op == 7 and tokens:
            out[at:at] = rng.choice(tokens)
        elif op == 8 and len(out) > 8:
            out[at : at + 1] = bytes([out[at] + rng.choice((-1, 1)) & 0xFF])
        elif op == 9 and tokens and rng.random() < 0.2:
            # a run of one token: deep nesting ("[[[[..."), thousands of boundaries or headers
            out[at:at] = rng.choice(tokens) * rng.choice((100, 1_000, 10_000, 100_000))
    return bytes(out[: 4 * 1024 * 1024])  # bounded: one input never grows past 4 MB


def _run_target(
    name: str,
    run: Callable[[bytes], targets.Outcome],
    seeds: list[bytes],
    *,
    seconds: float,
    rng: random.Random,
    out: Path,
    tokens: list[bytes],
) -> Stats:
    stats = Stats()
    corpus = list(seeds)
    started = time.monotonic()
    for seed in seeds:  # the seeds themselves must pass
        stats.outcomes.add(_outcome_key(run, seed, stats, name, out))
    while time.monotonic() - started < seconds:
        data = mutate(rng, rng.choice(corpus), corpus, tokens)
        t0 = time.monotonic()
        key = _outcome_key(run, data, stats, name, out)
        elapsed = time.monotonic() - t0
        slow = Slow(elapsed, hashlib.sha256(data).hexdigest()[:16], data)
        if len(stats.slowest) < 5:
            heapq.heappush(stats.slowest, slow)
        elif elapsed > stats.slowest[0].seconds:
            heapq.heapreplace(stats.slowest, slow)
        if key not in stats.outcomes:
            stats.outcomes.add(key)
            if len(corpus) < 2000:
                corpus.append(data)
    stats.seconds = time.monotonic() - started
    folder = out / name / "slowest"
    folder.mkdir(parents=True, exist_ok=True)
    for slow in stats.slowest:
        (folder / f"{slow.seconds * 1000:.0f}ms-{slow.digest}.bin").write_bytes(slow.data)
    return stats


def _outcome_key(
    run: Callable[[bytes], targets.Outcome], data: bytes, stats: Stats, name: str, out: Path
) -> str:
    stats.inputs += 1
    try:
        outcome = run(data)
    except Exception as exc:  # Crash, or anything a target let through
        stats.crashes += 1
        kind = f"{type(exc).__name__}: {str(exc)[:120]}"
        stats.crash_kinds[kind] = stats.crash_kinds.get(kind, 0) + 1
        folder = out / name / "crashes"
        folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(data).hexdigest()[:16]
        (folder / f"{digest}.bin").write_bytes(data)
        (folder / f"{digest}.txt").write_text(traceback.format_exc())
        return f"crash:{type(exc).__name__}"
    # digits and quoted names vary per input; the words of the reason say which branch ran
    detail = "".join(ch for ch in outcome.detail[:120] if not ch.isdigit()).split("'")[0].split('"')[0]
    return f"{outcome.ok}:{detail}"


def _text(run: Callable[[str], targets.Outcome]) -> Callable[[bytes], targets.Outcome]:
    return lambda data: run(data.decode("utf-8", errors="replace"))


def _tool(data: bytes) -> targets.Outcome:
    name, _, arguments = data.decode("utf-8", errors="replace").partition("\n")
    return targets.tool_call_target(name, arguments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=240.0, help="total time, shared by the targets")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "fuzz")
    parser.add_argument("--only", default="", help="comma list of targets (default: all)")
    args = parser.parse_args()
    # Pillow warns on every damaged EXIF block it skips: expected here, and millions of lines
    warnings.simplefilter("ignore")
    rng = random.Random(args.seed)
    media_tmp = args.out / "tmp"
    media_tmp.mkdir(parents=True, exist_ok=True)
    reply = json.dumps(VALID_REPLY).encode()
    # (name, target, seeds, share of the time, dictionary tokens)
    plan = [
        ("email", targets.email_target, list(email_seeds()), 0.3, TOKENS["email"]),
        (
            "upload_sniff",
            lambda d: targets.upload_target(d, process=False),
            [*image_seeds(), *video_seeds()],
            0.1,
            [],
        ),
        ("upload_image", lambda d: targets.upload_target(d, tmp_dir=media_tmp), list(image_seeds()), 0.2, []),
        (
            "upload_video",
            lambda d: targets.upload_target(d, tmp_dir=media_tmp),
            list(video_seeds()),
            0.15,
            [],
        ),
        (
            "reply",
            _text(targets.reply_target),
            [reply, b"```json\n" + reply + b"\n```"],
            0.15,
            TOKENS["reply"],
        ),
        (
            "tool_call",
            _tool,
            [b'find_similar_tickets\n{"query": "checkout", "limit": 3}', b"requester_recent_tickets\n{}"],
            0.1,
            TOKENS["reply"],
        ),
    ]
    if args.only:
        plan = [p for p in plan if p[0] in args.only.split(",")]
        total_share = sum(p[3] for p in plan)
        plan = [(n, r, s, share / total_share, t) for n, r, s, share, t in plan]
    total_crashes = 0
    for name, run, seeds, share, tokens in plan:
        stats = _run_target(
            name, run, seeds, seconds=args.seconds * share, rng=rng, out=args.out, tokens=tokens
        )
        total_crashes += stats.crashes
        rate = stats.inputs / stats.seconds if stats.seconds else 0.0
        print(
            json.dumps({"metric": f"fuzz_{name}_inputs_per_s", "value": round(rate, 1), "unit": "inputs/s"})
        )
        print(json.dumps({"metric": f"fuzz_{name}_inputs", "value": stats.inputs, "unit": "inputs"}))
        print(
            json.dumps(
                {
                    "metric": f"fuzz_{name}_crashes",
                    "value": stats.crashes,
                    "unit": "crashes",
                    "goal": "== 0",
                    "kinds": stats.crash_kinds,
                }
            )
        )
        print(
            json.dumps(
                {"metric": f"fuzz_{name}_distinct_outcomes", "value": len(stats.outcomes), "unit": "outcomes"}
            )
        )
        worst = max(stats.slowest).seconds * 1000 if stats.slowest else 0.0
        print(json.dumps({"metric": f"fuzz_{name}_slowest_input", "value": round(worst, 1), "unit": "ms"}))
        sys.stdout.flush()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {"metric": "fuzz_crashes_total", "value": total_crashes, "unit": "crashes", "goal": "== 0"}
        )
    )
    print(json.dumps({"metric": "fuzz_peak_rss", "value": round(peak_mb, 1), "unit": "MB"}))


if __name__ == "__main__":
    main()
