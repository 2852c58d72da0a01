"""Content-addressed storage of originals and derivatives.

Keys come from the content hash, never from a user's file name, so the same bytes are stored once
and a hostile name ("../../x.php") can never reach the file system.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage

_CHUNK = 1024 * 1024


def content_key(*, prefix: str, sha256: str, extension: str) -> str:
    return f"{prefix}/{sha256[:2]}/{sha256[2:4]}/{sha256}.{extension}"


def sha256_of_file(fileobj: IO[bytes]) -> str:
    digest = hashlib.sha256()
    fileobj.seek(0)
    for chunk in iter(lambda: fileobj.read(_CHUNK), b""):
        digest.update(chunk)
    fileobj.seek(0)
    return digest.hexdigest()


def content_store(*, key: str, content: File | ContentFile) -> str:
    """Store `content` under `key` unless it is already there. Returns the key.

    Two workers storing the same bytes at once both end up pointing at one object: the storage
    renames the loser's copy, which we delete.
    """
    if default_storage.exists(key):
        return key
    saved = default_storage.save(key, content)
    if saved != key:
        default_storage.delete(saved)
    return key


def bytes_store(*, prefix: str, data: bytes, extension: str) -> tuple[str, str]:
    sha = hashlib.sha256(data).hexdigest()
    key = content_key(prefix=prefix, sha256=sha, extension=extension)
    return content_store(key=key, content=ContentFile(data)), sha


@contextlib.contextmanager
def local_path(key: str) -> Iterator[Path]:
    """A local file path for a stored object (ffmpeg and Pillow want paths).

    File-system storage gives its own path; a remote storage is copied to a temporary file.
    """
    try:
        yield Path(default_storage.path(key))
        return
    except NotImplementedError:
        pass
    suffix = Path(key).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp, default_storage.open(key, "rb") as src:
        shutil.copyfileobj(src, tmp, _CHUNK)
        tmp.flush()
        yield Path(tmp.name)
