"""A run's identity: the hash of everything its numbers depend on, and nothing else.

The run id hashes the run spec: the assay release (its prompt formats, answer readers and
metrics are code too); the benchmark's name, version and parameters; for a file-defined
benchmark the content hash of its definition (YAML fields, Python source); the content hash of
every sample the benchmark loaded (so an edited, added or removed row, another file or another
split is another run); the prompt format, chat or plain text, metrics, sampling overrides,
`limit` and `seed`; the model's identity (its label, and for local weights a hash of the file's
bytes); and the judges, once judge metrics exist. No path and no display name alone can make
two different runs share an id, so a run whose inputs changed is never resumed: it is a new
run, and the old one stays as it was.

Hashing a benchmark's samples means loading them once before the run starts. `Fingerprints`
keeps each hash for one invocation, so a benchmark run against many models is read and hashed
once, not once per model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assay import __version__
from assay.benchmarks.base import DataContext, Task
from assay.benchmarks.selection import Selection
from assay.models.base import Model


@dataclass(frozen=True)
class DataIdentity:
    """The content hash of a benchmark's loaded samples (all of them, before any `limit`)."""

    content_hash: str
    n_samples: int


def data_identity(task: Task, data: DataContext) -> DataIdentity:
    """Load the task's samples and hash them exactly as the run's own pass does."""
    selection = Selection(task.load(data).samples, None, 0, where=task.name)
    for _ in selection:
        pass
    assert selection.content_hash is not None
    return DataIdentity(selection.content_hash, selection.total)


class Fingerprints:
    """Hashes computed once per invocation (one `assay run`) and reused by its runs.

    Keyed by the task object itself: a new invocation builds new tasks, so an edited file is
    always hashed again. Model weights are fingerprinted by the provider (see
    `assay.hashing.file_fingerprint`), memoised by the file's stat.
    """

    def __init__(self) -> None:
        self._data: dict[tuple[int, str], tuple[Task, DataIdentity]] = {}

    def data(self, task: Task, data: DataContext) -> DataIdentity:
        key = (id(task), str(data.data_dir))
        found = self._data.get(key)
        if found is not None and found[0] is task:
            return found[1]
        identity = data_identity(task, data)
        self._data[key] = (task, identity)
        return identity


def run_spec(
    task: Task,
    model: Model,
    *,
    limit: int | None,
    seed: int,
    chat: bool,
    data: DataIdentity | None = None,
    judges: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Everything that determines a run's results; its hash is the run id.

    `judges`: for judge metrics, each judge's model identity and prompt (hash); empty today.
    """
    return {
        "assay_version": __version__,
        "benchmark": task.name,
        "benchmark_version": task.version,
        "definition": task.definition,
        "data": None if data is None else data.content_hash,
        "params": task.params,
        "model": model.identity(),
        "prompt": task.prompt.config(),
        "chat": chat,
        "metrics": task.metrics,
        "limit": limit,
        "seed": seed,
        "judges": [dict(j) for j in judges],
    }
