"""The same end-to-end scenarios on PostgreSQL as on SQLite, against a real server.

One set of runs is written to a SQLite file and to a PostgreSQL database through the CLI; every
reading command (leaderboard in each format, compare, export) must then print the same thing
from both, and the stored scores must be identical. Resume after a kill, cache replay, error
messages and read-only opening are checked on PostgreSQL itself.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.postgres import PostgresServer, free_port

from assay.cli import main
from assay.errors import UserError
from assay.store import schema
from assay.store.db import Store, upsert

MODELS = ["mock/oracle", "mock/constant?text=A", "mock/random?seed=1", "mock/flaky?fail_rate=0.2"]


def run_cli(*args: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def select(url: str, query: Any) -> list[Any]:
    store = Store(url, readonly=True)
    try:
        with store.connect() as conn:
            return [tuple(r) for r in conn.execute(query)]
    finally:
        store.close()


def is_timing(key: str) -> bool:
    return key.startswith("latency") or key.endswith("_per_s")


def without_timing(value: Any) -> Any:
    """Wall-clock figures differ between any two runs; everything else must not."""
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if not is_timing(k)}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value


def comparable(output: str, args: list[str]) -> Any:
    """A command's output with timing left out (latency columns, and the widths they set)."""
    fmt = args[args.index("--format") + 1] if "--format" in args else "table"
    if fmt == "json":
        return without_timing(json.loads(output))
    if fmt == "csv":
        return [without_timing(row) for row in csv.DictReader(io.StringIO(output))]
    masked = re.sub(r"\b\d[\d.e+-]*s\b", "<seconds>", output)
    if fmt == "table":  # the latency column's width can move where rich wraps other cells
        return sorted(re.sub(r"[┃│┏┓┗┛┡┩└┘┳┻╇┴━─]", " ", masked).split())
    return masked


def summaries(url: str) -> dict[str, dict[str, Any]]:
    """Each run's summary by run id (a hash of its spec: the same in every store)."""
    r = schema.runs
    out = {}
    for run_id, summary, status in select(url, sa.select(r.c.id, r.c.summary, r.c.status)):
        assert status == "finished"
        out[run_id] = without_timing(summary)
    return out


@pytest.fixture(scope="module")
def both(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> dict[str, str]:
    """The same runs in a SQLite file and in a PostgreSQL database."""
    urls = {
        "sqlite": f"sqlite:///{tmp_path_factory.mktemp('both') / 'same.db'}",
        "postgresql": postgres_server.create_database("same_runs"),
    }
    models = [arg for m in MODELS for arg in ("-m", m)]
    for url in urls.values():
        code, _, err = run_cli(
            "run", "mmlu", "gsm8k", *models, "--limit", "100", "--db", url,
            "--data-dir", data_dir, "--no-progress", "--suite", "demo", "--retry-delay", "0.001",
        )  # fmt: skip
        assert code == 0, err
    return urls


@pytest.mark.slow
def test_runs_store_the_same_results(both: dict[str, str]) -> None:
    pg, lite = summaries(both["postgresql"]), summaries(both["sqlite"])
    assert len(pg) == 8 and pg == lite
    errors = [s["errors_by_kind"].get("server", 0) for s in pg.values()]
    assert sum(errors) > 0 and sum(s["n_errors"] for s in pg.values()) == sum(errors)
    sc, rq, s = schema.scores, schema.requests, schema.samples
    for query in (
        sa.select(sc.c.run_id, sc.c.sample_id, sc.c.metric, sc.c.value),
        sa.select(rq.c.run_id, rq.c.sample_id, rq.c.request, rq.c.text, rq.c.error, rq.c.cached),
        sa.select(s.c.run_id, s.c.sample_id, s.c.idx, s.c.input, s.c.status, s.c.metadata),
    ):
        rows = [json.dumps(r, sort_keys=True) for r in select(both["postgresql"], query)]
        same = [json.dumps(r, sort_keys=True) for r in select(both["sqlite"], query)]
        assert rows and sorted(rows) == sorted(same)
    cached = select(both["postgresql"], sa.select(rq.c.cached).distinct())
    assert cached == [(False,)]  # a real boolean, not 0


READERS = [
    *(["leaderboard", "--suite", "demo", "--format", f] for f in ("table", "markdown", "csv")),
    ["leaderboard", "--suite", "demo", "--format", "json"],
    ["leaderboard", "--suite", "demo", "--format", "latex", "--view", "groups"],
    ["leaderboard", "--suite", "demo", "--benchmark", "gsm8k"],
    ["compare", "mock/oracle", "mock/random?seed=1", "--suite", "demo"],
    ["compare", *MODELS, "--suite", "demo", "--format", "json"],
    ["export", "--suite", "demo", "--format", "json"],
    ["export", "--suite", "demo", "--format", "csv"],
]


@pytest.mark.slow
@pytest.mark.parametrize("args", READERS, ids=lambda a: "-".join(a[:1] + a[3:5]))
def test_reading_commands_print_the_same(both: dict[str, str], args: list[str]) -> None:
    code, pg, err = run_cli(*args, "--db", both["postgresql"])
    assert code == 0, err
    assert "mock/oracle" in pg
    assert comparable(run_cli(*args, "--db", both["sqlite"])[1], args) == comparable(pg, args)


@pytest.mark.slow
def test_unknown_suite_is_one_line(both: dict[str, str]) -> None:
    code, _, err = run_cli("leaderboard", "--suite", "nope", "--db", both["postgresql"])
    assert code == 2 and err.count("\n") == 1 and "demo" in err
    assert "postgres@" in err and "nope" in err


@pytest.mark.slow
def test_killed_run_resumes_without_loss_or_duplicates(postgres_url: str, data_dir: Path) -> None:
    command = [
        sys.executable, "-m", "assay", "run", "mmlu",
        "--model", "mock/oracle?latency=0.02&concurrency=2", "--limit", "400",
        "--db", postgres_url, "--data-dir", str(data_dir), "--no-progress",
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s = schema.samples
    count = sa.select(sa.func.count()).select_from(s)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        with contextlib.suppress(UserError, sa.exc.DBAPIError):
            if select(postgres_url, count)[0][0] >= 60:
                break
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    killed_at = select(postgres_url, count)[0][0]
    assert 60 <= killed_at < 400
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert f"resumed {killed_at} done" in finished.stdout
    ids = [r[0] for r in select(postgres_url, sa.select(s.c.sample_id))]
    assert len(ids) == len(set(ids)) == 400
    sc = schema.scores
    per_sample = select(
        postgres_url, sa.select(sc.c.sample_id, sa.func.count()).group_by(sc.c.sample_id)
    )
    assert len(per_sample) == 400 and {n for _, n in per_sample} == {1}
    r = schema.runs
    ((status, summary),) = select(postgres_url, sa.select(r.c.status, r.c.summary))
    assert status == "finished" and summary["metrics"]["exact_match"]["n"] == 400


@pytest.mark.slow
def test_rerun_replays_the_cache_and_reproduces_scores(postgres_url: str, data_dir: Path) -> None:
    args = [
        "run", "mmlu", "gsm8k", "-m", "mock/random?seed=3", "--limit", "50",
        "--db", postgres_url, "--data-dir", data_dir, "--no-progress",
    ]  # fmt: skip
    assert run_cli(*args, "--limit", "20")[0] == 0  # a smaller, nested run first
    assert run_cli(*args, "--suite", "first")[0] == 0
    first = summaries(postgres_url)
    code, out, _ = run_cli(*args, "--suite", "second")
    assert code == 0 and out.count("resumed 50 done") == 2
    store = Store(postgres_url)
    with store.begin() as conn:
        for table in (schema.scores, schema.requests, schema.samples):
            conn.execute(table.delete())
    store.close()
    assert run_cli(*args)[0] == 0
    rq = schema.requests
    cached = sa.select(sa.func.count()).where(rq.c.cached.is_(True))
    assert select(postgres_url, cached) == [(100,)]
    again = summaries(postgres_url)
    rerun = [key for key, summary in first.items() if summary["n_samples"] == 50]
    assert len(rerun) == 2
    for key in rerun:
        assert again[key]["metrics"] == first[key]["metrics"]
        assert again[key]["cache_hits"] == 50


@pytest.mark.slow
def test_nul_characters_are_stored_as_replacement_characters(
    postgres_url: str, tmp_path: Path
) -> None:
    """PostgreSQL refuses NUL in text and jsonb; a model may still answer with one."""
    answers = {"nul": ["x\x00y"], "literal": ["the text \\u0000 stays"], "plain": ["ok"]}
    rows = [{"id": k, "q": f"say {k}", "a": v} for k, v in answers.items()]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (tmp_path / "nul.yaml").write_text(
        "name: nul\ndata: {path: d.jsonl}\nfields: {id: id, input: q, target: a}\n"
        "prompt: {format: generate}\nmetrics: [exact_match]\n"
    )
    code, _, err = run_cli("run", tmp_path / "nul.yaml", "-m", "mock/oracle", "--db", postgres_url)
    assert code == 0, err
    rq, s = schema.requests, schema.samples
    texts = dict(select(postgres_url, sa.select(rq.c.sample_id, rq.c.text)))
    assert texts == {"nul": "x\ufffdy", "literal": "the text \\u0000 stays", "plain": "ok"}
    references = dict(select(postgres_url, sa.select(s.c.sample_id, s.c.references)))
    assert references["nul"] == ["x\ufffdy"] and references["literal"] == answers["literal"]


@pytest.mark.slow
def test_upsert_replaces_or_keeps_rows(postgres_url: str) -> None:
    store = Store(postgres_url)
    c = schema.cache
    row = {"key": "k", "model": "m", "response": {"text": "one"}, "created_at": 1.0}
    with store.begin() as conn:
        upsert(conn, c, [row])
        upsert(conn, c, [{**row, "response": {"text": "two"}}], update=False)
    assert select(postgres_url, sa.select(c.c.response)) == [({"text": "one"},)]
    with store.begin() as conn:
        upsert(conn, c, [{**row, "response": {"text": "three"}}])
    assert select(postgres_url, sa.select(c.c.response)) == [({"text": "three"},)]
    store.close()


@pytest.mark.slow
def test_foreign_keys_are_enforced(postgres_url: str) -> None:
    """PostgreSQL checks what SQLite ignores: a score needs its sample."""
    store = Store(postgres_url)
    with pytest.raises(sa.exc.IntegrityError), store.begin() as conn:
        upsert(conn, schema.scores, [{"run_id": "r", "sample_id": "s", "metric": "m", "value": 1}])
    store.close()


@pytest.mark.slow
def test_read_only_store_refuses_writes(postgres_url: str) -> None:
    Store(postgres_url).close()
    store = Store(postgres_url, readonly=True)
    with pytest.raises(sa.exc.InternalError, match="read-only"), store.begin() as conn:
        conn.execute(schema.suites.insert().values(name="x", created_at=0.0))
    store.close()


@pytest.mark.slow
def test_reading_an_empty_database_is_one_line(postgres_url: str) -> None:
    code, _, err = run_cli("leaderboard", "--db", postgres_url)
    assert code == 2 and err.count("\n") == 1 and "no assay results" in err


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        ["run", "gsm8k", "-m", "mock/oracle", "--limit", "2", "--data-dir"],
        ["db", "upgrade"],
        ["serve"],
    ],
    ids=["run", "db-upgrade", "serve"],
)
def test_another_applications_database_is_refused_untouched(
    postgres_url: str, data_dir: Path, command: list[str]
) -> None:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE customers (id integer primary key, name text)"))
        conn.execute(sa.text("INSERT INTO customers VALUES (1, 'Ada')"))
    if command[-1] == "--data-dir":
        command = [*command, str(data_dir)]
    code, _, err = run_cli(*command, "--db", postgres_url)
    assert code == 2 and err.count("\n") == 1, err
    assert "another application's tables (customers)" in err, err
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == ["customers"]
        assert conn.execute(sa.text("SELECT name FROM customers")).scalar_one() == "Ada"
    engine.dispose()


@pytest.mark.slow
def test_a_table_added_beside_an_assay_store_is_left_alone(postgres_url: str) -> None:
    Store(postgres_url).close()
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE notes (id integer primary key)"))
    engine.dispose()
    Store(postgres_url).close()  # still assay's store: its marker row says so


@pytest.mark.slow
def test_wrong_password_and_missing_database(postgres_server: PostgresServer) -> None:
    postgres_server.create_role(PostgresServer.PASSWORD_USER, "right")
    url = postgres_server.url("postgres")
    wrong = url.replace("postgres@", f"{PostgresServer.PASSWORD_USER}:wrong@")
    code, _, err = run_cli("leaderboard", "--db", wrong)
    assert code == 2 and err.count("\n") == 1, err
    assert "password authentication failed" in err and "wrong" not in err.replace("wrong@", "")
    assert ":wrong@" not in err and "***" in err  # the password is never printed
    right = url.replace("postgres@", f"{PostgresServer.PASSWORD_USER}:right@")
    with pytest.raises(UserError, match="no assay results"):  # past the password check
        Store(right, readonly=True)
    code, _, err = run_cli("leaderboard", "--db", url.rsplit("/", 1)[0] + "/nosuchdb")
    assert code == 2 and err.count("\n") == 1 and 'database "nosuchdb" does not exist' in err


@pytest.mark.parametrize("command", [["run", "gsm8k", "-m", "mock/oracle"], ["leaderboard"]])
def test_unreachable_server_is_one_line(command: list[str]) -> None:
    url = f"postgresql+psycopg://someone@127.0.0.1:{free_port()}/results"
    code, _, err = run_cli(*command, "--db", url)
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("assay: error: cannot connect to") and "Connection refused" in err
    assert "Traceback" not in err


def test_plain_postgresql_url_means_psycopg() -> None:
    pytest.importorskip("psycopg", reason="needs assay[postgres]")
    url = f"postgresql://someone@127.0.0.1:{free_port()}/results"
    with pytest.raises(UserError, match=r"cannot connect to .*postgresql\+psycopg://"):
        Store(url)


def test_missing_psycopg_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "psycopg" or m.startswith("psycopg.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now fails
    code, _, err = run_cli("leaderboard", "--db", "postgresql+psycopg://u@127.0.0.1:1/db")
    assert code == 2 and err.count("\n") == 1
    assert "pip install 'assay[postgres]'" in err


TABLES = ("scores", "requests")


@pytest.fixture
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.mark.parametrize(
    "old_store", ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)], indirect=True
)
def test_opening_an_older_store_adds_the_new_indexes(old_store: str) -> None:
    """A store made before the viewer's indexes gets them (and loses the one they cover)."""
    store = Store(old_store)
    with store.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_scores_run_metric_value"))
        conn.execute(sa.text("DROP INDEX ix_requests_run_latency"))
        conn.execute(sa.text("DROP INDEX ix_requests_cache_key"))
        conn.execute(sa.text("CREATE INDEX ix_scores_run_metric ON scores (run_id, metric)"))
        conn.execute(sa.text("DROP TABLE alembic_version"))  # made before migrations
    store.close()

    def indexes() -> dict[str, set[str]]:
        reader = Store(old_store, readonly=True)
        with reader.connect() as conn:
            inspector = sa.inspect(conn)
            found = {t: {str(i["name"]) for i in inspector.get_indexes(t)} for t in TABLES}
        reader.close()
        return found

    assert "ix_scores_run_metric_value" not in indexes()["scores"]
    Store(old_store).close()
    found = indexes()
    assert found["scores"] == {"ix_scores_run_metric_value"}
    assert found["requests"] == {
        "ix_requests_run_latency",
        "ix_requests_cache_key",
        "ix_requests_run_tokens",
    }
    version = select(old_store, sa.select(schema.meta.c.value))
    assert version == [(str(schema.SCHEMA_VERSION),)]
