"""Content-addressed storage of originals and derivatives.

Keys come from the content hash, never from a user's file name, so the same bytes are stored once
and a hostile name ("../../x.php") can never reach the file system.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
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


def durable_store(*, key: str, fileobj: IO[bytes], size: int) -> None:
    """Store the raw message under its content key so that it survives a power cut.

    On the local file system the bytes go to a temporary file that is fsynced and then renamed
    onto the key, and the folder is fsynced for the new entry (and its parents for any folder made
    here): a crash never leaves a short file under the key, and two concurrent deliveries of one
    message each rename a complete copy. (FileSystemStorage itself writes in place without fsync.)
    A file already stored is only fsynced, which costs nothing when it is on disk. Remote
    storages (S3 and the like) answer only once the object is durable.
    """
    try:
        path = Path(default_storage.path(key))
    except NotImplementedError:
        if default_storage.exists(key) and default_storage.size(key) != size:
            default_storage.delete(key)
        content_store(key=key, content=File(fileobj))
        return
    if path.exists() and path.stat().st_size == size:
        fsync_path(path)
        return
    new_dirs = [folder for folder in path.parents if not folder.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as out:
            fileobj.seek(0)
            shutil.copyfileobj(fileobj, out, 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        # FileSystemStorage's setting (a storage with a path is one); Storage itself has none
        mode = getattr(default_storage, "file_permissions_mode", None)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    for folder in (path.parent, *(d.parent for d in new_dirs)):
        fsync_path(folder)


def fsync_path(path: Path) -> None:
    """fsync a file or a folder (a folder: so a new entry in it survives a power cut)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
