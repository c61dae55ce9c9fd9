"""A run's identity: the hash of everything its numbers depend on, and nothing else.

The run id hashes the run spec: the assay release (its prompt formats, answer readers and
metrics are code too); the benchmark's name, version and parameters; for a file-defined
benchmark the content hash of its definition (YAML fields, Python source); the content hash of
every sample the benchmark loaded (so an edited, added or removed row, another file or another
split is another run); the prompt format, chat or plain text, metrics, sampling overrides,
`limit` and `seed`; the model's identity (its label, and for local weights a hash of the file's
bytes); and, for judged metrics, the judge (model identity, prompts, settings). No path and
no display name alone can make two different runs share an id, so a run whose inputs changed
is never resumed: it is a new run, and the old one stays as it was.

Hashing a benchmark's samples means loading them once before the run starts. `Fingerprints`
keeps each hash for one invocation, so a benchmark run against many models is hashed once, not
once per model. A benchmark that several runs of the invocation share is also kept in memory
(`keep=True`, the scheduler's choice) so it is read once in all; one used by a single run is
streamed again by that run, keeping memory flat however large it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assay import __version__
from assay.benchmarks.base import DataContext, Loaded, Task
from assay.benchmarks.selection import Selection
from assay.models.base import Model


@dataclass(frozen=True)
class DataIdentity:
    """The content hash of a benchmark's loaded samples (all of them, before any `limit`)."""

    content_hash: str
    n_samples: int


def data_identity(task: Task, data: DataContext, loaded: Loaded | None = None) -> DataIdentity:
    """Load the task's samples (unless given) and hash them exactly as the run's own pass does."""
    samples = (loaded or task.load(data)).samples
    selection = Selection(samples, None, 0, where=task.name)
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
        self._kept: dict[tuple[int, str], tuple[Task, Loaded]] = {}
        self.loads = 0  # how often a task's loader ran: what `keep` saves

    def data(self, task: Task, data: DataContext, *, keep: bool = False) -> DataIdentity:
        """The hash of the task's samples; `keep` holds the loaded samples for `loaded`."""
        key = (id(task), str(data.data_dir))
        found = self._data.get(key)
        if found is not None and found[0] is task:
            return found[1]
        loaded = self._load(task, data)
        if keep:
            loaded = Loaded(list(loaded.samples), loaded.fewshot)
            self._kept[key] = (task, loaded)
        identity = data_identity(task, data, loaded)
        self._data[key] = (task, identity)
        return identity

    def loaded(self, task: Task, data: DataContext) -> Loaded:
        """The samples kept by `data(..., keep=True)`, or a fresh read of them."""
        found = self._kept.get((id(task), str(data.data_dir)))
        if found is not None and found[0] is task:
            return found[1]
        return self._load(task, data)

    def release(self, task: Task, data: DataContext) -> None:
        """Drop the kept samples once the task's last run is done."""
        self._kept.pop((id(task), str(data.data_dir)), None)

    def _load(self, task: Task, data: DataContext) -> Loaded:
        self.loads += 1
        return task.load(data)


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

    `judges`: for judged metrics, the judge's model identity, prompts (hashed) and settings;
    empty for a benchmark without judged metrics (see `runner.judge_spec`).
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
