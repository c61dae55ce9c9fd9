"""What one very long response costs: store size and peak memory of a run that receives it.

A model answers one question with "A" and SIZE characters more, in an OpenAI-shaped raw
body that holds the text again (as real providers' bodies do): an MMLU question (the answer read
is the letter) and a generate question (the answer read is the whole text, stripped). Prints
the store's size after each run (WAL checkpointed, vacuumed) and the process's peak memory
growth over both, each as a multiple of the response's size.

    python bench/large_response.py [SIZE_MB]        # default 10; needs ../shared/data
"""

from __future__ import annotations

import asyncio
import os
import resource
import sqlite3
import sys
import tempfile
from pathlib import Path

from assay.benchmarks.base import DataContext, Loaded, Task
from assay.benchmarks.registry import resolve_task
from assay.execution.executor import Executor
from assay.execution.runner import Runner
from assay.models.base import Model, ModelSpec
from assay.prompting.formats import Generate
from assay.requests import Request, Response
from assay.samples import Sample
from assay.store.db import Store


class Verbose(Model):
    def __init__(self, size: int) -> None:
        super().__init__(ModelSpec("bench", "verbose"))
        self.size = size

    async def generate(self, request: Request) -> Response:
        text = "A\n" + "lorem ipsum " * (self.size // 12)
        raw = {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}
        return Response(text=text, input_tokens=10, output_tokens=self.size // 4, raw=raw)


def one_run(task: Task, size: int, data: DataContext) -> int:
    """Store size after a one-sample run of `task` answered with `size` characters."""
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "large.db"
        store = Store(f"sqlite:///{db}")
        model = Verbose(size)
        asyncio.run(Runner(store, task, model, Executor(model), data=data, limit=1).run())
        store.close()
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("VACUUM")
        return db.stat().st_size


def main() -> None:
    size = int(float(sys.argv[1]) * 1_000_000) if len(sys.argv) > 1 else 10_000_000
    data = Path(os.environ.get("ASSAY_DATA_DIR") or Path(__file__).parents[1] / "../shared/data")
    mb = 1_000_000
    print(f"response: {size / mb:.1f} MB")
    whole = Task(
        load=lambda _data: Loaded([Sample(id="s0", input="Say it all.", references=["x"])]),
        prompt=Generate(),
        metrics=["exact_match"],
        name="whole-answer",
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    for name, task in (
        ("MMLU (the answer is a letter)", resolve_task("mmlu")),
        ("generate (the answer is the whole text)", whole),
    ):
        stored = one_run(task, size, DataContext(data))
        print(f"{name}: store {stored / mb:.1f} MB ({stored / size:.2f}x the response)")
    grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    print(f"peak memory: {grew / mb:.0f} MB above start-up ({grew / size:.1f}x the response)")


if __name__ == "__main__":
    main()
