"""Canonical JSON and content hashes: the basis of run ids, cache keys and dataset hashes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson


def canonical_json(value: Any) -> bytes:
    """Serialise with sorted keys so equal values always give equal bytes."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)


def content_hash(value: Any, length: int = 16) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()[:length]


class StreamingHash:
    """Hash a sequence of JSON-able items without holding them all in memory."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def update(self, value: Any) -> None:
        self._h.update(canonical_json(value))
        self._h.update(b"\n")

    def hexdigest(self, length: int = 16) -> str:
        return self._h.hexdigest()[:length]


def file_hash(path: Path, length: int = 16) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()[:length]


_FINGERPRINTS: dict[tuple[str, int, int, int, int, int], str] = {}


def file_fingerprint(path: Path) -> str:
    """`file_hash` of a file as it is on disk now, computed once per process.

    Remembered under the file's stat (device, inode, size, modification and change times):
    any rewrite or replacement changes the change time at least, so a new file at the same path
    is hashed again, while a model run against many benchmarks reads its weights once.
    """
    st = path.stat()
    key = (str(path.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    found = _FINGERPRINTS.get(key)
    if found is None:
        found = _FINGERPRINTS[key] = file_hash(path)
    return found
