"""A large prediction (the response's whole text, or that text stripped) is stored once, in the
request's text column, and every reader gives the same prediction as a store that held it
twice: the sample, samples list, compare and live pages, their downloads, the run-level metrics.
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

import assay.store.writes as writes_module
from assay.benchmarks.base import DataContext, Loaded, Task
from assay.errors import ProviderError
from assay.execution.executor import Executor
from assay.execution.retry import RetryPolicy
from assay.execution.runner import Runner
from assay.execution.summary import scored_rows
from assay.models.base import Model, ModelSpec
from assay.prompting.formats import Generate
from assay.requests import Request, Response
from assay.samples import Sample
from assay.store import browse, schema
from assay.store.db import Store
from assay.store.payloads import LARGE
from assay.web.app import create_app

N = 9
MB10 = 10_000_000


def body(i: int, variant: str) -> str:
    """A long answer with characters outside ASCII (offsets count characters, not bytes)."""
    return f"answer {i}{variant}: é日本 " + "lorem ipsum ü " * (LARGE // 10) + f"end {i}"


class Writer(Model):
    """Sample i answers: i % 3 == 0 a long text (the prediction is all of it), 1 the same
    wrapped in whitespace (the prediction is it stripped), 2 a short text; sample 4 fails."""

    def __init__(self, variant: str, size: int | None = None) -> None:
        super().__init__(ModelSpec("test", f"writer-{variant}"))
        self.variant = variant
        self.size = size

    async def generate(self, request: Request) -> Response:
        i = int(str(request.messages or request.prompt).split("item ")[1].split()[0])
        if self.size is not None:
            text = "\n  " + "lorem ipsum " * (self.size // 12) + "\n"
        elif i == 4:
            raise ProviderError("the provider failed", kind="server")
        else:
            text = body(i, self.variant if i % 2 else "")
            text = {0: text, 1: f"\n  {text}\n", 2: f"short {i}"}[i % 3]
        raw = {"choices": [{"message": {"content": text}}]}
        return Response(text=text, input_tokens=3, output_tokens=len(text) // 4, raw=raw)


seen_rows: list[list[Mapping[str, Any]]] = []


def record(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    seen_rows.append([dict(r) for r in rows])
    return {"rows": float(len(rows))}


def task(n: int = N) -> Task:
    samples = [Sample(id=f"s{i}", input=f"item {i} please", references=["x"]) for i in range(n)]
    return Task(
        load=lambda _data: Loaded(samples),
        prompt=Generate(),
        metrics=["exact_match"],
        name="echo",
        run_metrics=(record,),
    )


def run(db: Path | str, model: Writer, n: int = N) -> str:
    store = Store(db if isinstance(db, str) else f"sqlite:///{db}")
    executor = Executor(model, policy=RetryPolicy(max_attempts=1, base_delay=0.0))
    try:
        runner = Runner(store, task(n), model, executor, data=DataContext(), suite="lab")
        return asyncio.run(runner.run()).run_id
    finally:
        store.close()


def stored(db: Path) -> dict[str, int]:
    """Characters each place holds, and the file's bytes once checkpointed and vacuumed."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        found = {
            name: int(conn.execute(query).fetchone()[0] or 0)
            for name, query in {
                "text": "SELECT sum(length(text)) FROM requests",
                "response": "SELECT sum(length(response)) FROM requests",
                "prediction": "SELECT sum(length(prediction)) FROM samples",
                "cache": "SELECT sum(length(response)) FROM cache",
            }.items()
        }
    return {**found, "file": db.stat().st_size}


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The same two runs written twice: as assay writes them, and holding every prediction
    itself (as before predictions were shared)."""
    out: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as patch:
        for kind in ("twice", "once"):
            if kind == "twice":
                patch.setattr(writes_module, "share_predictions", lambda s, _r: list(s))
            else:
                patch.undo()
            db = tmp_path_factory.mktemp(kind) / "store.db"
            seen_rows.clear()
            ids = [run(db, Writer(v)) for v in ("a", "b")]
            out[kind] = {"db": db, "runs": ids, "metric_rows": list(seen_rows)}
    yield out


def test_large_predictions_are_stored_once(stores: dict[str, Any]) -> None:
    once, twice = stored(stores["once"]["db"]), stored(stores["twice"]["db"])
    assert once["text"] == twice["text"] > 8 * LARGE
    long_predictions = twice["prediction"] - once["prediction"]
    assert long_predictions > 8 * LARGE  # the long ones are no longer held twice
    assert once["prediction"] < 100  # only the short answers ("short 2", "short 5", ...)


def predictions(store: Store, run: dict[str, Any]) -> list[Any]:
    return [r["prediction"] for r in browse.list_rows(store, run, browse.SampleQuery())]


def test_every_reader_gives_the_same_predictions(stores: dict[str, Any]) -> None:
    got: dict[str, Any] = {}
    for kind in ("once", "twice"):
        store = Store(f"sqlite:///{stores[kind]['db']}", readonly=True)
        a, b = (browse.run_row(store, r) for r in stores[kind]["runs"])
        assert a is not None and b is not None
        detail = [browse.sample_detail(store, a["id"], f"s{i}") for i in range(N)]
        compared = browse.compare_page(store, [a, b], differ="answer")
        live = browse.progress(store, a["id"], latest=N)
        with store.connect() as conn:
            metric_rows = scored_rows(conn, a["id"])
        with TestClient(create_app(store)) as client:
            pages = {
                "sample": [
                    re.search(r'<b id="prediction">(.*?)</b>', client.get(u).text, re.S)
                    for u in (f"/runs/{a['id']}/samples/s{i}" for i in range(N))
                ],
                "json": orjson.loads(client.get(f"/runs/{a['id']}/samples.json").content),
                "csv": client.get(f"/runs/{a['id']}/samples.csv").text,
                "compare": client.get(
                    f"/compare/sample?run={a['id']}&run={b['id']}&id=s3"
                ).text.count(html.escape(body(3, "b"))[:200]),
            }
        got[kind] = {
            "details": [d and d["prediction"] for d in detail],
            "list": predictions(store, a),
            "sorted": [
                r["prediction"]
                for r in browse.sample_page(store, a, browse.SampleQuery(sort="score")).rows
            ],
            "compare": [
                (r["sample_id"], [c["prediction"] for c in r["cells"]]) for r in compared.rows
            ],
            "live": sorted((r["sample_id"], r["prediction"]) for r in (live or {})["recent"]),
            "metric rows": [r["prediction"] for r in metric_rows],
            "run metrics": [
                [r["prediction"] for r in rows] for rows in stores[kind]["metric_rows"]
            ],
            "sample page": [m and html.unescape(m.group(1)) for m in pages["sample"]],
            "json": [r["prediction"] for r in pages["json"]["samples"]],
            "csv": [r["prediction"] for r in csv.DictReader(io.StringIO(pages["csv"]))],
            "compare page": pages["compare"],
        }
        store.close()
    once, twice = got["once"], got["twice"]
    for reader in twice:
        assert once[reader] == twice[reader], reader
    # and they are the answers themselves: whole, stripped, short, none for the failure
    assert twice["details"][0] == body(0, "")
    assert twice["details"][1] == body(1, "a") and twice["sample page"][1] == body(1, "a")
    assert twice["details"][2] == "short 2" and twice["details"][4] is None
    assert [s for s, _ in twice["compare"]] == ["s1", "s3", "s7"]  # long, odd: "b" differs
    assert twice["compare page"] == 2  # the answer and the response it is read from


def test_a_10_mb_response_is_stored_once(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    run(db, Writer("big", size=MB10), n=1)
    sizes = stored(db)
    assert sizes["text"] > MB10 - 100
    assert sizes["prediction"] == sizes["cache"] == 0
    assert sizes["response"] < 1_000  # the payload refers to the text column
    assert sizes["file"] < 1.2 * MB10, f"{sizes['file']:,} bytes for a 10 MB response"
    store = Store(f"sqlite:///{db}", readonly=True)
    (run_id,) = store_runs(store)
    detail = browse.sample_detail(store, run_id, "s0")
    store.close()
    assert detail is not None
    text = detail["requests"][0]["text"]
    assert detail["prediction"] == text.strip() and len(text) > MB10 - 100


def store_runs(store: Store) -> list[str]:
    with store.connect() as conn:
        return list(
            conn.execute(schema.runs.select().with_only_columns(schema.runs.c.id)).scalars()
        )


@pytest.mark.slow
def test_predictions_read_back_the_same_on_postgresql(postgres_url: str) -> None:
    run_id = run(postgres_url, Writer("a"))
    store = Store(postgres_url, readonly=True)
    run_row = browse.run_row(store, run_id)
    assert run_row is not None
    listed = predictions(store, run_row)
    details = [browse.sample_detail(store, run_id, f"s{i}") for i in range(N)]
    s = schema.samples
    with store.connect() as conn:
        held = dict(conn.execute(sa.select(s.c.sample_id, s.c.prediction)).all())
    store.close()
    wanted = [body(i, "a" if i % 2 else "") if i % 3 != 2 else f"short {i}" for i in range(N)]
    wanted[4] = None  # the failed request
    assert listed == [d and d["prediction"] for d in details] == wanted
    assert [k for k, v in sorted(held.items()) if v is None] == ["s0", "s1", "s3", "s4", "s6", "s7"]
