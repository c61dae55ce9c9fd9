"""`assay export --format eee` and `assay import-eee`: real runs out to the Every Eval Ever
schema, checked by the every-eval-ever package's own validator, and back into a fresh store.

The runs: MMLU over the real data beside the checkout (subjects: clustered intervals) and a
file-defined benchmark with numeric metadata and two metrics, each answered by an oracle, a
seeded random model and a model whose calls fail for some samples, in a suite not named
`default`.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.conftest import run_cli

from assay.store import schema
from assay.store.db import Store, resolve_url

pytest.importorskip("every_eval_ever.eval_types", reason="needs every-eval-ever (assay[eee])")

SUITE = "eee-suite"
MODELS = ("mock/oracle", "mock/random?seed=3", "mock/flaky?fail_rate=0.3")
QA = [
    {"id": f"q{i}", "question": q, "answer": a, "level": i % 4, "year": 2015 + i}
    for i, (q, a) in enumerate(
        [
            ("The capital of France is", "Paris"),
            ("The capital of Italy is", "Rome"),
            ("Two plus two is", "4"),
            ("The largest planet is", "Jupiter"),
            ("Water freezes at zero degrees", "Celsius"),
            ("The author of Hamlet is", "Shakespeare"),
        ]
    )
]


def _rows(db: Path, table: sa.Table) -> list[dict[str, Any]]:
    store = Store(resolve_url(str(db)), readonly=True)
    with store.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(table)).mappings()]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("eee")
    (root / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in QA))
    (root / "qa.yaml").write_text(
        "name: capitals\nversion: '2'\ndata:\n  path: qa.jsonl\n"
        "fields:\n  id: id\n  input: question\n  target: answer\n  metadata: [level, year]\n"
        "prompt:\n  format: generate\n  extract: text\n  max_tokens: 8\n"
        "metrics: [exact_match, f1]\nmain_metric: exact_match\n"
    )
    db = root / "a.db"
    models = [arg for m in MODELS for arg in ("-m", m)]
    result = run_cli(
        "run", "mmlu", root / "qa.yaml", *models, "--limit", "60", "--suite", SUITE,
        "--data-dir", data_dir, "--db", db, "--max-attempts", "1", "--no-progress",
    )  # fmt: skip
    assert result.code == 0, result.err
    out = root / "data"
    result = run_cli("export", "--format", "eee", "--suite", SUITE, "-o", out, "--db", db)
    assert result.code == 0, result.err
    return {"db": db, "data": out}


def _board(db: Path, suite: str) -> dict[str, Any]:
    result = run_cli("leaderboard", "--suite", suite, "--format", "json", "--db", db)
    assert result.code == 0, result.err
    board: dict[str, Any] = json.loads(result.out)
    return board


def test_every_file_passes_the_packages_validator(
    exported: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from every_eval_ever.validator.validate import main as validate

    files = sorted(exported["data"].rglob("*.json*"))
    assert len(files) == 2 * 2 * len(MODELS)  # aggregate + samples, per run
    capsys.readouterr()
    # as its CLI does: strict JSON, the schema models, the datastore path and the companion
    # checks (rows agree with their aggregate: ids, count, checksum), warnings included
    code = validate(["--format", "json", f"{exported['data']}/*/*/*/*.json*"])
    reports = json.loads(capsys.readouterr().out)
    assert code == 0, [r for r in reports if r["errors"] or r["warnings"]]
    assert len(reports) == len(files) and all(r["valid"] and not r["warnings"] for r in reports)


def test_aggregates_carry_assays_figures(exported: dict[str, Path]) -> None:
    board = _board(exported["db"], SUITE)
    seen = 0
    for path in exported["data"].rglob("*.json"):
        log = json.loads(path.read_text())
        model = log["model_info"]["additional_details"]["assay_model"]
        (result, *others) = log["evaluation_results"]
        benchmark = result["evaluation_name"]
        cell = next(r for r in board["rows"] if r["model"] == model)["cells"][benchmark]
        assert result["evaluation_result_id"] == "exact_match"  # the main metric first
        details = result["score_details"]
        assert details["score"] == pytest.approx(cell["mean"])
        interval = details["uncertainty"]["confidence_interval"]
        assert (interval["lower"], interval["upper"]) == pytest.approx(
            (cell["ci_lo"], cell["ci_hi"])
        )
        assert details["uncertainty"]["num_samples"] == cell["n"]
        assert interval["method"].startswith("wilson")
        if benchmark == "mmlu":  # subjects are clusters
            assert "clustered" in interval["method"]
        else:
            assert [o["evaluation_result_id"] for o in others] == ["f1"]
            assert others[0]["metric_config"]["score_type"] == "continuous"
        rows = [json.loads(x) for x in path.with_name(path.stem + "_samples.jsonl").open()]
        assert log["detailed_evaluation_results"]["total_rows"] == len(rows)
        metrics = 1 + len(others)
        failed = [r for r in rows if r.get("error")]
        assert len(rows) == metrics * (cell["n"] + cell["errors"])
        assert len(failed) == metrics * cell["errors"]
        if model.startswith("mock/flaky"):
            assert cell["errors"] > 0
        if benchmark == "capitals":  # numeric metadata, as the schema wants it: text
            by_id = {r["sample_id"]: r for r in rows}
            assert by_id["q3"]["metadata"]["year"] == "2018"
            assert by_id["q3"]["input"]["reference"] == ["Jupiter"]
        seen += 1
    assert seen == 2 * len(MODELS)


def test_import_restores_the_runs_exactly(exported: dict[str, Path], tmp_path: Path) -> None:
    db = tmp_path / "back.db"
    result = run_cli("import-eee", exported["data"], "--suite", "back", "--db", db)
    assert result.code == 0, result.err
    original, back = _board(exported["db"], SUITE), _board(db, "back")
    for row in original["rows"]:
        mine = next(r for r in back["rows"] if r["model"] == row["model"])
        for benchmark, cell in row["cells"].items():
            again = mine["cells"][f"eee/{benchmark}"]
            for key in ("mean", "ci_lo", "ci_hi", "n", "errors", "clusters"):
                assert again[key] == pytest.approx(cell[key]), (row["model"], benchmark, key)
    runs = {r["id"]: r for r in _rows(db, schema.runs)}
    assert {r["spec"]["source"] for r in runs.values()} == {"eee"}
    old_runs = {(r["benchmark"], r["model"]): r["id"] for r in _rows(exported["db"], schema.runs)}
    new_runs = {(r["benchmark"][4:], r["model"]): r["id"] for r in runs.values()}
    assert set(old_runs) == set(new_runs)
    # the data's hash too, so version and different-samples checks still agree
    old_hashes = {
        (r["benchmark"], r["model"]): r["dataset_hash"] for r in _rows(exported["db"], schema.runs)
    }
    assert {
        (r["benchmark"][4:], r["model"]): r["dataset_hash"] for r in runs.values()
    } == old_hashes
    for table, key in (
        (schema.samples, ("sample_id",)),
        (schema.scores, ("sample_id", "metric")),
        (schema.requests, ("sample_id", "idx")),
    ):
        before = _keyed(_rows(exported["db"], table), old_runs, key)
        after = _keyed(_rows(db, table), new_runs, key)
        assert before == after, table.name
    _browsable(db)
    # imported runs take part in paired comparisons like native ones
    compare = run_cli("compare", "mock/oracle", "mock/random?seed=3", "--db", db, "--suite", "back")
    assert compare.code == 0 and "eee/mmlu" in compare.out, compare.err


def _keyed(
    rows: list[dict[str, Any]], runs: dict[tuple[str, str], str], key: tuple[str, ...]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Rows by (benchmark, model, key...), without the columns an import rewrites."""
    names = {run_id: name for name, run_id in runs.items()}
    skip = {"run_id", "updated_at", "created_at", "idx"} - set(key)
    return {
        (*names[r["run_id"]], *(r[k] for k in key)): {k: v for k, v in r.items() if k not in skip}
        for r in rows
    }


def test_reimport_replaces_and_export_is_stable(exported: dict[str, Path], tmp_path: Path) -> None:
    db = tmp_path / "twice.db"
    for _ in range(2):
        assert run_cli("import-eee", exported["data"], "--suite", "s", "--db", db).code == 0
    counts = {t.name: len(_rows(db, t)) for t in (schema.runs, schema.samples, schema.scores)}
    assert counts["runs"] == 2 * len(MODELS)
    original = {t.name: len(_rows(exported["db"], t)) for t in (schema.samples, schema.scores)}
    assert counts["samples"] == original["samples"] and counts["scores"] == original["scores"]
    # exporting again writes the same files (named from the run), not copies beside them
    again = tmp_path / "again" / "data"
    shutil.copytree(exported["data"], again)
    result = run_cli(
        "export", "--format", "eee", "--suite", SUITE, "-o", again, "--db", exported["db"]
    )
    assert result.code == 0, result.err
    assert sorted(p.relative_to(again) for p in again.rglob("*")) == sorted(
        p.relative_to(exported["data"]) for p in exported["data"].rglob("*")
    )


def _records(data: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Each exported run's files by (evaluation name, model): where they lie, the aggregate
    without when it was retrieved (the one field that is the export's own), and its rows."""
    records = {}
    for path in data.rglob("*.json"):
        log = json.loads(path.read_text())
        del log["retrieved_timestamp"]
        rows = [json.loads(x) for x in path.with_name(path.stem + "_samples.jsonl").open()]
        key = (log["evaluation_results"][0]["evaluation_name"], log["model_info"]["name"])
        records[key] = {"path": path.relative_to(data), "log": log, "rows": rows}
    return records


def test_round_trips_through_eee_are_stable(exported: dict[str, Path], tmp_path: Path) -> None:
    """Export -> import -> export -> import ...: each import names the benchmarks as the first
    did (never `eee/eee/...`) with the same models, scores and sample counts, and each export
    writes the same records, in the same files, as the first."""
    original = _board(exported["db"], SUITE)
    first = _records(exported["data"])
    assert len(first) == 2 * len(MODELS)
    data = exported["data"]
    for trip in (1, 2, 3):
        db, suite = tmp_path / f"trip{trip}.db", f"trip-{trip}"
        result = run_cli("import-eee", data, "--suite", suite, "--db", db)
        assert result.code == 0, result.err
        board = _board(db, suite)
        assert {r["model"] for r in board["rows"]} == {r["model"] for r in original["rows"]}
        for row in original["rows"]:
            mine = next(r for r in board["rows"] if r["model"] == row["model"])
            assert set(mine["cells"]) == {f"eee/{b}" for b in row["cells"]}, trip
            for benchmark, cell in row["cells"].items():
                again = mine["cells"][f"eee/{benchmark}"]
                for key in ("mean", "ci_lo", "ci_hi", "n", "errors"):
                    assert again[key] == pytest.approx(cell[key]), (trip, benchmark, key)
        assert not any("eee/eee/" in r["benchmark"] for r in _rows(db, schema.runs))
        data = tmp_path / f"trip{trip}" / "data"
        data.parent.mkdir()
        result = run_cli("export", "--format", "eee", "--suite", suite, "-o", data, "--db", db)
        assert result.code == 0, result.err
        records = _records(data)
        assert set(records) == set(first), trip
        for key, record in records.items():
            assert record == first[key], (trip, key)


def _copy(exported: dict[str, Path], tmp_path: Path) -> tuple[Path, Path, Path]:
    """A copy of the export, and one of its aggregates with its samples file."""
    data = tmp_path / "data"
    shutil.copytree(exported["data"], data)
    aggregate = sorted(data.rglob("*.json"))[0]
    return data, aggregate, aggregate.with_name(aggregate.stem + "_samples.jsonl")


def _cut_mid_line(path: Path) -> None:
    text = path.read_bytes()
    path.write_bytes(text[: len(text) * 2 // 3])


def _cut_at_line(path: Path) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[: len(lines) - 2]))


def _foreign(path: Path) -> None:
    path.write_text(json.dumps({"version": 2, "status": "success", "eval": {"task": "x"}}))


def _wrong_rows(path: Path) -> None:
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    rows[1]["evaluation_id"] = "someone/else/1"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _no_score(path: Path) -> None:
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    del rows[2]["evaluation"]["score"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


BAD = {
    "samples cut mid-line": ("samples", _cut_mid_line, "truncated or broken JSON"),
    "samples cut at a line break": ("samples", _cut_at_line, "instance rows where the aggregate"),
    "aggregate cut": ("aggregate", _cut_mid_line, "truncated or broken JSON"),
    "foreign json": ("aggregate", _foreign, "not an Every Eval Ever aggregate"),
    "rows of another evaluation": ("samples", _wrong_rows, "belongs to evaluation"),
    "row without a score": ("samples", _no_score, "not an Every Eval Ever instance row"),
    "samples missing": ("samples", Path.unlink, "are not beside it"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_file_is_one_line_and_imports_nothing(
    exported: dict[str, Path], tmp_path: Path, case: str
) -> None:
    which, spoil, message = BAD[case]
    data, aggregate, samples = _copy(exported, tmp_path)
    spoil(samples if which == "samples" else aggregate)
    db = tmp_path / "s.db"
    assert run_cli("import-eee", sorted(data.rglob("*.json"))[-1], "--db", db).code == 0
    before = {t.name: _rows(db, t) for t in (schema.runs, schema.samples, schema.scores)}
    result = run_cli("import-eee", data, "--db", db, "--suite", "other")
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.err
    assert "Traceback" not in result.err
    after = {t.name: _rows(db, t) for t in (schema.runs, schema.samples, schema.scores)}
    assert after == before  # the good files before and after the bad one: nothing of them


def test_an_aggregate_without_instance_rows_is_refused(
    exported: dict[str, Path], tmp_path: Path
) -> None:
    _, aggregate, samples = _copy(exported, tmp_path)
    log = json.loads(aggregate.read_text())
    del log["detailed_evaluation_results"]
    aggregate.write_text(json.dumps(log))
    samples.unlink()
    result = run_cli("import-eee", aggregate, "--db", tmp_path / "n.db")
    assert result.code == 2 and "no instance-level results" in result.err


def test_export_mistakes_are_one_line(exported: dict[str, Path], tmp_path: Path) -> None:
    db = exported["db"]
    result = run_cli("export", "--format", "eee", "--suite", SUITE, "--db", db)
    assert result.code == 2 and "pass --output DIR" in result.err
    (tmp_path / "file").write_text("x")
    result = run_cli("export", "--format", "eee", "-o", tmp_path / "file", "--db", db)
    assert result.code == 2 and "is a file" in result.err
    result = run_cli("export", "--format", "eee", "-o", tmp_path / "no" / "data", "--db", db)
    assert result.code == 2 and "does not exist" in result.err
    result = run_cli("export", "--format", "eee", "-o", exported["data"] / "mmlu", "--db", db)
    assert result.code == 2 and "inside a data/ folder" in result.err
    result = run_cli("export", "--format", "eee", "--suite", "nope", "-o", tmp_path, "--db", db)
    assert result.code == 2 and "'nope' has no finished runs" in result.err


@pytest.mark.parametrize("command", ["export", "import-eee"])
def test_without_the_package_one_line_says_how_to_install_it(
    exported: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    for name in [m for m in sys.modules if m.startswith("every_eval_ever")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "every_eval_ever", None)
    if command == "export":
        args = ["export", "--format", "eee", "-o", tmp_path / "data", "--db", exported["db"]]
    else:
        args = ["import-eee", exported["data"], "--db", tmp_path / "m.db"]
    result = run_cli(*args)
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert "every-eval-ever" in line and "pip install" in line
    if sys.version_info < (3, 12):
        assert "--no-deps --ignore-requires-python every-eval-ever==0.3.0" in line
    assert not (tmp_path / "data").exists() and not (tmp_path / "m.db").exists()


# slow: the package's lm-eval converter and two round trips, 12-14 s on two cores
@pytest.mark.slow
def test_files_the_packages_own_lmeval_converter_wrote(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Foreign EEE files: lm-eval output (its own simple_evaluate and tracker) converted by
    every-eval-ever's lm_eval converter. Each task's means equal lm-eval's; the perplexity task
    (corpus-level figures only) is skipped with a line."""
    pytest.importorskip("lm_eval")
    from every_eval_ever.cli import main as eee_cli
    from tests.interop.test_lmeval_import import GEN_TASK, MC_TASK, PPL_TASK, run_lmeval

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    results = run_lmeval(tmp_path / "lm", data_dir, "assay-test/scripted-a", 8)
    data = tmp_path / "data"
    args = ["convert", "lm_eval", "--log_path", str(results), "--output_dir", str(data)]
    assert eee_cli([*args, "--include_samples"]) == 0
    db = tmp_path / "f.db"
    result = run_cli("import-eee", data, "--suite", "foreign", "--db", db)
    assert result.code == 0, result.err
    assert f"skipped {PPL_TASK}" in result.out
    (reported,) = [json.loads(p.read_text()) for p in results.rglob("results_*.json")]
    cells = _board(db, "foreign")["rows"][0]["cells"]
    mc = reported["results"][MC_TASK]["acc,none"]
    assert cells[f"eee/{MC_TASK}"]["mean"] == pytest.approx(mc)
    for name in ("strict", "number"):
        expected = reported["results"][GEN_TASK][f"exact_match,{name}"]
        assert cells[f"eee/{GEN_TASK}/{name}"]["mean"] == pytest.approx(expected)
    assert all(c["n"] == 8 for c in cells.values())
    runs = _rows(db, schema.runs)
    assert {r["model"] for r in runs} == {"assay-test/scripted-a"}
    assert {r["spec"]["source"] for r in runs} == {"eee"}
    _browsable(db)
    # exported again under their own names, library and source; from then on round trips
    # write the same records (the aggregate with two evaluations becomes one file each)
    exports = []
    for trip in (1, 2):
        out = tmp_path / f"trip{trip}" / "data"
        out.parent.mkdir()
        result = run_cli("export", "--format", "eee", "--suite", "foreign", "-o", out, "--db", db)
        assert result.code == 0, result.err
        exports.append(_records(out))
        db = tmp_path / f"trip{trip}.db"
        assert run_cli("import-eee", out, "--suite", "foreign", "--db", db).code == 0
        assert set(_board(db, "foreign")["rows"][0]["cells"]) == set(cells)
    assert exports[0] == exports[1]
    (log, *_) = [r["log"] for r in exports[0].values()]
    original = json.loads(next(data.rglob("*.json")).read_text())
    assert log["eval_library"]["name"] == original["eval_library"]["name"] != "assay"
    assert log["source_metadata"] == original["source_metadata"]


def _browsable(db: Path) -> None:
    """The viewer shows every imported run and its samples."""
    pytest.importorskip("starlette")
    from urllib.parse import quote

    from starlette.testclient import TestClient

    from assay.web.app import create_app

    client = TestClient(create_app(Store(resolve_url(str(db)), readonly=True)))
    assert client.get("/").status_code == 200
    for row in _rows(db, schema.samples)[::5]:
        assert client.get(f"/runs/{row['run_id']}").status_code == 200
        page = client.get(f"/runs/{row['run_id']}/samples/{quote(row['sample_id'], safe='')}")
        assert page.status_code == 200 and row["sample_id"] in page.text


@pytest.mark.slow
def test_postgresql_both_ways(exported: dict[str, Path], tmp_path: Path, postgres_url: str) -> None:
    """Import into PostgreSQL (jsonb, its upsert), export from it, and import that back: the
    same figures; a broken file leaves the PostgreSQL store as it was."""
    result = run_cli("import-eee", exported["data"], "--suite", "pg", "--db", postgres_url)
    assert result.code == 0, result.err
    out = tmp_path / "data"
    result = run_cli("export", "--format", "eee", "--suite", "pg", "-o", out, "--db", postgres_url)
    assert result.code == 0, result.err
    back = tmp_path / "back.db"
    assert run_cli("import-eee", out, "--suite", "b", "--db", back).code == 0
    original, again = _board(exported["db"], SUITE), _board(back, "b")
    for row in original["rows"]:
        mine = next(r for r in again["rows"] if r["model"] == row["model"])
        for benchmark, cell in row["cells"].items():
            cell_again = mine["cells"][f"eee/{benchmark}"]
            assert (cell_again["mean"], cell_again["n"]) == pytest.approx((cell["mean"], cell["n"]))
    _, _, samples = _copy(exported, tmp_path / "bad")
    _cut_mid_line(samples)
    store = Store(postgres_url, readonly=True)
    with store.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(schema.scores)).scalar()
    result = run_cli("import-eee", tmp_path / "bad" / "data", "--suite", "x", "--db", postgres_url)
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1
    with store.connect() as conn:
        after = conn.execute(sa.select(sa.func.count()).select_from(schema.scores)).scalar()
    assert after == before
