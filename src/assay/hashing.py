"""Canonical JSON and content hashes: the basis of run ids, cache keys and dataset hashes."""

from __future__ import annotations

import hashlib
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
