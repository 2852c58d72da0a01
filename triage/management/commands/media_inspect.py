"""Run the media pipeline on local files and print what the worker would store and send.

    python manage.py media_inspect shot.png rec.webm ...

One JSON object per file, one per line; a file we refuse (missing, a directory, empty, not media)
is a line with "accepted": false and the reason. Nothing is written to storage or the database.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from triage.adapters.media import MediaRejected
from triage.adapters.media import pipeline as media_pipeline
from triage.services import media as media_service


class Command(BaseCommand):
    help = "Print, as JSON lines, what the media pipeline makes of local files."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")

    def handle(self, *args: Any, **options: Any) -> None:
        for raw in options["paths"]:
            self.stdout.write(json.dumps(inspect_one(Path(raw))))


def inspect_one(path: Path) -> dict[str, Any]:
    line: dict[str, Any] = {
        "path": str(path),
        "accepted": False,
        "reason": "",
        "kind": None,
        "mime": None,
        "renditions": [],
        "representation": None,
        "why": "",
        "token_estimate": 0,  # a local estimate (tokens.py), not Kimi's count
        "token_options": {},  # the estimate of each representation considered
    }
    try:
        if not path.exists():
            line["reason"] = "no such file"
            return line
        if not path.is_file():
            line["reason"] = "not a regular file (a directory?)"
            return line
        with path.open("rb") as fh:
            size = path.stat().st_size
            # the upload path's own checks: content sniff and the size limits from settings
            checked = media_service.upload_check(fileobj=fh, name=path.name, size_bytes=size)
        line.update(kind=checked.sniff.kind, mime=checked.sniff.mime)
        result = media_pipeline.process_media(path, sniff=checked.sniff, config=media_service.media_config())
    except MediaRejected as exc:
        line["reason"] = exc.reason
        return line
    except Exception as exc:  # never crash on one file: the others still get their line
        line["reason"] = f"internal error ({type(exc).__name__})"
        return line
    line.update(
        accepted=result.accepted,
        reason=result.reason,
        renditions=[
            {
                "kind": out.kind,
                "width": out.width,
                "height": out.height,
                "timestamp_ms": out.timestamp_ms,
                "bytes": out.size_bytes,
            }
            for out in result.renditions
        ],
        representation=result.representation,
        why=result.why,
        token_estimate=result.token_estimate,
        token_options=result.token_options,
    )
    return line
