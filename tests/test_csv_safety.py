"""CSV injection: no CSV assay writes starts a text cell with `=`, `+`, `-`, `@`, a tab or a
carriage return (a spreadsheet would run it as a formula), numbers stay numbers, and an
annotation sheet read back gives the exact text that was exported.

The store holds a benchmark whose inputs and references are formula payloads, answered by the
oracle (so the responses and predictions are payloads too), scores made negative, one run's
model renamed to a payload, as a log imported from another tool could name it, and the two
runs judged pairwise."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.conftest import run_cli

from assay import csv_safety
from assay.annotation import exchange
from assay.store import schema
from assay.store.db import Store

SUITE = "payloads"
PAYLOADS = [
    '=HYPERLINK("http://x","click")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "'=already quoted",
    "''+twice",
]
HOSTILE_MODEL = '=HYPERLINK("http://evil","model")'
NEGATIVE = -0.5
JUDGE = ["--judge", "mock/judge"]
TRIGGERS = tuple(csv_safety.TRIGGERS)


def text_cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def assert_no_formulas(text: str) -> None:
    """Every cell starting with a trigger is a plain number (a score of -0.5), never text."""
    formulas = [c for c in text_cells(text) if c.startswith(TRIGGERS) and not number(c)]
    assert not formulas, f"cells a spreadsheet would run: {formulas}"


# -- the helper --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text", [*PAYLOADS, "", "plain", "'tis", "'", "''", "a=b", " =1", "-", "'-", "\n=1"]
)
def test_restore_undoes_neutralise_and_nothing_written_starts_a_formula(text: str) -> None:
    written = csv_safety.neutralise(text)
    assert not written.startswith(TRIGGERS)
    assert csv_safety.restore(written) == text


def test_only_text_is_quoted_numbers_stay_numbers() -> None:
    buffer = io.StringIO()
    writer = csv_safety.Writer(buffer, lineterminator="\n")
    writer.writerow(["-2+3", NEGATIVE, -3, 0.25, None, True, "=1"])
    assert buffer.getvalue() == "'-2+3,-0.5,-3,0.25,,True,'=1\n"


def test_a_carriage_return_in_a_cell_does_not_start_a_row() -> None:
    buffer = io.StringIO()
    writer = csv_safety.Writer(buffer, lineterminator="\n")  # Python 3.11 quotes only "\n"
    writer.writerows([["a\r=1", NEGATIVE], ["b", 1]])
    assert buffer.getvalue() == '"a\r=1",-0.5\nb,1\n'
    assert list(csv.reader(io.StringIO(buffer.getvalue(), newline=""))) == [
        ["a\r=1", "-0.5"],
        ["b", "1"],
    ]


def test_the_dict_writer_quotes_headers_and_cells_and_rejects_unknown_keys() -> None:
    buffer = io.StringIO()
    writer = csv_safety.DictWriter(buffer, ["a", "=b"], lineterminator="\n")
    writer.writeheader()
    writer.writerows([{"a": "@x", "=b": NEGATIVE}, {"a": "ok"}])
    assert buffer.getvalue() == "a,'=b\n'@x,-0.5\nok,\n"
    with pytest.raises(ValueError, match="not in fieldnames"):
        writer.writerow({"c": 1})


# -- every CSV path, on a store holding payloads ---------------------------------------------------
@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("payloads")
    rows = [{"id": f"p{i}", "q": p, "a": [p]} for i, p in enumerate(PAYLOADS)]
    (folder / "payloads.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (folder / "payloads.yaml").write_text(
        "name: payloads\n"
        "data: {path: payloads.jsonl}\n"
        "fields: {id: id, input: q, target: a}\n"
        "prompt: {format: generate}\n"
        "metrics: [exact_match]\n"
    )
    db = folder / "payloads.db"
    models = ["-m", "mock/oracle", "-m", "mock/random?seed=1"]
    common = ["--db", db, "--no-progress", "--suite", SUITE]
    result = run_cli("run", folder / "payloads.yaml", *models, *common)
    assert result.code == 0, result.err
    store = Store(f"sqlite:///{db}")
    try:
        with store.connect() as conn:
            conn.execute(sa.update(schema.scores).values(value=NEGATIVE))
            conn.execute(
                sa.update(schema.runs)
                .where(schema.runs.c.model == "mock/random?seed=1")
                .values(model=HOSTILE_MODEL)
            )
            conn.commit()
    finally:
        store.close()
    judged = run_cli("pairwise", "--suite", SUITE, "--benchmark", "payloads", *JUDGE, "--db", db)
    assert judged.code == 0, judged.err
    with sqlite3.connect(db) as raw:  # everything in the file: tests copy it
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


@pytest.fixture
def db(template_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "payloads.db"
    shutil.copyfile(template_db, copy)
    return copy


@pytest.fixture(scope="module")
def client(template_db: Path) -> Iterator[Any]:
    from starlette.testclient import TestClient

    from assay.web.app import create_app

    store = Store(f"sqlite:///{template_db}", readonly=True)
    try:
        with TestClient(create_app(store)) as test_client:
            yield test_client
    finally:
        store.close()


def oracle_run(db: Path) -> str:
    store = Store(f"sqlite:///{db}", readonly=True)
    try:
        with store.connect() as conn:
            query = sa.select(schema.runs.c.id).where(schema.runs.c.model == "mock/oracle")
            found: str = conn.execute(query).scalar_one()
            return found
    finally:
        store.close()


def test_the_viewers_samples_csv_quotes_payloads_and_keeps_scores_numbers(
    client: Any, template_db: Path
) -> None:
    response = client.get(f"/runs/{oracle_run(template_db)}/samples.csv")
    assert response.status_code == 200
    assert_no_formulas(response.text)
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert len(rows) == len(PAYLOADS)
    assert all(r["score"] == str(NEGATIVE) for r in rows)  # a number, not quoted text
    predictions = {csv_safety.restore(r["prediction"]) for r in rows}
    assert '=HYPERLINK("http://x","click")' in predictions and "@SUM(A1)" in predictions


@pytest.mark.parametrize("view", ["benchmarks", "groups"])
def test_the_viewers_leaderboard_csv_quotes_a_hostile_model_name(client: Any, view: str) -> None:
    response = client.get("/leaderboard.csv", params={"suite": SUITE, "view": view})
    assert response.status_code == 200
    assert_no_formulas(response.text)
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert {csv_safety.restore(r["model"]) for r in rows} == {"mock/oracle", HOSTILE_MODEL}


@pytest.mark.parametrize("table", ["pairs", "ratings"])
def test_the_viewers_pairwise_csv_quotes_a_hostile_model_name(client: Any, table: str) -> None:
    params = {"suite": SUITE, "benchmark": "payloads", "table": table}
    response = client.get("/pairwise.csv", params=params)
    assert response.status_code == 200
    assert_no_formulas(response.text)
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    columns = ["model_a", "model_b"] if table == "pairs" else ["model"]
    assert HOSTILE_MODEL in {csv_safety.restore(r[c]) for r in rows for c in columns}
    numbers = ["wins_a", "n"] if table == "pairs" else ["rank", "rating", "ci_lo"]
    assert all(number(r[c]) for r in rows for c in numbers)


@pytest.mark.parametrize("command", ["export", "leaderboard"])
def test_the_export_and_leaderboard_csv_quote_text_and_keep_negative_means(
    cli: Any, db: Path, command: str
) -> None:
    result = cli(command, "--format", "csv", "--suite", SUITE, "--db", db)
    assert result.code == 0, result.err
    assert_no_formulas(result.out)
    rows = list(csv.DictReader(io.StringIO(result.out, newline="")))
    assert {csv_safety.restore(r["model"]) for r in rows} == {"mock/oracle", HOSTILE_MODEL}
    assert all(r["payloads:mean"] == str(NEGATIVE) for r in rows)  # plain, unquoted numbers


def test_the_export_file_is_the_printed_csv(cli: Any, db: Path, tmp_path: Path) -> None:
    out = tmp_path / "board.csv"
    written = cli("export", "--format", "csv", "--suite", SUITE, "--db", db, "-o", out)
    assert written.code == 0, written.err
    assert out.read_text() == cli("export", "--format", "csv", "--suite", SUITE, "--db", db).out


def test_an_annotation_sheet_quotes_payloads_and_reads_back_exactly(
    cli: Any, db: Path, tmp_path: Path
) -> None:
    select = ["--suite", SUITE, "--rubric", "1-5", "--db", db]
    sheet, originals = tmp_path / "items.csv", tmp_path / "items.jsonl"
    for path in (sheet, originals):
        result = cli("annotate", "export", *select, "-o", path)
        assert result.code == 0, result.err
    text = sheet.read_bytes().decode()  # carriage returns inside cells as written
    assert_no_formulas(text)
    expected = [json.loads(line) for line in originals.read_text().splitlines()]
    assert {r["prompt"] for r in expected} == set(PAYLOADS)  # the JSONL holds the raw text
    assert [row for _, row in exchange._read(sheet, "csv")] == expected

    # a rater fills the sheet in a spreadsheet, which saves the quoted cells as it shows them
    raw = list(csv.DictReader(io.StringIO(text, newline="")))
    with (tmp_path / "rated.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(raw[0]))
        writer.writeheader()
        writer.writerows({**r, "rating": "4", "annotator": "ann"} for r in raw)
    result = cli("annotate", "import", tmp_path / "rated.csv", "--db", db)
    assert result.code == 0, result.err
    assert f"{len(raw)} new ratings" in result.out
