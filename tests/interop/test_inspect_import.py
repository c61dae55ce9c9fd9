"""`assay import-inspect` on logs written by inspect-ai itself (tests/fixtures/inspect, made
by its generate.py with Inspect's mockllm model): .eval (zip, zstd entries) and .json."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.store import schema
from assay.store.db import Store, resolve_url

pytest.importorskip("ijson")
pytest.importorskip("zipfile_zstd")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inspect"


def _eval_samples(path: Path) -> list[dict[str, Any]]:
    import zipfile_zstd  # noqa: F401  (reads Inspect's zstd entries on Python < 3.14)

    with zipfile.ZipFile(path) as archive:
        return [
            json.loads(archive.read(n))
            for n in archive.namelist()
            if n.startswith("samples/") and n.endswith(".json")
        ]


def _rows(db: Path, table: sa.Table) -> list[Any]:
    store = Store(resolve_url(str(db)), readonly=True)
    with store.connect() as conn:
        return list(conn.execute(sa.select(table)).mappings().all())


def test_every_sample_message_output_score_and_metadata_arrives(cli: Any, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    result = cli("import-inspect", FIXTURES / "qa-a.eval", FIXTURES / "qa-b.json", "--db", db)
    assert result.code == 0, result.err
    runs = {r["model"]: r for r in _rows(db, schema.runs)}
    assert set(runs) == {"mockllm/model-a", "mockllm/model-b"}
    assert {r["benchmark"] for r in runs.values()} == {"inspect/arith_qa"}
    assert all(r["spec"]["source"] == "inspect" for r in runs.values())
    samples = {(s["run_id"], s["sample_id"]): s for s in _rows(db, schema.samples)}
    requests = {(r["run_id"], r["sample_id"]): r for r in _rows(db, schema.requests)}
    scores = {
        (s["run_id"], s["sample_id"], s["metric"]): s["value"] for s in _rows(db, schema.scores)
    }

    logged = _eval_samples(FIXTURES / "qa-a.eval")
    assert len(logged) == 8  # 4 samples x 2 epochs
    run_id = runs["mockllm/model-a"]["id"]
    assert sum(1 for k in samples if k[0] == run_id) == 8
    values = {"C": 1.0, "I": 0.0}
    for sample in logged:
        key = str(sample["id"]) + ("" if sample["epoch"] == 1 else f"#epoch{sample['epoch']}")
        row = samples[(run_id, key)]
        assert row["input"] == sample["input"]
        target = sample["target"]
        assert row["references"] == (target if isinstance(target, list) else [target])
        meta = row["metadata"]
        assert {k: meta[k] for k in sample["metadata"]} == sample["metadata"]  # numeric too
        assert meta["inspect"]["scores"] == sample["scores"]
        assert meta["cluster"] == str(sample["id"])
        request = requests[(run_id, key)]
        assert request["request"]["messages"] == sample["messages"]
        assert request["response"] == sample["output"]
        assert request["text"] == sample["output"]["choices"][0]["message"]["content"]
        for scorer in ("match", "includes"):
            assert scores[(run_id, key, scorer)] == values[sample["scores"][scorer]["value"]]
    run = runs["mockllm/model-a"]
    assert run["main_metric"] == "match"
    header_results = run["summary"]["inspect_results"]["scores"]
    inspect_accuracy = next(s for s in header_results if s["name"] == "match")["metrics"]
    assert run["summary"]["metrics"]["match"]["mean"] == pytest.approx(
        inspect_accuracy["accuracy"]["value"]
    )
    # the .json log arrives the same way
    other = runs["mockllm/model-b"]["id"]
    logged_json = json.loads((FIXTURES / "qa-b.json").read_text())["samples"]
    assert {k[1] for k in samples if k[0] == other} == {str(s["id"]) for s in logged_json}
    for sample in logged_json:
        key = (other, str(sample["id"]))
        assert requests[key]["request"]["messages"] == sample["messages"]
        assert scores[(*key, "match")] == values[sample["scores"]["match"]["value"]]
    provenance = {p["run_id"]: p["provenance"] for p in _rows(db, schema.run_provenance)}
    assert provenance[run_id]["source"] == "inspect"
    assert provenance[run_id]["eval_id"] == run["spec"]["eval"]["eval_id"]


def test_multiple_choice_letters_become_the_correct_choice(cli: Any, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    assert cli("import-inspect", FIXTURES / "mc-a.eval", "--db", db).code == 0
    logged = {str(s["id"]): s for s in _eval_samples(FIXTURES / "mc-a.eval")}
    for row in _rows(db, schema.samples):
        sample = logged[row["sample_id"]]
        assert row["choices"] == sample["choices"]
        assert row["correct"] == ord(sample["target"]) - ord("A")
        assert row["prediction"] == sample["scores"]["choice"]["answer"]


def test_reimport_is_idempotent_and_runs_join_leaderboard_and_compare(
    cli: Any, tmp_path: Path
) -> None:
    db = tmp_path / "i.db"
    tables = (schema.runs, schema.samples, schema.requests, schema.scores)
    assert cli("import-inspect", FIXTURES, "--db", db, "--suite", "evals").code == 0
    before = [len(_rows(db, t)) for t in tables]
    assert cli("import-inspect", FIXTURES, "--db", db, "--suite", "evals").code == 0
    assert [len(_rows(db, t)) for t in tables] == before and before[0] == 4
    board = cli("leaderboard", "--suite", "evals", "--db", db, "--format", "json")
    assert board.code == 0, board.err
    assert "mockllm/model-a" in board.out and "inspect/tiny_mc" in board.out
    compared = cli(
        "compare", "mockllm/model-a", "mockllm/model-b", "--suite", "evals", "--db", db,
        "--format", "json",
    )  # fmt: skip
    assert compared.code == 0, compared.err
    assert "inspect/arith_qa" in compared.out


@pytest.mark.parametrize("cut", [0.5, 0.95])
def test_truncated_logs_import_nothing(cli: Any, tmp_path: Path, cut: float) -> None:
    db = tmp_path / "i.db"
    for name in ("qa-a.eval", "qa-b.json"):
        data = (FIXTURES / name).read_bytes()
        broken = tmp_path / name
        broken.write_bytes(data[: int(len(data) * cut)])
        # a good log first on the command line: it must not stay behind either
        result = cli("import-inspect", FIXTURES / "mc-a.eval", broken, "--db", db)
        assert result.code == 2, result.out
        assert result.err.count("\n") == 1 and name in result.err
        assert _rows(db, schema.runs) == [] and _rows(db, schema.samples) == []


def test_failed_reimport_keeps_the_earlier_import(cli: Any, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    log = tmp_path / "qa-b.json"
    shutil.copy(FIXTURES / "qa-b.json", log)
    assert cli("import-inspect", log, "--db", db).code == 0
    before = len(_rows(db, schema.scores))
    log.write_bytes(log.read_bytes()[:-200])
    assert cli("import-inspect", log, "--db", db).code == 2
    assert len(_rows(db, schema.scores)) == before


def test_foreign_files_are_one_line_errors(cli: Any, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    other_zip = tmp_path / "other.eval"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    other_json = tmp_path / "other.json"
    other_json.write_text(json.dumps({"results": [1, 2]}))
    not_zip = tmp_path / "plain.eval"
    not_zip.write_text("just text")
    for path, words in (
        (other_zip, "no header.json"),
        (other_json, "no `eval` header"),
        (not_zip, "not a readable Inspect .eval log"),
        (tmp_path / "missing.eval", "does not exist"),
    ):
        result = cli("import-inspect", path, "--db", db)
        assert result.code == 2 and words in result.err, result.err
        assert result.err.count("\n") == 1


def test_scores_of_every_kind_read_as_inspect_reads_them() -> None:
    from assay.interop.inspect import score_value

    assert [score_value(v) for v in ("C", "I", "P", "N", "yes", "False", "0.25", 3, True)] == [
        1.0, 0.0, 0.5, 0.0, 1.0, 0.0, 0.25, 3.0, 1.0,
    ]  # fmt: skip
    assert score_value("maybe") is None and score_value([1, 2]) is None


@pytest.mark.slow
def test_inspect_logs_import_into_postgresql_all_or_nothing(cli: Any, postgres_url: str) -> None:
    """The same rows and the same rollback on PostgreSQL (jsonb, its own upsert)."""
    result = cli("import-inspect", FIXTURES, "--db", postgres_url, "--suite", "pg")
    assert result.code == 0, result.err
    store = Store(postgres_url, readonly=True)
    with store.connect() as conn:
        counts = [
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
            for t in (schema.runs, schema.samples, schema.scores)
        ]
    assert counts == [4, 19, 29]  # qa-errors.eval: 3 failed samples, no scores
    board = cli("leaderboard", "--suite", "pg", "--db", postgres_url, "--format", "csv")
    assert board.code == 0 and "mockllm/model-b" in board.out


def test_imported_runs_are_browsable_in_the_viewer(cli: Any, tmp_path: Path) -> None:
    """Sample pages render numeric metadata (Inspect's `level`) and message-list inputs."""
    pytest.importorskip("starlette")
    from urllib.parse import quote

    from starlette.testclient import TestClient

    from assay.web.app import create_app

    db = tmp_path / "i.db"
    assert cli("import-inspect", FIXTURES, "--db", db).code == 0
    store = Store(resolve_url(str(db)), readonly=True)
    client = TestClient(create_app(store))
    assert client.get("/").status_code == 200
    for row in _rows(db, schema.samples):
        run_page = client.get(f"/runs/{row['run_id']}")
        assert run_page.status_code == 200
        sample = quote(row["sample_id"], safe="")  # "q1#epoch2"
        page = client.get(f"/runs/{row['run_id']}/samples/{sample}")
        assert page.status_code == 200, row["sample_id"]
        assert row["sample_id"] in page.text


def test_failed_samples_are_kept_and_never_scored(cli: Any, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    assert cli("import-inspect", FIXTURES / "qa-errors.eval", "--db", db).code == 0
    logged = {str(s["id"]): s for s in _eval_samples(FIXTURES / "qa-errors.eval")}
    failed = {k for k, s in logged.items() if s.get("error")}
    assert failed and failed != set(logged)  # the log has both kinds
    samples = {s["sample_id"]: s for s in _rows(db, schema.samples)}
    assert set(samples) == set(logged)
    scored = {s["sample_id"] for s in _rows(db, schema.scores)}
    assert scored == set(logged) - failed
    requests = {r["sample_id"]: r for r in _rows(db, schema.requests)}
    for key in failed:
        assert samples[key]["status"] == "error"
        assert samples[key]["error"] == logged[key]["error"]["message"]
        assert requests[key]["error"]["message"] == logged[key]["error"]["message"]
        assert requests[key]["text"] is None
    (run,) = _rows(db, schema.runs)
    assert run["summary"]["metrics"]["match"]["n"] == len(logged) - len(failed)


def test_a_corrupt_sample_entry_imports_nothing(cli: Any, tmp_path: Path) -> None:
    data = bytearray((FIXTURES / "qa-a.eval").read_bytes())
    at = data.find(b"samples/q2_epoch_1.json") + 200  # inside that entry's compressed bytes
    data[at : at + 40] = bytes(40)
    log = tmp_path / "corrupt.eval"
    log.write_bytes(bytes(data))
    db = tmp_path / "i.db"
    result = cli("import-inspect", log, "--db", db)
    assert result.code == 2 and "corrupt.eval" in result.err and result.err.count("\n") == 1
    assert _rows(db, schema.samples) == []
