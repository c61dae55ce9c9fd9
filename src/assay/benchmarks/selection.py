"""Deterministic subsampling and the dataset content hash, in one streaming pass.

`--limit k` keeps the k samples whose seeded hash of their id is smallest ("bottom-k"): the
choice does not depend on file order, memory is O(k), and the samples picked for k are a subset
of those picked for any larger k with the same seed.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from assay.errors import UserError
from assay.hashing import StreamingHash
from assay.samples import Sample


@dataclass
class Selection:
    """Iterates the chosen samples as (position, sample); `content_hash` is set once exhausted."""

    source: Iterable[Sample]
    limit: int | None
    seed: int
    where: str
    content_hash: str | None = None
    total: int = 0

    def __iter__(self) -> Iterator[tuple[int, Sample]]:
        hasher = StreamingHash()
        seen: set[str] = set()

        def scan() -> Iterator[tuple[int, Sample]]:
            for position, sample in enumerate(self.source):
                if sample.id in seen:
                    raise UserError(
                        f"{self.where}: sample id {sample.id!r} appears twice; ids must be unique"
                    )
                seen.add(sample.id)
                hasher.update(sample.to_record())
                yield position, sample
            self.total = len(seen)
            self.content_hash = hasher.hexdigest()

        if self.limit is None:
            yield from scan()
            return
        seed = str(self.seed).encode()
        heap: list[tuple[int, int, Sample]] = []
        for position, sample in scan():
            rank = -_rank(seed, sample.id)
            if len(heap) < self.limit:
                heapq.heappush(heap, (rank, position, sample))
            elif rank > heap[0][0]:
                heapq.heapreplace(heap, (rank, position, sample))
        for _, position, sample in sorted(heap, key=lambda item: item[1]):
            yield position, sample


def _rank(seed: bytes, sample_id: str) -> int:
    digest = hashlib.blake2b(seed + b"\0" + sample_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")
