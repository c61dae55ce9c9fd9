"""Backends that reuse the previous prompt's KV cache get prompts with shared prefixes adjacent."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from pathlib import Path

from assay import Generate, Sample, Task
from assay.benchmarks.base import DataContext, Loaded
from assay.benchmarks.registry import resolve_task
from assay.execution.executor import Executor
from assay.execution.runner import Runner
from assay.models.base import Model, ModelSpec
from assay.requests import Request, Response
from assay.store.db import Store


class Recorder(Model):
    """Answers "A" and remembers the order in which prompts arrived."""

    def __init__(self, prefix_cache: bool) -> None:
        super().__init__(ModelSpec("test", f"recorder-{prefix_cache}"))
        self.capabilities = replace(self.capabilities, concurrency=1, prefix_cache=prefix_cache)
        self.seen: list[str] = []

    async def generate(self, request: Request) -> Response:
        messages = request.messages or []
        self.seen.append("\n".join(str(m["content"]) for m in messages))
        return Response(text="A")


def interleaved_topics() -> Task:
    """Samples whose long shared preambles alternate in file order: a, b, c, a, b, c, ..."""
    topics = ["algebra", "biology", "chemistry"]
    samples = [
        Sample(
            id=str(i),
            input=f"About {topics[i % 3]}: " + "background " * 50 + f"\nQuestion {i}?",
            references=["A"],
        )
        for i in range(60)
    ]
    return Task(
        load=lambda data: Loaded(samples),
        prompt=Generate(extract="first_line"),
        metrics=["exact_match"],
        name="interleaved",
    )


async def run_with(
    model: Recorder, data_dir: Path, db: Path, task: Task | None = None
) -> dict[str, object]:
    store = Store(f"sqlite:///{db}")
    task = task or resolve_task("mmlu")
    runner = Runner(
        store,
        task,
        model,
        Executor(model, concurrency=1),
        data=DataContext(data_dir),
        limit=60,
        suite="prefix order",
    )
    result = await runner.run()
    store.close()
    return result.summary


def shared_prefix_switches(prompts: list[str]) -> int:
    """How often the instructions (MMLU's per-subject first line) change between neighbours."""
    firsts = [p.split("\n", 1)[0] for p in prompts]
    return sum(1 for a, b in pairwise(firsts) if a != b)


async def test_prefix_cache_backends_get_prompts_grouped_by_shared_prefix(
    data_dir: Path, tmp_path: Path
) -> None:
    plain, caching = Recorder(False), Recorder(True)
    plain_summary = await run_with(plain, data_dir, tmp_path / "plain.db")
    caching_summary = await run_with(caching, data_dir, tmp_path / "caching.db")
    assert sorted(plain.seen) == sorted(caching.seen) and len(caching.seen) == 60
    assert caching.seen == sorted(caching.seen)
    subjects = len({p.split("\n", 1)[0] for p in caching.seen})
    # each subject's prompts come in one block
    assert shared_prefix_switches(caching.seen) == subjects - 1
    # the order changes nothing that is scored
    assert caching_summary["metrics"] == plain_summary["metrics"]


async def test_interleaved_prefixes_are_regrouped(data_dir: Path, tmp_path: Path) -> None:
    plain, caching = Recorder(False), Recorder(True)
    await run_with(plain, data_dir, tmp_path / "plain.db", interleaved_topics())
    summary = await run_with(caching, data_dir, tmp_path / "caching.db", interleaved_topics())
    topic = [p.split(":", 1)[0] for p in caching.seen]
    assert shared_prefix_switches(topic) == 2  # three blocks of twenty
    assert shared_prefix_switches([p.split(":", 1)[0] for p in plain.seen]) == 59
    assert summary["n_samples"] == 60
