"""The viewer's index-driven query paths give exactly what a plain reading of the samples gives:
sorted lists with samples lacking a key (their last pages, both directions), score ranges,
histograms and the latest samples, on SQLite and PostgreSQL.

The store is written straight into the tables: runs in suite `lab` whose samples are spread
over a large dataset (positions 5, 42, 79, ...), with ids in another order than positions,
numeric metadata, tied scores and scores on the histogram's bin edges. In run `errors` every
sample without a score or latency is an error (the common case the viewer reads from the
status index); in run `mixed` some answered samples lack them too (it reads every sample).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event

from assay.store import browse, schema
from assay.store.db import Store

N = 230
VALUES = (0.0, 0.1, 0.2, 0.3, 0.5, 0.5, 0.7, 0.9, 1.0, 0.3, 0.6, 0.8)


@dataclass
class Row:
    sample_id: str
    idx: int
    status: str
    score: float | None
    latency: float | None
    updated_at: float


def rows_of(run: str) -> list[Row]:
    out = []
    for i in range(N):
        status = "error" if i % 17 == 3 else "unparsed" if i % 11 == 0 else "ok"
        score: float | None = None if status == "error" else VALUES[i % len(VALUES)]
        latency: float | None = None if status == "error" and i % 2 else 0.25 + (i * 37) % 50
        if run == "mixed" and i % 23 == 5:  # answered, yet no score and no latency
            score = latency = None
        sample_id = f"item-{(i * 7919) % 1000:04d}"
        out.append(Row(sample_id, 5 + 37 * i, status, score, latency, 1000.0 + (i * 53) % N))
    return out


def write(store: Store) -> None:
    with store.begin() as conn:
        conn.execute(schema.suites.insert(), [{"name": "lab", "created_at": 0.0}])
        for run in ("errors", "mixed"):
            conn.execute(
                schema.runs.insert(),
                [
                    {
                        "id": run,
                        "benchmark": "spread",
                        "benchmark_name": "spread",
                        "benchmark_version": "1",
                        "model": f"mock/{run}",
                        "spec": {},
                        "groups": [],
                        "main_metric": "accuracy",
                        "higher_is_better": True,
                        "assay_version": "test",
                        "status": "finished",
                        "n_samples": N,
                        "created_at": 0.0,
                        "finished_at": 1.0,
                    }
                ],
            )
            conn.execute(
                schema.suite_runs.insert(), [{"suite": "lab", "run_id": run, "added_at": 0.0}]
            )
            rows = rows_of(run)
            conn.execute(
                schema.samples.insert(),
                [
                    {
                        "run_id": run,
                        "sample_id": r.sample_id,
                        "idx": r.idx,
                        "input": f"question {r.idx}",
                        "references": ["x"],
                        "metadata": {"level": r.idx % 3, "weight": r.idx / 10},
                        "split": "test",
                        "status": r.status,
                        "prediction": None if r.status == "error" else "x",
                        "updated_at": r.updated_at,
                    }
                    for r in rows
                ],
            )
            conn.execute(
                schema.requests.insert(),
                [
                    {
                        "run_id": run,
                        "sample_id": r.sample_id,
                        "idx": 0,
                        "cache_key": f"{run}{r.idx}",
                        "request": {"prompt": "q"},
                        "text": None if r.status == "error" else "x",
                        "latency_s": r.latency,
                        "output_tokens": None if r.latency is None else r.idx % 7,
                        "cached": False,
                        "attempts": 1,
                        "created_at": 0.0,
                    }
                    for r in rows
                ],
            )
            conn.execute(
                schema.scores.insert(),
                [
                    {"run_id": run, "sample_id": r.sample_id, "metric": m, "value": v}
                    for r in rows
                    if r.score is not None
                    # another metric with a score for every sample must not hide the missing
                    for m, v in (("accuracy", r.score), ("other", 1.0))
                ],
            )


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]
)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('browse') / 'spread.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database("browse_paths")
    writer = Store(url)
    write(writer)
    writer.close()
    store = Store(url, readonly=True)
    yield store
    store.close()


def run_of(store: Store, run_id: str) -> dict[str, Any]:
    found = browse.run_row(store, run_id)
    assert found is not None
    return found


def every_page(store: Store, run: dict[str, Any], sq: browse.SampleQuery) -> list[str]:
    got: list[str] = []
    for page in range(1, 100):
        listed = browse.sample_page(store, run, sq.with_(page=page, per_page=10))
        got += [r["sample_id"] for r in listed.rows]
        if not listed.has_next:
            return got
    raise AssertionError("the pager never ends")


def expected(rows: list[Row], key: str, desc: bool, keep: Any = None) -> list[str]:
    """Sorted by the key then sample id; samples without the key last, by position; desc
    reverses both parts (the viewer's documented order)."""
    chosen = [r for r in rows if keep is None or keep(r)]
    value = {"score": lambda r: r.score, "latency": lambda r: r.latency}[key]
    keyed = sorted(
        (r for r in chosen if value(r) is not None), key=lambda r: (value(r), r.sample_id)
    )
    missing = sorted((r for r in chosen if value(r) is None), key=lambda r: r.idx)
    order = keyed[::-1] + missing[::-1] if desc else keyed + missing
    return [r.sample_id for r in order]


class Statements:
    """The SQL statements a block runs."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.seen: list[str] = []
        self.parameters: list[Any] = []

    def __enter__(self) -> list[str]:
        event.listen(self.store.engine, "before_cursor_execute", self._record)
        return self.seen

    def __exit__(self, *exc: object) -> None:
        event.remove(self.store.engine, "before_cursor_execute", self._record)

    def _record(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        self.seen.append(" ".join(statement.split()))
        self.parameters.append(parameters)


@pytest.mark.parametrize("run_id", ["errors", "mixed"])
@pytest.mark.parametrize("key", ["score", "latency"])
@pytest.mark.parametrize("desc", [False, True])
def test_sorted_lists_page_through_every_sample_with_the_keyless_last(
    store: Store, run_id: str, key: str, desc: bool
) -> None:
    run = run_of(store, run_id)
    got = every_page(store, run, browse.SampleQuery(sort=key, desc=desc))
    assert got == expected(rows_of(run_id), key, desc)
    # the last pages straight away, as a link to them opens them (no earlier page read first)
    for page in (23, 22, 21):
        listed = browse.sample_page(
            store, run, browse.SampleQuery(sort=key, desc=desc, page=page, per_page=10)
        )
        assert [r["sample_id"] for r in listed.rows] == got[(page - 1) * 10 : page * 10]
    assert not browse.sample_page(
        store, run, browse.SampleQuery(sort=key, page=24, per_page=10)
    ).rows


@pytest.mark.parametrize("run_id", ["errors", "mixed"])
@pytest.mark.parametrize("key", ["score", "latency", "tokens"])
@pytest.mark.parametrize("desc", [False, True])
def test_sorted_lists_read_from_their_end_by_a_stored_count_give_the_same_pages(
    store: Store, run_id: str, key: str, desc: bool
) -> None:
    """A stopped run's count of samples with a key (store.run_stats) lets a deep page of an
    unfiltered sorted list be read backwards: every page, each opened straight away, is the
    page read forwards."""
    run = run_of(store, run_id)
    with store.connect() as conn:
        stats = browse.count_run_stats(conn, run_id, "accuracy")
    # output tokens are written where a latency is (see write)
    has_key = [(r.score if key == "score" else r.latency) is not None for r in rows_of(run_id)]
    assert stats.keyed[key] == sum(has_key) < N
    forwards = every_page(store, run, browse.SampleQuery(sort=key, desc=desc))
    assert len(forwards) == N
    if key != "tokens":
        assert forwards == expected(rows_of(run_id), key, desc)
    for page in range(1, 25):
        sq = browse.SampleQuery(sort=key, desc=desc, page=page, per_page=10)
        listed = browse.sample_page(store, run, sq, size=N, keyed=stats.keyed)
        assert [r["sample_id"] for r in listed.rows] == forwards[(page - 1) * 10 : page * 10]
        assert listed.has_next == (page * 10 < N)


@pytest.mark.parametrize("key", ["score", "latency"])
def test_filtered_sorted_lists_end_with_their_keyless_matches(store: Store, key: str) -> None:
    for run_id in ("errors", "mixed"):
        run = run_of(store, run_id)
        rows = rows_of(run_id)
        for status in ("ok", "error", "unparsed"):
            got = every_page(store, run, browse.SampleQuery(sort=key, status=status))
            assert got == expected(rows, key, False, lambda r, s=status: r.status == s)
        got = every_page(store, run, browse.SampleQuery(sort="latency", outcome="incorrect"))
        wrong = {r.sample_id for r in rows if r.score is not None and r.score < 0.5}
        assert got == [k for k in expected(rows, "latency", False) if k in wrong]


def test_the_tail_of_errors_is_read_from_the_status_index_only_when_it_holds_them_all(
    store: Store,
) -> None:
    last = browse.SampleQuery(sort="score", page=23, per_page=10)
    for run_id, narrow in (("errors", True), ("mixed", False)):
        with Statements(store) as seen:
            browse.sample_page(store, run_of(store, run_id), last)
        tails = [s for s in seen if "NOT (EXISTS" in s and "ORDER BY samples.idx" in s]
        assert len(tails) == 1
        assert ("samples.status =" in tails[0]) is narrow


@pytest.mark.parametrize("bounds", [(0.5, 1.0), (0.3, 0.3), (None, 0.2), (0.7, None), (0.95, 0.99)])
@pytest.mark.parametrize("sort", ["idx", "score"])
def test_score_ranges_page_through_exactly_their_matches(
    store: Store, bounds: tuple[float | None, float | None], sort: str
) -> None:
    lo, hi = bounds
    for run_id in ("errors", "mixed"):
        rows = rows_of(run_id)

        def keep(r: Row) -> bool:
            return (
                r.score is not None
                and (lo is None or r.score >= lo)
                and (hi is None or r.score <= hi)
            )

        sq = browse.SampleQuery(score_min=lo, score_max=hi, sort=sort)
        got = every_page(store, run_of(store, run_id), sq)
        if sort == "score":
            assert got == expected(rows, "score", False, keep)
        else:
            assert got == [r.sample_id for r in sorted(rows, key=lambda r: r.idx) if keep(r)]
        page = browse.sample_page(store, run_of(store, run_id), sq.with_(page=2, per_page=10))
        assert page.total == len(got)


def test_histogram_bins_every_score_once(store: Store) -> None:
    for run_id in ("errors", "mixed"):
        bins = browse.score_histogram(store, run_id, "accuracy")
        scores = [r.score for r in rows_of(run_id) if r.score is not None]
        assert [round(lo, 6) for lo, _, _ in bins] == [round(b / 10, 6) for b in range(10)]
        want = [0] * 10
        for v in scores:
            want[next(b for b in range(9, -1, -1) if v >= bins[b][0])] += 1
        assert [n for _, _, n in bins] == want and sum(want) == len(scores)
    assert browse.score_histogram(store, "errors", "no such metric") == []


def test_progress_lists_the_latest_samples(store: Store) -> None:
    progress = browse.progress(store, "errors", latest=7)
    assert progress is not None
    latest = sorted(rows_of("errors"), key=lambda r: -r.updated_at)[:7]
    assert [r["sample_id"] for r in progress["recent"]] == [r.sample_id for r in latest]
    assert progress["done"] == N
    assert progress["errors"] == sum(r.status == "error" for r in rows_of("errors"))


def test_the_tail_query_uses_the_status_index_on_sqlite(store: Store) -> None:
    if store.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    statements = Statements(store)
    with statements as seen:
        browse.sample_page(
            store, run_of(store, "errors"), browse.SampleQuery(sort="score", page=23, per_page=10)
        )
    at = next(i for i, s in enumerate(seen) if "NOT (EXISTS" in s and "samples.status =" in s)
    with store.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + seen[at], statements.parameters[at])
        text = " ".join(str(row[-1]) for row in plan.all())
    assert "ix_samples_run_status_idx" in text and "TEMP B-TREE" not in text


def plans(store: Store, call: Any) -> list[tuple[str, str]]:
    """(statement, SQLite's plan for it) for every statement `call` runs."""
    statements = Statements(store)
    with statements as seen:
        call()
    out = []
    with store.connect() as conn:
        for statement, parameters in zip(seen, statements.parameters, strict=True):
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            out.append((statement, " ".join(str(row[-1]) for row in plan.all())))
    return out


def test_a_sample_and_the_tokens_sort_read_their_own_index_entries_on_sqlite(
    store: Store,
) -> None:
    if store.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    run = run_of(store, "errors")
    # a sample's scores by their key, not the run's (run, metric, value) index
    for statement, plan in plans(store, lambda: browse.sample_detail(store, "errors", "item-0000")):
        assert "ix_scores_run_metric_value" not in plan, statement
    listed = plans(store, lambda: browse.sample_page(store, run, browse.SampleQuery(sort="tokens")))
    main = next(p for s, p in listed if "ORDER BY requests.output_tokens" in s)
    assert "ix_requests_run_tokens" in main and "TEMP B-TREE" not in main


@pytest.mark.parametrize("window_size", [50, 46, 230, 229])
def test_search_and_metadata_blocks_cover_the_runs_samples_once(
    store: Store, window_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks of the run's own samples (positions 5, 42, 79, ...): each block's ranks and
    positions, and its matches, as a plain reading of the samples gives them; the blocks
    together find every match once, the last block ends at the run's last sample."""
    monkeypatch.setattr(browse, "SEARCH_WINDOW", window_size)
    run = run_of(store, "errors")
    by_position = sorted(rows_of("errors"), key=lambda r: r.idx)
    for query, keep in (
        (browse.SampleQuery(q="question 1"), lambda r: f"question {r.idx}".find("question 1") >= 0),
        (browse.SampleQuery(meta_key="level", meta_value="2"), lambda r: r.idx % 3 == 2),
    ):
        found: list[str] = []
        for window in range(0, N // window_size + 2):
            page = browse.sample_page(store, run, query.with_(window=window, per_page=1000))
            block = by_position[window * window_size : (window + 1) * window_size]
            if not block:
                assert page.rows == [] and page.positions is None
                continue
            assert page.window == (window * window_size, window * window_size + len(block))
            assert page.positions == (block[0].idx, block[-1].idx)
            assert page.window_more == ((window + 1) * window_size < N)
            want = [r.sample_id for r in block if keep(r)]
            assert [r["sample_id"] for r in page.rows] == want
            found += want
        assert found == [r.sample_id for r in by_position if keep(r)]
