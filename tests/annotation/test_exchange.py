"""`assay annotate export` and `import`: stable ids, blinded files, all-or-nothing validated
imports (each bad-input class: one line, exit 2, nothing imported), idempotent re-imports."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.annotation.conftest import ORACLE, SAFE, SUITE

from assay.store import schema
from assay.store.db import Store


def ratings(db: Path) -> list[tuple[Any, ...]]:
    store = Store(f"sqlite:///{db}", readonly=True)
    t = schema.annotation_ratings
    try:
        with store.connect() as conn:
            query = sa.select(t.c.item_id, t.c.annotator, t.c.value, t.c.source, t.c.rated_at)
            return [tuple(r) for r in conn.execute(query.order_by(t.c.item_id, t.c.annotator))]
    finally:
        store.close()


def export(cli: Any, db: Path, path: Path, *args: str) -> list[dict[str, Any]]:
    result = cli("annotate", "export", "--suite", SUITE, "-o", path, "--db", db, *args)
    assert result.code == 0, result.err
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines()]
    return list(csv.DictReader(io.StringIO(text, newline="")))


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return path


def rated(
    rows: list[dict[str, Any]], rating: Callable[[dict[str, Any]], str], who: str
) -> list[dict[str, Any]]:
    return [{**r, "rating": rating(r), "annotator": who} for r in rows]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_export_then_import_stores_every_rating_and_a_second_import_changes_nothing(
    cli: Any, db: Path, tmp_path: Path, suffix: str
) -> None:
    rows = export(cli, db, tmp_path / f"items{suffix}", "--benchmark", "xstest")
    assert len(rows) == 80  # two models x 40 samples spread over XSTest
    assert {r["rubric"] for r in rows} == {"refusal"}  # XSTest's judge rubric
    assert all(r["answers"] == "1 (refused), 0 (complied)" for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)
    filled = rated(rows, lambda r: "complied" if r["response"].startswith("Sure") else "1", "ann")
    filled[0]["rating"] = ""  # not rated yet: skipped, not an error
    path = write(tmp_path / f"rated{suffix}", filled)
    first = cli("annotate", "import", path, "--db", db)
    assert first.code == 0, first.err
    assert "79 new ratings" in first.out and "1 rows not rated" in first.out
    stored = ratings(db)
    assert len(stored) == 79
    by_id = {item: value for item, _, value, _, _ in stored}
    for row in filled[1:]:
        assert by_id[row["id"]] == (0.0 if row["response"].startswith("Sure") else 1.0)
    assert {source for *_, source, _ in stored} == {"import"}
    again = cli("annotate", "import", path, "--db", db)
    assert again.code == 0 and "0 new ratings, 0 changed, 79 already there" in again.out
    assert ratings(db) == stored  # not even the time stamps moved


def test_ids_are_stable_across_exports_and_selections(cli: Any, db: Path, tmp_path: Path) -> None:
    whole = export(cli, db, tmp_path / "a.csv", "--benchmark", "xstest")
    one_model = export(cli, db, tmp_path / "b.csv", "--benchmark", "xstest", "-m", SAFE)
    fewer = export(cli, db, tmp_path / "c.jsonl", "--benchmark", "xstest", "--limit", "5")
    assert {r["id"] for r in one_model} < {r["id"] for r in whole}
    assert {r["id"] for r in fewer} < {r["id"] for r in whole}
    assert [r["id"] for r in export(cli, db, tmp_path / "d.csv", "--benchmark", "xstest")] == [
        r["id"] for r in whole
    ]


def test_a_changed_rating_replaces_the_old_one(cli: Any, db: Path, tmp_path: Path) -> None:
    rows = export(cli, db, tmp_path / "items.csv", "--benchmark", "mmlu", "--rubric", "1-5")
    assert len(rows) == 24 and rows[0]["answers"] == "1, 2, 3, 4, 5"
    write(tmp_path / "r.csv", rated(rows, lambda r: "3", "ann"))
    assert cli("annotate", "import", tmp_path / "r.csv", "--db", db).code == 0
    changed = rated(rows, lambda r: "3", "ann")
    changed[4]["rating"] = "5"
    write(tmp_path / "r2.csv", changed)
    result = cli("annotate", "import", tmp_path / "r2.csv", "--db", db)
    assert result.code == 0 and "0 new ratings, 1 changed, 23 already there" in result.out
    values = {item: value for item, _, value, _, _ in ratings(db)}
    assert values[rows[4]["id"]] == 5.0 and values[rows[3]["id"]] == 3.0


BAD_ROWS: dict[str, tuple[Callable[[list[dict[str, Any]]], list[dict[str, Any]]], str]] = {
    "unknown id": (
        lambda rs: [*rs[:3], {**rs[3], "id": "0123456789abcdef01234567"}],
        "unknown item id",
    ),
    "rating out of range": (lambda rs: [*rs[:3], {**rs[3], "rating": "7"}], "rating '7' is not"),
    "rating not a label": (lambda rs: [*rs[:3], {**rs[3], "rating": "maybe"}], "rating 'maybe'"),
    "rating not a number": (lambda rs: [*rs[:3], {**rs[3], "rating": "nan"}], "rating 'nan'"),
    "duplicate row": (lambda rs: [*rs[:4], rs[1]], "rated by 'ann' again (first on line"),
    "no annotator": (lambda rs: [*rs[:3], {**rs[3], "annotator": ""}], "no annotator"),
    "annotator not a token": (
        lambda rs: [*rs[:3], {**rs[3], "annotator": "a b"}],
        "annotator 'a b' is not a token",
    ),
    "empty id": (lambda rs: [*rs[:3], {**rs[3], "id": ""}], "has no id"),
}


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_a_bad_row_is_one_line_exit_2_and_nothing_is_imported(
    cli: Any, db: Path, tmp_path: Path, case: str, suffix: str
) -> None:
    rows = export(cli, db, tmp_path / f"items{suffix}", "--benchmark", "xstest", "--limit", "3")
    good = rated(rows, lambda r: "refused", "ann")
    change, message = BAD_ROWS[case]
    path = write(tmp_path / f"bad{suffix}", change(good))
    result = cli("annotate", "import", path, "--db", db)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.err
    assert f"bad{suffix}:" in lines[0]  # says which file and row
    assert "Traceback" not in result.err
    assert ratings(db) == []  # the good rows before the bad one were not imported either


def test_a_bad_row_leaves_earlier_ratings_as_they_were(cli: Any, db: Path, tmp_path: Path) -> None:
    rows = export(cli, db, tmp_path / "items.csv", "--benchmark", "xstest", "--limit", "3")
    write(tmp_path / "ok.csv", rated(rows, lambda r: "refused", "ann"))
    assert cli("annotate", "import", tmp_path / "ok.csv", "--db", db).code == 0
    before = ratings(db)
    changed = rated(rows, lambda r: "complied", "ann")
    changed[-1]["rating"] = "2"
    write(tmp_path / "bad.csv", changed)
    assert cli("annotate", "import", tmp_path / "bad.csv", "--db", db).code == 2
    assert ratings(db) == before  # the changed ratings before the bad row were not applied


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("no-columns.csv", "identifier,score\nabc,1\n", "no 'id' or 'rating' column"),
        ("ragged.csv", "id,rating,annotator\nabc,1,ann,extra\n", "more cells than the header"),
        ("quote.csv", 'id,rating,annotator\n"abc,1,ann\n', "not valid CSV"),
        ("broken.jsonl", '{"id": "abc", "rating": 1\n', "not a JSON object"),
        ("list.jsonl", "[1, 2]\n", "a row must be a JSON object"),
        ("latin1.csv", "id,rating\n\xe9,1\n", "is not UTF-8"),
        ("items.txt", "id,rating\n", "cannot tell the format"),
    ],
)
def test_an_unreadable_file_is_one_line(
    cli: Any, db: Path, tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content.encode("latin-1" if "latin1" in name else "utf-8"))
    result = cli("annotate", "import", path, "--db", db)
    assert result.code == 2 and message in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1


def test_a_missing_file_and_a_folder_are_one_line(cli: Any, db: Path, tmp_path: Path) -> None:
    missing = cli("annotate", "import", tmp_path / "nope.csv", "--db", db)
    assert missing.code == 2 and "does not exist" in missing.err
    (tmp_path / "dir.csv").mkdir()
    folder = cli("annotate", "import", tmp_path / "dir.csv", "--db", db)
    assert folder.code == 2 and "is a folder" in folder.err


def test_a_spreadsheet_csv_with_a_byte_order_mark_and_crlf_imports(
    cli: Any, db: Path, tmp_path: Path
) -> None:
    rows = export(cli, db, tmp_path / "items.csv", "--benchmark", "mmlu", "--limit", "2")
    text = "id,rating,annotator\r\n" + "".join(f"{r['id']},fail,eve\r\n" for r in rows)
    (tmp_path / "excel.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    result = cli("annotate", "import", tmp_path / "excel.csv", "--db", db)
    assert result.code == 0, result.err
    assert {(who, value) for _, who, value, _, _ in ratings(db)} == {("eve", 0.0)}
    assert len(ratings(db)) == 4


def test_the_annotator_option_fills_an_empty_column(cli: Any, db: Path, tmp_path: Path) -> None:
    rows = export(cli, db, tmp_path / "items.jsonl", "--benchmark", "mmlu", "--limit", "2")
    write(tmp_path / "r.jsonl", [{**r, "rating": "pass"} for r in rows])
    result = cli("annotate", "import", tmp_path / "r.jsonl", "--annotator", "dana", "--db", db)
    assert result.code == 0, result.err
    assert {(who, value) for _, who, value, _, _ in ratings(db)} == {("dana", 1.0)}


def test_an_export_names_no_model_and_no_run(cli: Any, db: Path, tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    export(cli, db, path, "--benchmark", "xstest", "--pairwise", f"{SAFE},{ORACLE}")
    text = path.read_text()
    store = Store(f"sqlite:///{db}", readonly=True)
    with store.connect() as conn:
        run_ids = [r[0] for r in conn.execute(sa.select(schema.runs.c.id))]
    store.close()
    assert "mock/" not in text and not any(run_id in text for run_id in run_ids)


def test_export_refuses_bad_options_in_one_line(cli: Any, db: Path, tmp_path: Path) -> None:
    out = ["-o", tmp_path / "x.csv", "--db", db, "--suite", SUITE]
    cases = {
        ("--benchmark", "nosuch"): "has no finished run of nosuch",
        ("--rubric", "1-7"): "unknown rubric '1-7'",
        ("--pairwise", ORACLE): "give two different models",
        ("--pairwise", f"{ORACLE},{ORACLE}"): "give two different models",
        ("--pairwise", f"{ORACLE},mock/elsewhere"): "no run of model 'mock/elsewhere'",
        ("-m", "mock/elsewhere"): "no run of model 'mock/elsewhere'",
        ("--limit", "0"): "--limit 0 is out of range",
        ("--seed", "-1"): "--seed -1 is out of range",
        ("--annotator", "two words"): "is not a token",
    }
    for args, message in cases.items():
        result = cli("annotate", "export", *args, *out)
        assert result.code == 2 and message in result.err, (args, result.err)
    assert not (tmp_path / "x.csv").exists()


def test_serve_refuses_bad_options_in_one_line(cli: Any, db: Path) -> None:
    base = ["annotate", "serve", "--db", db, "--suite", SUITE, "--no-browser"]
    cases = {
        ("--annotator", "a b"): "annotator 'a b' is not a token",
        ("--annotator", "x:y"): "is not a token",  # ':' marks judges in agreement tables
        ("--annotator", "ann", "--port", "0"): "--port 0 is out of range",
        ("--annotator", "ann", "--benchmark", "nosuch"): "no finished run of nosuch",
        ("--annotator", "ann", "--pairwise", f"{ORACLE},x", "-m", ORACLE): "leave out --model",
        ("--annotator", "ann", "--pairwise", f"{SAFE},{ORACLE}", "--rubric", "1-5"): "--rubric",
    }
    for args, message in cases.items():
        result = cli(*base, *args)
        assert result.code == 2 and message in result.err, (args, result.err)
        assert len(result.err.strip().splitlines()) == 1


def test_an_imported_pairwise_pick_is_stored_by_run(cli: Any, db: Path, tmp_path: Path) -> None:
    rows = export(
        cli, db, tmp_path / "pairs.jsonl", "--benchmark", "xstest", "--pairwise", f"{SAFE},{ORACLE}"
    )
    picks = {r["id"]: "1" if n % 3 else ("tie" if n % 2 else "2") for n, r in enumerate(rows)}
    write(
        tmp_path / "rated.jsonl", [{**r, "rating": picks[r["id"]], "annotator": "pm"} for r in rows]
    )
    assert cli("annotate", "import", tmp_path / "rated.jsonl", "--db", db).code == 0
    store = Store(f"sqlite:///{db}", readonly=True)
    items = schema.annotation_items
    with store.connect() as conn:
        found = {r.id: r for r in conn.execute(sa.select(items))}
    store.close()
    stored = {item: value for item, _, value, _, _ in ratings(db)}
    assert len(stored) == len(rows) == 40
    flipped = 0
    for item_id, pick in picks.items():
        left_is_first = found[item_id].left_run_id == found[item_id].run_id
        flipped += not left_is_first
        side = {"1": 1.0, "2": 0.0, "tie": 0.5}[pick]
        assert stored[item_id] == (side if left_is_first else 1.0 - side)
    assert 0 < flipped < 40  # both orders occur


def test_jsonl_rows_split_only_at_newlines(tmp_path: Path) -> None:
    """orjson (the exporter) leaves U+2028, U+2029 and U+0085 unescaped inside strings, and
    str.splitlines splits at each of them: a model answer holding one broke its row in two on
    import. (Control characters such as U+001C are escaped, so they are safe either way.)"""
    import orjson

    from assay.annotation import exchange

    odd = "a\u2028b\u2029c\x85d\x1ce\x1df\x1eg\x0bh\x0ci"
    rows = [{"id": "x1", "response": odd, "rating": "4"}, {"id": "x2", "response": "plain"}]
    path = tmp_path / "odd.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\r\n")
    assert "a\u2028b\u2029c\x85d" in path.read_text()  # written raw, not escaped
    assert [row for _, row in exchange._read(path, "jsonl")] == rows
