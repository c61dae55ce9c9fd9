"""A run is what it was run on: changed data, definition or weights make a new run whose numbers
are right, the old run stays as it was, and no name can make two benchmarks share a result."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.benchmarks.base import REGISTRY, DataContext, Loaded, Task, benchmark
from assay.errors import UserError
from assay.execution.executor import Executor
from assay.execution.identity import Fingerprints
from assay.execution.runner import Runner
from assay.hashing import file_fingerprint
from assay.models.base import Model, ModelSpec
from assay.prompting.formats import Generate
from assay.requests import Request, Response
from assay.samples import Sample
from assay.store import schema
from assay.store.db import Store
from assay.store.queries import latest_suite_runs


def runs(db: Path) -> list[dict[str, Any]]:
    store = Store(f"sqlite:///{db}", readonly=True)
    try:
        with store.connect() as conn:
            r = schema.runs
            query = sa.select(
                r.c.id, r.c.benchmark, r.c.summary, r.c.dataset_hash, r.c.spec, r.c.status
            ).order_by(r.c.created_at)
            return [dict(row) for row in conn.execute(query).mappings()]
    finally:
        store.close()


def mean(run: dict[str, Any], metric: str = "exact_match") -> tuple[float, int]:
    stats = run["summary"]["metrics"][metric]
    return stats["mean"], stats["n"]


def write_rows(path: Path, answers: list[str]) -> None:
    path.write_text(
        "\n".join(
            json.dumps({"id": f"q{i}", "q": f"Question {i}?", "a": a})
            for i, a in enumerate(answers)
        )
        + "\n"
    )


def write_yaml(path: Path, data: str, name: str = "capitals", prefix: str = "Q: ") -> None:
    path.write_text(
        f"name: {name}\n"
        f"data: {{path: {data}}}\n"
        "fields: {id: id, input: q, target: a}\n"
        f"prompt: {{format: generate, input_prefix: '{prefix}', max_tokens: 8}}\n"
        "metrics: [exact_match]\n"
    )


def board(cli: Any, db: Path, suite: str, *more: str) -> dict[str, Any]:
    result = cli("leaderboard", "--suite", suite, "--format", "json", "--db", db, *more)
    assert result.code == 0, result.err
    value: dict[str, Any] = json.loads(result.out)
    return value


def run_cli(cli: Any, db: Path, suite: str, *benchmarks: Any, model: str) -> Any:
    result = cli("run", *benchmarks, "-m", model, "--suite", suite, "--db", db, "--no-progress")
    assert result.code == 0, result.err
    return result


def test_an_edited_answer_and_an_extra_row_make_a_new_run_with_the_right_score(
    cli: Any, tmp_path: Path
) -> None:
    db, suite, model = tmp_path / "i.db", "nightly-7", "mock/constant?text=Paris"
    write_rows(tmp_path / "caps.jsonl", ["Paris", "Paris", "Rome"])
    write_yaml(tmp_path / "caps.yaml", "caps.jsonl")
    run_cli(cli, db, suite, tmp_path / "caps.yaml", model=model)
    (first,) = runs(db)
    assert mean(first) == pytest.approx((2 / 3, 3))

    write_rows(tmp_path / "caps.jsonl", ["Paris", "Paris", "Paris", "Paris"])  # edited + a row
    again = run_cli(cli, db, suite, tmp_path / "caps.yaml", model=model)
    assert "resumed" not in again.out
    old, new = runs(db)
    assert f"new run: inputs differ from run {old['id']} (kept)" in again.out
    # the response cache is keyed on the exact request: the three unchanged questions (the
    # edited one included: only its answer changed) are answered from it, the new row is asked
    assert "3 cached" in again.out
    assert new["id"] != old["id"]
    assert mean(new) == (1.0, 4)
    # the old run is exactly as it was: its score and the hash of the data it ran on
    assert old == first
    assert new["dataset_hash"] == new["spec"]["data"] != old["dataset_hash"]

    shown = board(cli, db, suite)
    (row,) = shown["rows"]
    cell = row["cells"]["capitals"]
    assert (cell["mean"], cell["n"], cell["run_id"]) == (1.0, 4, new["id"])
    assert cell["older_runs"] == [old["id"]]
    assert any(old["id"] in note for note in shown["notes"])
    table = cli("leaderboard", "--suite", suite, "--db", db).out
    assert "1.000" in table and "†" in table and old["id"] in table

    # the viewer's leaderboard marks the cell too
    from starlette.testclient import TestClient

    from assay.web.app import create_app

    viewer = Store(f"sqlite:///{db}", readonly=True)
    with TestClient(create_app(viewer)) as client:
        page = client.get(f"/?suite={suite}").text
    viewer.close()
    assert "†" in page and old["id"] in page and f"/runs/{new['id']}" in page

    # the same data again: the newest run is resumed, not a third one
    write_rows(tmp_path / "caps.jsonl", ["Paris", "Paris", "Paris", "Paris"])
    third = run_cli(cli, db, suite, tmp_path / "caps.yaml", model=model)
    assert "resumed 4 done" in third.out and "new run" not in third.out and len(runs(db)) == 2


def test_one_yaml_pointed_at_other_files_gets_a_run_per_file(cli: Any, tmp_path: Path) -> None:
    """Three data files of 1, 1,000 and 10,000 rows behind one benchmark name: three runs,
    each scored on its own rows."""
    db, suite, model = tmp_path / "f.db", "sizes", "mock/constant?text=yes"
    for size in (1, 1000, 10_000):
        write_rows(tmp_path / f"d{size}.jsonl", ["yes" if i % 4 else "no" for i in range(size)])
    got = []
    for size in (1, 1000, 10_000):
        write_yaml(tmp_path / "bench.yaml", f"d{size}.jsonl", name="sized")
        run_cli(cli, db, suite, tmp_path / "bench.yaml", model=model)
        got.append(mean(runs(db)[-1]))
    assert got == [(0.0, 1), (0.75, 1000), (0.75, 10_000)]
    assert len({r["id"] for r in runs(db)}) == 3
    (row,) = board(cli, db, suite)["rows"]
    assert row["cells"]["sized"]["n"] == 10_000
    assert len(row["cells"]["sized"]["older_runs"]) == 2


def test_two_yaml_files_with_one_name_both_show(cli: Any, tmp_path: Path) -> None:
    db, suite, model = tmp_path / "two.db", "pair", "mock/constant?text=yes"
    for folder, answers in (("a", ["yes", "no"]), ("b", ["yes", "yes", "yes"])):
        (tmp_path / folder).mkdir()
        write_rows(tmp_path / folder / "rows.jsonl", answers)
        write_yaml(tmp_path / folder / "bench.yaml", "rows.jsonl", name="twin")
    run_cli(
        cli, db, suite, tmp_path / "a" / "bench.yaml", tmp_path / "b" / "bench.yaml", model=model
    )
    cells = board(cli, db, suite)["rows"][0]["cells"]
    by_n = {c["n"]: c["mean"] for c in cells.values()}
    assert by_n == {2: 0.5, 3: 1.0}
    # both labelled by their file, since the names are equal and the paths differ
    assert all(label.startswith("twin (") for label in cells)


def test_an_edited_yaml_prompt_is_a_new_run(cli: Any, tmp_path: Path) -> None:
    db, suite, model = tmp_path / "p.db", "prompts", "mock/oracle"
    write_rows(tmp_path / "rows.jsonl", ["a", "b"])
    write_yaml(tmp_path / "b.yaml", "rows.jsonl", prefix="Q: ")
    run_cli(cli, db, suite, tmp_path / "b.yaml", model=model)
    write_yaml(tmp_path / "b.yaml", "rows.jsonl", prefix="Question: ")
    again = run_cli(cli, db, suite, tmp_path / "b.yaml", model=model)
    assert "resumed" not in again.out
    old, new = runs(db)
    assert old["spec"]["definition"] != new["spec"]["definition"]
    assert old["spec"]["data"] == new["spec"]["data"]
    store = Store(f"sqlite:///{db}", readonly=True)
    with store.connect() as conn:
        rq = schema.requests
        sent = conn.execute(
            sa.select(rq.c.request).where(rq.c.run_id == new["id"], rq.c.sample_id == "q0")
        ).scalar_one()
    assert sent["messages"][-1]["content"].startswith("Question: ")
    # a comment or reordered keys change nothing a run depends on
    text = (tmp_path / "b.yaml").read_text()
    (tmp_path / "b.yaml").write_text("# a note\n" + "\n".join(reversed(text.splitlines())) + "\n")
    third = run_cli(cli, db, suite, tmp_path / "b.yaml", model=model)
    assert "resumed 2 done" in third.out


def test_file_benchmarks_named_like_a_builtin_sit_beside_it(
    cli: Any, data_dir: Path, tmp_path: Path
) -> None:
    db, suite = tmp_path / "m.db", "knowledge-9"
    write_rows(tmp_path / "rows.jsonl", ["A", "A", "B", "A"])
    write_yaml(tmp_path / "mine.yaml", "rows.jsonl", name="mmlu")
    (tmp_path / "own.py").write_text(
        "from assay import Sample, Task, Generate\n"
        "from assay.benchmarks.base import Loaded\n"
        "\n"
        "def task() -> Task:\n"
        "    rows = [Sample(id=str(i), input=f'q{i}', references=['A' if i < 3 else 'B'],\n"
        "                   metadata={'level': i})\n"
        "            for i in range(10)]\n"
        "    return Task(load=lambda d: Loaded(rows), prompt=Generate(),\n"
        "                metrics=['exact_match'], name='mmlu')\n"
    )
    result = cli(
        "run", "mmlu", tmp_path / "mine.yaml", f"{tmp_path / 'own.py'}:task",
        "-m", "mock/constant?text=A", "--limit", "40",
        "--suite", suite, "--db", db, "--data-dir", data_dir, "--no-progress",
    )  # fmt: skip
    assert result.code == 0, result.err
    cells = board(cli, db, suite)["rows"][0]["cells"]
    assert set(cells) == {"mmlu", "mmlu (mine.yaml)", "mmlu (own.py)"}
    assert (cells["mmlu (mine.yaml)"]["mean"], cells["mmlu (mine.yaml)"]["n"]) == (0.75, 4)
    assert (cells["mmlu (own.py)"]["mean"], cells["mmlu (own.py)"]["n"]) == (0.3, 10)
    assert cells["mmlu"]["n"] == 40
    assert not any(c["older_runs"] for c in cells.values())
    only = board(cli, db, suite, "--benchmark", "mmlu")
    assert len(only["columns"]) == 3


def test_an_edited_python_benchmark_is_a_new_run(cli: Any, tmp_path: Path) -> None:
    db, suite, model = tmp_path / "py.db", "code-defined", "mock/constant?text=4"
    source = (
        "from assay import Sample, Task, Generate, benchmark\n"
        "from assay.benchmarks.base import Loaded\n"
        "\n"
        "@benchmark('identity-sums')\n"
        "def sums(n: int = 5) -> Task:\n"
        "    rows = [Sample(id=str(i), input=f'{i} + 2?', references=[REF]) for i in range(n)]\n"
        "    return Task(load=lambda d: Loaded(rows), prompt=Generate(), metrics=['exact_match'])\n"
    )
    (tmp_path / "sums.py").write_text("REF = '4'\n" + source)
    run_cli(cli, db, suite, f"{tmp_path / 'sums.py'}:sums", model=model)
    (tmp_path / "sums.py").write_text("REF = str(2 + 3)\n" + source)
    run_cli(cli, db, suite, f"{tmp_path / 'sums.py'}:sums", model=model)
    old, new = runs(db)
    assert old["spec"]["definition"] != new["spec"]["definition"]
    assert (mean(old), mean(new)) == ((1.0, 5), (0.0, 5))
    cell = board(cli, db, suite)["rows"][0]["cells"]["identity-sums"]
    assert (cell["mean"], cell["older_runs"]) == (0.0, [old["id"]])


def test_a_decorated_python_benchmark_cannot_take_a_builtin_name(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "clash.py").write_text(
        "from assay import Sample, Task, Generate, benchmark\n"
        "from assay.benchmarks.base import Loaded\n"
        "\n"
        "@benchmark('gsm8k')\n"
        "def mine() -> Task:\n"
        "    return Task(load=lambda d: Loaded([Sample(id='1', input='x', references=['y'])]),\n"
        "                prompt=Generate(), metrics=['exact_match'])\n"
    )
    db = tmp_path / "c.db"
    result = cli("run", f"{tmp_path / 'clash.py'}:mine", "-m", "mock/oracle", "--db", db)
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert line.startswith("assay: error: benchmark name 'gsm8k' is taken"), line
    assert "clash.py:mine" in line and "assay.benchmarks.gsm8k" in line
    assert not db.exists() or runs(db) == []


def test_registering_a_taken_name_names_both_sources() -> None:
    def first() -> Task:
        return Task(load=lambda d: Loaded([]), prompt=Generate(), metrics=["exact_match"])

    def second() -> Task:
        return first()

    try:
        benchmark("identity-test-taken")(first)
        benchmark("identity-test-taken")(first)  # the same definition again is fine
        with pytest.raises(UserError, match="identity-test-taken") as raised:
            benchmark("identity-test-taken")(second)
        assert "second" in str(raised.value) and "first" in str(raised.value)
    finally:
        REGISTRY.pop("identity-test-taken", None)


def test_registering_a_taken_perturbation_name_is_refused() -> None:
    import dataclasses
    import random

    from assay.perturbations.base import REGISTRY as PERTURBATIONS
    from assay.perturbations.base import Perturbation, perturbation

    @dataclasses.dataclass(frozen=True)
    class Shout(Perturbation):
        def transform(self, text: str, rng: random.Random) -> str:
            return text.upper()

    with pytest.raises(UserError, match=r"'typos' is taken.*Shout.*Typos"):
        perturbation("typos")(Shout)
    assert PERTURBATIONS["typos"].__name__ == "Typos"


# -- model weights ------------------------------------------------------------------------------


def test_weights_fingerprint_follows_the_bytes_not_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assay.hashing

    reads: list[Path] = []
    real = assay.hashing.file_hash

    def counted(path: Path, length: int = 16) -> str:
        reads.append(path)
        return real(path, length)

    monkeypatch.setattr(assay.hashing, "file_hash", counted)
    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"\x01" * 5_000_000)
    before = file_fingerprint(weights)
    assert file_fingerprint(weights) == before
    assert len(reads) == 1  # read once, then remembered while the file stays as it is
    # another file of the same size, differing only after the first 4 MiB, at the same path
    replacement = tmp_path / "other.gguf"
    replacement.write_bytes(b"\x01" * 4_999_999 + b"\x02")
    os.replace(replacement, weights)
    assert file_fingerprint(weights) != before
    assert len(reads) == 2
    # the same bytes elsewhere are the same model
    copy = tmp_path / "copy.gguf"
    copy.write_bytes(weights.read_bytes())
    assert file_fingerprint(copy) == file_fingerprint(weights)


class FileModel(Model):
    """A local model whose 'weights' are a file holding the answer it always gives."""

    def __init__(self, path: Path) -> None:
        super().__init__(ModelSpec("file", str(path)))
        self.path = path
        self.calls = 0

    def identity(self) -> dict[str, Any]:
        return {"model": self.spec.label, "weights": file_fingerprint(self.path)}

    async def generate(self, request: Request) -> Response:
        self.calls += 1
        return Response(text=self.path.read_text())


def _task(answers: list[str]) -> Task:
    samples = [Sample(id=str(i), input=f"q{i}", references=[a]) for i, a in enumerate(answers)]
    return Task(
        load=lambda d: Loaded(samples), prompt=Generate(), metrics=["exact_match"], name="t"
    )


def _run(store: Store, task: Task, model: Model) -> Any:
    runner = Runner(store, task, model, Executor(model), data=DataContext(), suite="weights")
    return asyncio.run(runner.run())


def test_a_model_file_replaced_at_the_same_path_is_a_new_run(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    weights = tmp_path / "weights.bin"
    weights.write_text("yes")
    task = _task(["yes", "yes", "no"])
    first = _run(store, task, FileModel(weights))
    assert first.summary["metrics"]["exact_match"]["mean"] == pytest.approx(2 / 3)

    weights.write_text("no!")  # same size, other bytes
    model = FileModel(weights)
    second = _run(store, task, model)
    assert second.run_id != first.run_id and second.resumed == 0
    assert model.calls == 3  # no cached answer of the old weights was reused
    assert second.summary["metrics"]["exact_match"]["mean"] == 0.0

    again = FileModel(weights)
    third = _run(store, task, again)
    assert third.run_id == second.run_id and third.resumed == 3 and again.calls == 0
    latest = latest_suite_runs(store, "weights")
    assert [r["id"] for r in latest] == [second.run_id]
    assert latest[0]["older_runs"] == [first.run_id]


# -- data read once per invocation, and read again consistently ----------------------------------


class Counting:
    """Samples that count how often they are read, and can change between reads."""

    def __init__(self, answers: list[str], then: list[str] | None = None) -> None:
        self.answers, self.then, self.reads = answers, then, 0

    def __iter__(self) -> Iterator[Sample]:
        self.reads += 1
        answers = self.then if (self.then is not None and self.reads > 1) else self.answers
        for i, a in enumerate(answers):
            yield Sample(id=str(i), input=f"q{i}", references=[a])


def test_samples_are_hashed_once_per_invocation_for_every_model(tmp_path: Path) -> None:
    from assay.models.registry import create_model

    store = Store(f"sqlite:///{tmp_path / 'once.db'}")
    samples = Counting(["A", "B"])
    task = Task(
        load=lambda d: Loaded(samples), prompt=Generate(), metrics=["exact_match"], name="c"
    )
    fingerprints = Fingerprints()
    for text in ("A", "B", "C"):
        model = create_model(f"mock/constant?text={text}")
        runner = Runner(
            store, task, model, Executor(model), data=DataContext(), fingerprints=fingerprints
        )
        asyncio.run(runner.run())
    assert samples.reads == 1 + 3  # one hash pass, then one pass per run


def test_data_that_changes_while_a_run_reads_it_is_not_recorded(tmp_path: Path) -> None:
    from assay.models.registry import create_model

    store = Store(f"sqlite:///{tmp_path / 'moving.db'}")
    samples = Counting(["A", "A"], then=["B", "B", "B"])
    task = Task(
        load=lambda d: Loaded(samples), prompt=Generate(), metrics=["exact_match"], name="m"
    )
    model = create_model("mock/constant?text=A")
    runner = Runner(store, task, model, Executor(model), data=DataContext())
    with pytest.raises(UserError, match="changed while it ran"):
        asyncio.run(runner.run())
    with store.connect() as conn:
        kept = conn.execute(
            sa.select(sa.func.count()).where(schema.samples.c.run_id == runner.run_id)
        ).scalar_one()
        status = conn.execute(
            sa.select(schema.runs.c.status).where(schema.runs.c.id == runner.run_id)
        ).scalar_one()
    assert kept == 0 and status == "interrupted"


# -- stores written before run identity covered data ---------------------------------------------


def test_an_older_store_without_the_source_column_still_shows_and_upgrades(
    cli: Any, tmp_path: Path
) -> None:
    db, suite = tmp_path / "old.db", "legacy"
    write_rows(tmp_path / "rows.jsonl", ["x", "y"])
    write_yaml(tmp_path / "b.yaml", "rows.jsonl")
    run_cli(cli, db, suite, tmp_path / "b.yaml", model="mock/constant?text=x")
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE runs DROP COLUMN benchmark_source"))
        conn.execute(sa.text("DROP TABLE alembic_version"))  # made before migrations
    engine.dispose()
    cell = board(cli, db, suite)["rows"][0]["cells"]["capitals"]  # read-only: no upgrade
    assert (cell["mean"], cell["n"]) == (0.5, 2)
    write_rows(tmp_path / "rows.jsonl", ["x", "x"])
    run_cli(cli, db, suite, tmp_path / "b.yaml", model="mock/constant?text=x")
    cell = board(cli, db, suite)["rows"][0]["cells"]["capitals"]
    assert (cell["mean"], cell["n"], len(cell["older_runs"])) == (1.0, 2, 1)


@pytest.mark.slow
def test_a_gguf_file_replaced_at_the_same_path_is_another_model(cli: Any, tmp_path: Path) -> None:
    """The real llama.cpp backend: weights changed after the first 4 MiB (where a head-only
    fingerprint would not look) make a new run, and no cached response is reused."""
    import shutil

    from assay.models.llamacpp import packaged_path

    weights = tmp_path / "model.gguf"
    shutil.copyfile(packaged_path("smollm2"), weights)
    write_rows(tmp_path / "rows.jsonl", ["Paris", "Rome"])
    write_yaml(tmp_path / "b.yaml", "rows.jsonl")
    db, suite, model = tmp_path / "g.db", "gguf", f"llamacpp/{weights}?threads=1"
    run_cli(cli, db, suite, tmp_path / "b.yaml", model=model)
    changed = bytearray(weights.read_bytes())
    changed[-1] ^= 0xFF  # the last byte of the tensor data
    (tmp_path / "new.gguf").write_bytes(bytes(changed))
    os.replace(tmp_path / "new.gguf", weights)
    again = run_cli(cli, db, suite, tmp_path / "b.yaml", model=model)
    assert "resumed" not in again.out and "cached" not in again.out
    old, new = runs(db)
    assert old["spec"]["model"]["weights"] != new["spec"]["model"]["weights"]
    store = Store(f"sqlite:///{db}", readonly=True)
    with store.connect() as conn:
        rq = schema.requests
        keys = {
            run["id"]: set(
                conn.execute(sa.select(rq.c.cache_key).where(rq.c.run_id == run["id"])).scalars()
            )
            for run in (old, new)
        }
    assert keys[old["id"]].isdisjoint(keys[new["id"]])
