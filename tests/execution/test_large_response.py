"""A 10 MB response is stored once: not in the payload, the raw body, the cache and the text."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from assay.benchmarks.base import DataContext
from assay.benchmarks.registry import resolve_task
from assay.execution.executor import Executor
from assay.execution.runner import Runner
from assay.models.base import Model, ModelSpec
from assay.requests import Request, Response
from assay.store import schema
from assay.store.browse import sample_detail
from assay.store.db import Store
from assay.store.payloads import LARGE, compact, expand

SIZE = 10_000_000


def huge_text(seed: str) -> str:
    return f"A\n{seed}" + "lorem ipsum " * (SIZE // 12)


class Verbose(Model):
    """Answers "A" followed by 10 MB, in an OpenAI-shaped raw body holding the text again."""

    def __init__(self) -> None:
        super().__init__(ModelSpec("test", "verbose"))
        self.calls = 0

    async def generate(self, request: Request) -> Response:
        self.calls += 1
        text = huge_text(str(request.messages or request.prompt)[-40:])
        raw = {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": SIZE // 4},
        }
        return Response(text=text, input_tokens=10, output_tokens=SIZE // 4, raw=raw)


def run(db: Path, data_dir: Path, model: Verbose, limit: int) -> str:
    store = Store(f"sqlite:///{db}")
    runner = Runner(
        store,
        resolve_task("mmlu"),
        model,
        Executor(model),
        data=DataContext(data_dir),
        limit=limit,
    )
    result = asyncio.run(runner.run())
    store.close()
    return result.run_id


def stored_bytes(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
    return db.stat().st_size


def test_a_large_response_is_stored_once_and_read_back_whole(
    tmp_path: Path, data_dir: Path
) -> None:
    db = tmp_path / "big.db"
    model = Verbose()
    run_id = run(db, data_dir, model, limit=1)
    size = stored_bytes(db)
    assert size < 2 * SIZE, f"{size:,} bytes stored for a {SIZE:,}-character response"

    store = Store(f"sqlite:///{db}", readonly=True)
    with store.connect() as conn:
        sample_id, prediction = conn.execute(
            sa.select(schema.samples.c.sample_id, schema.samples.c.prediction)
        ).one()
    detail = sample_detail(store, run_id, sample_id)
    store.close()
    assert prediction == "A"
    assert detail is not None
    (request,) = detail["requests"]
    text = request["text"]
    assert len(text) > SIZE - 100 and request["response"]["text"] == text
    assert request["response"]["raw"]["choices"][0]["message"]["content"] == text

    # a second run that asks the same question replays it from the store, whole
    again = Verbose()
    run(db, data_dir, again, limit=2)
    assert again.calls == 1  # only the new sample's question was asked
    store = Store(f"sqlite:///{db}", readonly=True)
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(schema.requests.c.cached, schema.requests.c.text).where(
                schema.requests.c.sample_id == sample_id
            )
        ).all()
    store.close()
    assert sorted(cached for cached, _ in rows) == [False, True]
    assert {stored for _, stored in rows} == {text}


@pytest.mark.parametrize(
    "payload",
    [
        {"text": "short", "raw": {"content": "short"}},
        {"text": "x" * LARGE, "completions": None, "raw": {"a": ["x" * LARGE, 1, None]}},
        {
            "text": "x" * LARGE,
            "completions": ["x" * LARGE, "y" * LARGE, "z"],
            "raw": {"choices": [{"t": "x" * LARGE}, {"t": "y" * LARGE}, {"t": "z"}]},
            "loglikelihood": None,
        },
    ],
)
def test_compact_then_expand_gives_the_payload_back(payload: dict[str, object]) -> None:
    stored = compact(payload)
    assert expand(stored, str(payload["text"])) == payload
    if len(str(payload["text"])) >= LARGE:
        assert "x" * LARGE not in str(stored) and "text" not in stored
        assert str(stored).count("y" * LARGE) <= 1
