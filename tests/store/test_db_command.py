"""`assay db upgrade` and `assay db copy`: migrations on older stores, and copies between SQLite
and PostgreSQL compared row for row."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from assay.store import copy as store_copy
from assay.store import migrate, schema
from assay.store.db import Store

MODELS = ("mock/random?seed=5", "mock/oracle")


def make_store(cli: Any, db: str, data_dir: Path) -> None:
    """Real runs with mock models on real data: a suite not named default, two benchmarks."""
    for benchmark in ("mmlu:subject=anatomy", "gsm8k"):
        args = ["run", benchmark, "-n", "25", "--seed", "4", "--suite", "moving", "--db", db]
        args += ["--data-dir", str(data_dir), "--no-progress"]
        for model in MODELS:
            args += ["-m", model]
        result = cli(*args)
        assert result.code == 0, result.err


def every_row(url: str) -> dict[str, list[str]]:
    """Each assay table's rows as canonical JSON, sorted: independent of the copy's checksum."""
    store = Store(url, readonly=True)
    found: dict[str, list[str]] = {}
    try:
        with store.connect() as conn:
            for table in schema.metadata.sorted_tables:
                rows = conn.execute(sa.select(table)).all()
                found[table.name] = sorted(
                    orjson.dumps(list(r), option=orjson.OPT_SORT_KEYS).decode() for r in rows
                )
    finally:
        store.close()
    return found


def revision(url: str) -> str | None:
    store = Store(url, readonly=True)
    try:
        with store.connect() as conn:
            return migrate.current_revision(conn)
    finally:
        store.close()


def as_before_migrations(db: Path) -> None:
    """Make a SQLite store look like one an assay from before migrations wrote."""
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE runs DROP COLUMN benchmark_source")
        conn.execute("ALTER TABLE samples DROP COLUMN confidence")
        conn.execute("DROP INDEX ix_scores_run_metric_value")
        conn.execute("DROP TABLE alembic_version")
        conn.execute("DROP TABLE pairwise_judgments")  # tables added by later revisions
        conn.execute("DROP TABLE annotation_ratings")
        conn.execute("DROP TABLE annotation_items")


def columns(db: Path, table: str) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})")}


def test_a_new_store_is_made_at_the_newest_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    Store(url).close()
    assert revision(url) == migrate.HEAD == migrate.script_head()


def test_db_upgrade_adopts_a_store_from_before_migrations(
    cli: Any, tmp_path: Path, data_dir: Path
) -> None:
    db = tmp_path / "old.db"
    make_store(cli, str(db), data_dir)
    before = every_row(f"sqlite:///{db}")
    as_before_migrations(db)
    board = cli("leaderboard", "--suite", "moving", "--db", db)  # a reader: reads it as it is
    assert board.code == 0 and "mock/oracle" in board.out
    assert "benchmark_source" not in columns(db, "runs")
    result = cli("db", "upgrade", "--db", db)
    assert result.code == 0, result.err
    assert "from schema revision none" in result.out and migrate.HEAD in result.out
    assert {"benchmark_source"} <= columns(db, "runs")
    assert {"confidence"} <= columns(db, "samples")
    with sqlite3.connect(db) as conn:
        indexes = {r[1] for r in conn.execute("PRAGMA index_list(scores)")}
    assert "ix_scores_run_metric_value" in indexes
    assert revision(f"sqlite:///{db}") == migrate.HEAD
    after = every_row(f"sqlite:///{db}")
    # the upgraded columns are null where the old store had no value; every other value is kept
    assert {t: len(rows) for t, rows in after.items()} == {t: len(r) for t, r in before.items()}
    assert after["scores"] == before["scores"] and after["requests"] == before["requests"]
    again = cli("db", "upgrade", "--db", db)
    assert again.code == 0 and "up to date" in again.out


def test_a_store_from_a_newer_assay_is_refused_in_one_line(cli: Any, tmp_path: Path) -> None:
    db = tmp_path / "newer.db"
    Store(f"sqlite:///{db}").close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    result = cli("db", "upgrade", "--db", db)
    assert result.code == 2 and result.err.count("\n") == 1
    assert "newer assay" in result.err and "0099_from_the_future" in result.err
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            ("0099_from_the_future",)
        ]


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: None, "no results database"),
        (lambda p: p.write_text("not a database"), "not a SQLite database"),
        (lambda p: p.mkdir(), "is a folder"),
    ],
    ids=["missing", "text-file", "folder"],
)
def test_db_commands_refuse_what_is_not_a_store(
    cli: Any, tmp_path: Path, make: Any, words: str
) -> None:
    bad = tmp_path / "bad.db"
    make(bad)
    for args in (("db", "upgrade", "--db", bad), ("db", "copy", bad, tmp_path / "out.db")):
        result = cli(*args)
        assert result.code == 2, result.err
        assert result.err.count("\n") == 1 and words in result.err
        assert "Traceback" not in result.err
    assert not (tmp_path / "out.db").exists()


def test_copy_refuses_another_applications_database_and_itself(
    cli: Any, tmp_path: Path, data_dir: Path
) -> None:
    src = tmp_path / "src.db"
    make_store(cli, str(src), data_dir)
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    for dst in (foreign, src):
        result = cli("db", "copy", src, dst)
        assert result.code == 2 and result.err.count("\n") == 1, result.err
    with sqlite3.connect(foreign) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"notes"}


def test_copy_refuses_a_destination_with_results_unless_replace(
    cli: Any, tmp_path: Path, data_dir: Path
) -> None:
    src, dst = tmp_path / "src.db", tmp_path / "dst.db"
    make_store(cli, str(src), data_dir)
    other = cli(
        "run", "mmlu:subject=astronomy", "-m", "mock/constant?text=B", "-n", "5",
        "--db", dst, "--data-dir", data_dir, "--no-progress",
    )  # fmt: skip
    assert other.code == 0
    kept = every_row(f"sqlite:///{dst}")
    refused = cli("db", "copy", src, dst)
    assert refused.code == 2 and "--replace" in refused.err and refused.err.count("\n") == 1
    assert every_row(f"sqlite:///{dst}") == kept  # nothing stored lost
    replaced = cli("db", "copy", src, dst, "--replace", "--batch-size", "7")
    assert replaced.code == 0, replaced.err
    assert every_row(f"sqlite:///{dst}") == every_row(f"sqlite:///{src}")


def test_a_copy_that_differs_is_reported(
    cli: Any, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst = tmp_path / "src.db", tmp_path / "dst.db"
    make_store(cli, str(src), data_dir)
    real_upsert = store_copy.upsert

    def lossy(conn: Any, table: sa.Table, rows: list[dict[str, Any]], **kw: Any) -> None:
        if table.name == "scores":
            rows = [{**r, "value": 0.5} if i == 3 else r for i, r in enumerate(rows)]
        real_upsert(conn, table, rows, **kw)

    monkeypatch.setattr(store_copy, "upsert", lossy)
    result = cli("db", "copy", src, dst)
    assert result.code == 2
    assert "scores:" in result.out and "MISMATCH" in result.out
    assert "differs" in result.err and "scores" in result.err
    assert result.out.count("verified") == len(schema.metadata.tables) - 1


def test_copy_streams_in_batches(cli: Any, tmp_path: Path, data_dir: Path) -> None:
    """Every batch read is at most --batch-size rows, and they cover the table once."""
    src = tmp_path / "src.db"
    make_store(cli, str(src), data_dir)
    store = Store(f"sqlite:///{src}", readonly=True)
    try:
        table = schema.samples
        batches = list(store_copy._batches(store, table, list(table.columns), 9))
    finally:
        store.close()
    assert max(len(b) for b in batches) == 9 and len(batches) >= 100 // 9
    keys = [(r["run_id"], r["sample_id"]) for b in batches for r in b]
    assert len(keys) == len(set(keys)) == 100 and keys == sorted(keys)


@pytest.mark.slow
def test_copy_sqlite_to_postgresql_and_back_row_for_row(
    cli: Any, tmp_path: Path, data_dir: Path, postgres_url: str
) -> None:
    src, back = tmp_path / "src.db", tmp_path / "back.db"
    make_store(cli, str(src), data_dir)
    to_pg = cli("db", "copy", src, postgres_url, "--batch-size", "11")
    assert to_pg.code == 0, to_pg.err
    lines = to_pg.out.splitlines()
    tables = [line.split(":")[0] for line in lines if ", checksum " in line]
    assert sorted(tables) == sorted(schema.metadata.tables)
    assert all(line.endswith("verified") and "MISMATCH" not in line for line in lines)
    original = every_row(f"sqlite:///{src}")
    assert sum(len(rows) for rows in original.values()) > 400
    assert every_row(postgres_url) == original
    assert revision(postgres_url) == migrate.HEAD
    to_sqlite = cli("db", "copy", postgres_url, back)
    assert to_sqlite.code == 0, to_sqlite.err
    assert every_row(f"sqlite:///{back}") == original
    board = cli("leaderboard", "--suite", "moving", "--db", postgres_url, "--format", "json")
    board_src = cli("leaderboard", "--suite", "moving", "--db", src, "--format", "json")
    assert board.code == 0 and board.out == board_src.out


@pytest.mark.slow
def test_db_upgrade_adopts_an_older_postgresql_store(postgres_url: str, cli: Any) -> None:
    Store(postgres_url).close()
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE runs DROP COLUMN benchmark_source"))
        conn.execute(sa.text("DROP TABLE alembic_version"))
    result = cli("db", "upgrade", "--db", postgres_url)
    assert result.code == 0, result.err
    with engine.connect() as conn:
        found = {c["name"] for c in sa.inspect(conn).get_columns("runs")}
    engine.dispose()
    assert "benchmark_source" in found
    assert revision(postgres_url) == migrate.HEAD


def schema_drift(url: str) -> list[Any]:
    """Differences between the migrated store and `schema.metadata`, as Alembic sees them."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    Store(url).close()
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return [
                d
                for d in compare_metadata(context, schema.metadata)
                if not (d[0] == "remove_table" and d[1].name == "alembic_version")
            ]
    finally:
        engine.dispose()


def test_the_migrations_build_exactly_the_declared_schema(tmp_path: Path) -> None:
    """A change to schema.py without a migration (or the reverse) fails here."""
    assert schema_drift(f"sqlite:///{tmp_path / 'fresh.db'}") == []


@pytest.mark.slow
def test_the_migrations_build_exactly_the_declared_schema_on_postgresql(
    postgres_url: str,
) -> None:
    assert schema_drift(postgres_url) == []


def test_a_batch_size_out_of_range_is_one_line(cli: Any, tmp_path: Path) -> None:
    src = tmp_path / "src.db"
    Store(f"sqlite:///{src}").close()
    result = cli("db", "copy", src, tmp_path / "dst.db", "--batch-size", "0")
    assert result.code == 2 and result.err.count("\n") == 1 and "--batch-size" in result.err
    assert not (tmp_path / "dst.db").exists()


def test_copy_to_an_unreachable_server_is_one_line(cli: Any, tmp_path: Path) -> None:
    src = tmp_path / "src.db"
    Store(f"sqlite:///{src}").close()
    result = cli("db", "copy", src, "postgresql://nobody@127.0.0.1:1/assay")
    assert result.code == 2 and result.err.count("\n") == 1 and "cannot connect" in result.err


def test_a_store_from_before_migrations_copies_as_it_is(
    cli: Any, tmp_path: Path, data_dir: Path
) -> None:
    src, dst = tmp_path / "old.db", tmp_path / "new.db"
    make_store(cli, str(src), data_dir)
    as_before_migrations(src)
    result = cli("db", "copy", src, dst)
    assert result.code == 0, result.err
    assert "benchmark_source" not in columns(src, "runs")  # SRC is only read
    assert revision(f"sqlite:///{dst}") == migrate.HEAD
    with sqlite3.connect(dst) as conn:
        unknown = "SELECT count(*) FROM runs WHERE benchmark_source IS NULL"
        assert conn.execute(unknown).fetchone() == (len(MODELS) * 2,)
        copied = conn.execute("SELECT count(*) FROM samples").fetchone()[0]
    assert copied == 100
