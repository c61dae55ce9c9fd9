"""Read-side queries for the web viewer: pages of samples, one sample, comparisons, progress.

Every query here is bounded by the size of the page it serves, not by the size of the store:
lists are paginated with LIMIT on an index in the page's order (see `_plan`), counts that
would need a scan of a whole run stop at `COUNT_CAP`, and full-text search and the metadata
filter scan at most `SEARCH_WINDOW` of the run's samples per request (the run's own samples in
sample order, whatever their dataset positions: a run that small is searched completely, a
larger one says which of its samples were searched and links to the next block). The SQL is
SQLAlchemy Core that runs on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store import schema
from assay.store.db import Store
from assay.store.payloads import expand, prediction_of, sample_columns

COUNT_CAP = 1_000
SEARCH_WINDOW = 10_000
META_SCAN = 200_000  # samples read for metadata value suggestions without JSON unnesting
META_PROBE = 500  # samples read for the quick, partial suggestions while the rest are read
META_VALUES = 200  # a key with more distinct values gets no suggestions (ids, free text)
SNIPPET = 240
SMALL = 5_000  # a status filter leaving at most this many samples sorts them directly
CORRECT_AT = 0.5
SORTS = ("idx", "score", "latency", "tokens", "id")
OUTCOMES = ("correct", "incorrect")
STATUSES = ("ok", "unparsed", "error")


# -- runs ----------------------------------------------------------------------------------------
def run_row(store: Store, run_id: str) -> dict[str, Any] | None:
    r = schema.runs
    with store.connect() as conn:
        row = conn.execute(sa.select(r).where(r.c.id == run_id)).mappings().first()
        if row is None:
            return None
        out = dict(row)
        p = schema.run_provenance
        out["provenance"] = conn.execute(
            sa.select(p.c.provenance).where(p.c.run_id == run_id)
        ).scalar()
        sr = schema.suite_runs
        out["suites"] = list(
            conn.execute(sa.select(sr.c.suite).where(sr.c.run_id == run_id)).scalars()
        )
    return out


def suite_run_list(
    store: Store, suite: str, *, limit: int = 200, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Every run of a suite, newest first, without the heavy JSON columns except summary."""
    r, sr = schema.runs, schema.suite_runs
    where = sr.c.suite == suite
    query = (
        sa.select(
            r.c.id,
            r.c.benchmark,
            r.c.model,
            r.c.status,
            r.c.main_metric,
            r.c.summary,
            r.c.created_at,
            r.c.started_at,
            r.c.finished_at,
            r.c.n_samples,
        )
        .join(sr, sr.c.run_id == r.c.id)
        .where(where)
        .order_by(r.c.created_at.desc(), r.c.id)
        .limit(limit)
        .offset(offset)
    )
    with store.connect() as conn:
        rows = [dict(m) for m in conn.execute(query).mappings()]
        total = conn.execute(sa.select(sa.func.count()).select_from(sr).where(where)).scalar_one()
    return rows, int(total)


def running_runs(store: Store, suite: str) -> list[dict[str, Any]]:
    r, sr = schema.runs, schema.suite_runs
    query = (
        sa.select(
            r.c.id,
            r.c.benchmark,
            r.c.model,
            r.c.started_at,
            r.c.main_metric,
            r.c.higher_is_better,
            r.c.groups,
        )
        .join(sr, sr.c.run_id == r.c.id)
        .where(sr.c.suite == suite, r.c.status == "running")
        .order_by(r.c.started_at.desc())
        .limit(100)
    )
    with store.connect() as conn:
        return [dict(m) for m in conn.execute(query).mappings()]


def benchmark_runs(store: Store, suite: str, benchmark: str) -> list[dict[str, Any]]:
    """The runs of one benchmark variant in a suite, newest first: candidates to compare."""
    r, sr = schema.runs, schema.suite_runs
    query = (
        sa.select(r.c.id, r.c.model, r.c.status, r.c.main_metric, r.c.created_at)
        .join(sr, sr.c.run_id == r.c.id)
        .where(sr.c.suite == suite, r.c.benchmark == benchmark)
        .order_by(r.c.created_at.desc())
        .limit(200)
    )
    with store.connect() as conn:
        return [dict(m) for m in conn.execute(query).mappings()]


def suite_benchmarks(store: Store, suite: str) -> list[str]:
    r, sr = schema.runs, schema.suite_runs
    query = (
        sa.select(r.c.benchmark)
        .join(sr, sr.c.run_id == r.c.id)
        .where(sr.c.suite == suite)
        .distinct()
        .order_by(r.c.benchmark)
        .limit(500)
    )
    with store.connect() as conn:
        return list(conn.execute(query).scalars())


# -- samples of a run ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SampleQuery:
    """What the samples list of a run shows: every field comes from the URL's query string."""

    outcome: str | None = None  # correct | incorrect (by the main metric)
    status: str | None = None  # ok | unparsed | error
    score_min: float | None = None
    score_max: float | None = None
    meta_key: str | None = None
    meta_value: str | None = None
    q: str | None = None  # full-text search in the sample's input and the response
    window: int = 0  # with q or meta: which block of SEARCH_WINDOW of the run's samples to scan
    sort: str = "idx"
    desc: bool = False
    page: int = 1
    per_page: int = 50

    @property
    def filtered(self) -> bool:
        return any(
            v not in (None, "")
            for v in (
                self.outcome,
                self.status,
                self.score_min,
                self.score_max,
                self.meta_value,
                self.q,
            )
        )

    @property
    def windowed(self) -> bool:
        """Search and the metadata filter scan SEARCH_WINDOW samples per request."""
        return bool(self.q) or (bool(self.meta_key) and self.meta_value not in (None, ""))

    def with_(self, **changes: Any) -> SampleQuery:
        return replace(self, **changes)


@dataclass
class SamplePage:
    rows: list[dict[str, Any]]
    total: int  # matches, at most COUNT_CAP
    capped: bool  # True when there are more than COUNT_CAP matches
    has_next: bool
    window: tuple[int, int] | None = None  # the run's samples searched: [first, last) ranks
    window_more: bool = False  # samples beyond the searched window exist
    run_size: int = 0
    positions: tuple[int, int] | None = None  # dataset positions of the searched samples
    extra: dict[str, Any] = field(default_factory=dict)


def _like(conn: Connection, column: Any, term: str) -> Any:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    if conn.dialect.name == "postgresql":
        return column.ilike(pattern, escape="\\")
    return column.like(pattern, escape="\\")  # SQLite's LIKE ignores ASCII case already


def _text(column: Any) -> Any:
    return sa.cast(column, sa.Text)


def _score_join(run_id: str, metric: str) -> Any:
    sc = schema.scores.alias("sc")
    return sc, sa.and_(
        sc.c.run_id == run_id, sc.c.sample_id == schema.samples.c.sample_id, sc.c.metric == metric
    )


@dataclass
class _Keyless:
    """The run's samples without a sort key (no score, no latency), which a sorted list puts
    last: `lacking` tests one sample, `keyed` counts the run's samples with a key from an
    index (one key row per sample). They are usually the run's errors (a failed request gets
    no score), and then the tail is read from the status index: a few probes, not one per
    sample of the run."""

    run_id: str
    lacking: Any
    keyed: Any


@dataclass
class _Plan:
    """How one samples query reads its page: `main` lists matching sample ids in the page
    order straight from an index (LIMIT/OFFSET then skip index entries, not joined rows);
    `tail`, when set, lists the matches `main` cannot hold (no score, no latency, ...) in
    sample order after them, as SQL's NULLS LAST would."""

    main: Any
    tail: Any | None
    count: Any
    keyless: _Keyless | None = None
    backwards: Any | None = None  # `main` in the opposite order (a list without a tail)


def _plan(conn: Connection, run: dict[str, Any], sq: SampleQuery) -> _Plan:
    s, sc, rq = schema.samples, schema.scores, schema.requests
    run_id, metric = run["id"], run["main_metric"]
    on_s: list[Any] = []  # the metadata filter scans a window instead (see _window_keys)
    if sq.status in STATUSES:
        on_s.append(s.c.status == sq.status)
    on_sc: list[Any] = []
    if sq.outcome in OUTCOMES:
        higher = bool(run["higher_is_better"])
        good = sc.c.value >= CORRECT_AT if higher else sc.c.value <= CORRECT_AT
        on_sc.append(good if sq.outcome == "correct" else sa.not_(good))
    if sq.score_min is not None:
        on_sc.append(sc.c.value >= sq.score_min)
    if sq.score_max is not None:
        on_sc.append(sc.c.value <= sq.score_max)

    def sample_matches(key: Any) -> list[Any]:
        if not on_s:
            return []
        return [_exists(s.c.run_id == run_id, s.c.sample_id == key, *on_s)]

    def score_matches(key: Any) -> list[Any]:
        if not on_sc:
            return []
        return [
            _exists(sc.c.run_id == run_id, sc.c.sample_id == key, sc.c.metric == metric, *on_sc)
        ]

    def ordered(*cols: Any) -> list[Any]:
        return [c.desc() if sq.desc else c.asc() for c in cols]

    by_position = ordered(s.c.idx)
    samples_where = [s.c.run_id == run_id, *on_s, *score_matches(s.c.sample_id)]
    scores_where = [
        sc.c.run_id == run_id,
        sc.c.metric == metric,
        *on_sc,
        *sample_matches(sc.c.sample_id),
    ]
    # score filters are range conditions on the scores index: count there, else on samples
    count = (
        sa.select(sa.literal(1)).where(*scores_where)
        if on_sc
        else sa.select(sa.literal(1)).where(*samples_where)
    )
    if sq.sort in ("score", "latency", "tokens") and on_s:
        # a status filter can leave few samples, which the sort index would walk past one by
        # one: when it does, sort just those (same order as below: nulls last by position)
        few = sa.select(sa.literal(1)).where(s.c.run_id == run_id, *on_s).limit(SMALL + 1)
        n = conn.execute(sa.select(sa.func.count()).select_from(few.subquery())).scalar_one()
        if int(n) <= SMALL:
            return _Plan(_sorted_few(run, sq, samples_where), None, count)
    if sq.sort == "id":
        main = sa.select(s.c.sample_id).where(*samples_where)
        back = main.order_by(*_flipped(sq.desc, s.c.sample_id))
        return _Plan(main.order_by(*ordered(s.c.sample_id)), None, count, backwards=back)
    if sq.sort == "score":
        main = (
            sa.select(sc.c.sample_id)
            .where(*scores_where)
            .order_by(*ordered(sc.c.value, sc.c.sample_id))
        )
        if on_sc:  # a score filter never matches a sample without a score
            return _Plan(main, None, count)
        unscored = ~_exists(
            sc.c.run_id == run_id, sc.c.sample_id == s.c.sample_id, sc.c.metric == metric
        )
        tail = sa.select(s.c.sample_id).where(*samples_where, unscored).order_by(*by_position)
        keyed = _keyed_rows(run_id, metric, "score")
        back = (
            sa.select(sc.c.sample_id)
            .where(*scores_where)
            .order_by(*_flipped(sq.desc, sc.c.value, sc.c.sample_id))
        )
        return _Plan(main, tail, count, _Keyless(run_id, unscored, keyed), backwards=back)
    if sq.sort in ("latency", "tokens"):
        col = rq.c.latency_s if sq.sort == "latency" else rq.c.output_tokens
        unordered = sa.select(rq.c.sample_id).where(
            rq.c.run_id == run_id,
            rq.c.idx == 0,
            col.is_not(None),
            *sample_matches(rq.c.sample_id),
            *score_matches(rq.c.sample_id),
        )
        main = unordered.order_by(*ordered(col, rq.c.sample_id))
        unmeasured = ~_exists(
            rq.c.run_id == run_id,
            rq.c.sample_id == s.c.sample_id,
            rq.c.idx == 0,
            col.is_not(None),
        )
        tail = sa.select(s.c.sample_id).where(*samples_where, unmeasured).order_by(*by_position)
        keyed = _keyed_rows(run_id, metric, sq.sort)
        back = unordered.order_by(*_flipped(sq.desc, col, rq.c.sample_id))
        return _Plan(main, tail, count, _Keyless(run_id, unmeasured, keyed), backwards=back)
    main = sa.select(s.c.sample_id).where(*samples_where)
    back = main.order_by(*_flipped(sq.desc, s.c.idx))
    return _Plan(main.order_by(*by_position), None, count, backwards=back)


SORT_KEYS = ("score", "latency", "tokens")  # the sorts whose samples can lack a key


def _keyed_rows(run_id: str, metric: str, sort: str) -> Any:
    """One row per sample of the run that has a key for `sort` (one of SORT_KEYS)."""
    if sort == "score":
        sc = schema.scores
        return sa.select(sa.literal(1)).where(sc.c.run_id == run_id, sc.c.metric == metric)
    rq = schema.requests
    col = rq.c.latency_s if sort == "latency" else rq.c.output_tokens
    return sa.select(sa.literal(1)).where(rq.c.run_id == run_id, rq.c.idx == 0, col.is_not(None))


def _flipped(desc: bool, *cols: Any) -> list[Any]:
    return [c.asc() if desc else c.desc() for c in cols]


def _exists(*conds: Any) -> Any:
    """EXISTS (SELECT 1 ...): SQLite then probes an index alone, never the table's rows."""
    return sa.select(sa.literal(1)).where(*conds).exists()


def _sorted_few(run: dict[str, Any], sq: SampleQuery, where: list[Any]) -> Any:
    """The samples matching `where`, sorted with their score or first request joined."""
    s = schema.samples
    sc = schema.scores.alias("few_sc")
    rq = schema.requests.alias("few_rq")
    if sq.sort == "score":
        col = sc.c.value
        on = sa.and_(
            sc.c.run_id == run["id"],
            sc.c.sample_id == s.c.sample_id,
            sc.c.metric == run["main_metric"],
        )
        joined = s.outerjoin(sc, on)
    else:
        col = rq.c.latency_s if sq.sort == "latency" else rq.c.output_tokens
        on = sa.and_(rq.c.run_id == run["id"], rq.c.sample_id == s.c.sample_id, rq.c.idx == 0)
        joined = s.outerjoin(rq, on)
    missing = sa.case((col.is_(None), 1), else_=0)
    position = sa.case((col.is_(None), s.c.idx), else_=None)
    order = [col, position, s.c.sample_id]
    return (
        sa.select(s.c.sample_id)
        .select_from(joined)
        .where(*where)
        .order_by(missing, *(c.desc() if sq.desc else c.asc() for c in order))
    )


def _page_keys(
    conn: Connection,
    plan: _Plan,
    offset: int,
    limit: int,
    total: int | None,
    size: int | None = None,
    keyed: int | None = None,
) -> list[str]:
    """Up to `limit` sample ids from position `offset` of the main part, then the tail.
    `total`: how many samples match, when known without counting (no filter); `size`: the
    run's sample count, when known; `keyed`: the length of the main part of an unfiltered
    sorted list, when known (a stopped run's, counted when it stopped).

    OFFSET steps over every index entry before the page: a page in the second half of a list
    whose main part's length is known (no filter) is read backwards from its end, and a page
    certainly past the main part (by the count of error samples without a key, a few probes)
    skips it, reading its length by a count instead."""
    deep = total is not None and offset > total // 2
    if deep and plan.tail is None and plan.backwards is not None and total is not None:
        return _backwards(conn, plan.backwards, total, offset, limit)
    known = total is not None and keyed is not None and plan.tail is not None
    if known and keyed is not None and plan.backwards is not None and offset > keyed // 2:
        keys = _backwards(conn, plan.backwards, keyed, offset, limit)
        if len(keys) >= limit:
            return keys
        return keys + _tail_keys(conn, plan, offset, limit - len(keys), keyed, total, size)
    keyless = plan.keyless if plan.tail is not None else None
    errors_lacking = _errors_lacking(conn, keyless) if deep and keyless else None
    main_size: int | None = None
    keys = []
    if total is not None and errors_lacking is not None and offset >= total - errors_lacking:
        main_size = _main_size(conn, plan)  # at most total - errors_lacking: the page is past it
    else:
        keys = list(conn.execute(plan.main.limit(limit).offset(offset)).scalars())
    if plan.tail is None or len(keys) >= limit:
        return keys
    if main_size is None:
        main_size = offset + len(keys) if keys else _main_size(conn, plan)
    more = _tail_keys(conn, plan, offset, limit - len(keys), main_size, total, size, errors_lacking)
    return keys + more


def _backwards(conn: Connection, backwards: Any, length: int, offset: int, limit: int) -> list[str]:
    """Entries [offset, offset + limit) of a list of `length` entries, read from its end."""
    end = length - offset  # the page is the reversed list's [start, end)
    start = max(end - limit, 0)
    if end <= 0:
        return []
    return list(conn.execute(backwards.limit(end - start).offset(start)).scalars())[::-1]


def _tail_keys(
    conn: Connection,
    plan: _Plan,
    offset: int,
    limit: int,
    main_size: int,
    total: int | None,
    size: int | None,
    errors_lacking: int | None = None,
) -> list[str]:
    """Up to `limit` ids of the tail, the page starting at `offset` of the whole list."""
    assert plan.tail is not None
    if total is not None and total <= main_size:
        return []  # nothing in the tail: skip a scan that would find nothing
    tail = plan.tail
    keyless = plan.keyless
    if keyless is not None:
        if errors_lacking is None:
            errors_lacking = _errors_lacking(conn, keyless)
        if size is None:
            size = run_size(conn, keyless.run_id)
        # every sample without a key is an error when the run's samples less those with a key
        # (unfiltered, the main part: no second count) equal the errors without one
        keyed = main_size if total is not None else _count(conn, keyless.keyed)
        if size - keyed == errors_lacking:
            tail = tail.where(schema.samples.c.status == "error")
    more = conn.execute(tail.limit(limit).offset(max(offset - main_size, 0)))
    return list(more.scalars())


def _main_size(conn: Connection, plan: _Plan) -> int:
    counted = sa.select(sa.func.count()).select_from(plan.main.order_by(None).subquery())
    return int(conn.execute(counted).scalar_one())


def _count(conn: Connection, query: Any) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one())


def _errors_lacking(conn: Connection, keyless: _Keyless) -> int:
    """The run's error samples without a sort key: probes of the error samples only."""
    s = schema.samples
    errors = sa.select(sa.literal(1)).where(s.c.run_id == keyless.run_id, s.c.status == "error")
    return _count(conn, errors.where(keyless.lacking))


def run_size(conn: Connection, run_id: str) -> int:
    s = schema.samples
    return int(
        conn.execute(
            sa.select(sa.func.count()).select_from(s).where(s.c.run_id == run_id)
        ).scalar_one()
    )


@dataclass
class _Keys:
    ids: list[str]  # the page's sample ids, in page order
    has_next: bool
    total: int  # matches, up to COUNT_CAP + 1
    window: tuple[int, int] | None = None
    positions: tuple[int, int] | None = None


def _keys(
    conn: Connection,
    run: dict[str, Any],
    sq: SampleQuery,
    size: int | None,
    keyed: dict[str, int] | None = None,
) -> _Keys:
    """The sample ids of one page of a samples query, and how many samples match (`size`:
    the run's sample count, None when the caller needs no count; `keyed`: the run's count of
    samples with a key per sort of SORT_KEYS, when known)."""
    offset = (max(sq.page, 1) - 1) * sq.per_page
    if sq.windowed:
        keys, window, positions = _window_keys(conn, run, sq)
        return _Keys(
            keys[offset : offset + sq.per_page],
            len(keys) > offset + sq.per_page,
            len(keys),
            window,
            positions,
        )
    # the page's ids come from an index in page order; its rows are then read by key
    plan = _plan(conn, run, sq)
    total_known = None if sq.filtered else size
    main_known = None if sq.filtered or keyed is None else keyed.get(sq.sort)
    wanted = _page_keys(conn, plan, offset, sq.per_page + 1, total_known, size, main_known)
    if size is None:
        total = 0
    elif not sq.filtered:
        total = size
    else:
        counted = plan.count.limit(COUNT_CAP + 1).subquery()
        total = int(conn.execute(sa.select(sa.func.count()).select_from(counted)).scalar_one())
    return _Keys(wanted[: sq.per_page], len(wanted) > sq.per_page, total)


def sample_page(
    store: Store,
    run: dict[str, Any],
    sq: SampleQuery,
    *,
    size: int | None = None,
    keyed: dict[str, int] | None = None,
) -> SamplePage:
    """One page of a run's samples list; `size`: the run's sample count when the caller knows
    it (a finished run's never changes), else it is counted; `keyed`: `RunStats.keyed`."""
    s = schema.samples
    run_id = run["id"]
    higher = bool(run["higher_is_better"])
    sc, sc_on = _score_join(run_id, run["main_metric"])
    rq = schema.requests.alias("rq")
    rq_on = sa.and_(rq.c.run_id == run_id, rq.c.sample_id == s.c.sample_id, rq.c.idx == 0)
    base = s.outerjoin(sc, sc_on).outerjoin(rq, rq_on)
    columns = (
        s.c.sample_id,
        s.c.idx,
        s.c.status,
        prediction_of(s).label("prediction"),
        s.c.error,
        sa.func.substr(_text(s.c.input), 1, SNIPPET * 2).label("input_head"),
        sa.func.substr(rq.c.text, 1, SNIPPET).label("response_head"),
        rq.c.latency_s,
        rq.c.output_tokens,
        sc.c.value.label("score"),
    )
    with store.connect() as conn:
        if size is None:
            size = run_size(conn, run_id)
        keys = _keys(conn, run, sq, size, keyed)
        found = {
            m["sample_id"]: dict(m)
            for m in conn.execute(
                sa.select(*columns)
                .select_from(base)
                .where(s.c.run_id == run_id, s.c.sample_id.in_(keys.ids))
            ).mappings()
        }
    rows = [found[k] for k in keys.ids if k in found]
    for row in rows:
        row["input_text"] = json_text_head(row.pop("input_head") or "", SNIPPET)
        row["correct"] = _is_correct(row["score"], higher)
    window_more = bool(keys.window and keys.window[1] < size)
    return SamplePage(
        rows,
        min(keys.total, COUNT_CAP),
        keys.total > COUNT_CAP,
        keys.has_next,
        keys.window,
        window_more,
        size,
        positions=keys.positions,
    )


LIST_CAP = 1_000_000  # rows in one download of a samples list


def list_rows(store: Store, run: dict[str, Any], sq: SampleQuery) -> list[dict[str, Any]]:
    """Every sample the query selects (all its pages, up to LIST_CAP), with the samples
    table's columns, in the list's order; a search or metadata filter gives its block's
    matches (up to COUNT_CAP + 1, as on the page)."""
    out: list[dict[str, Any]] = []
    page = 1
    while len(out) < LIST_CAP:
        chunk = sample_page(store, run, sq.with_(page=page, per_page=1_000))
        out += chunk.rows
        if not chunk.has_next or not chunk.rows:
            break
        page += 1
    return out[:LIST_CAP]


def neighbours(
    store: Store, run: dict[str, Any], sq: SampleQuery, sample_id: str
) -> tuple[tuple[str, int] | None, tuple[str, int] | None] | None:
    """The samples before and after `sample_id` in the list `sq` describes (with the list page
    each is on), or None when the sample is not on page `sq.page` of that list."""
    with store.connect() as conn:
        size = None  # no counts needed
        here = _keys(conn, run, sq, size)
        if sample_id not in here.ids:
            return None
        at = here.ids.index(sample_id)
        before: tuple[str, int] | None = None
        after: tuple[str, int] | None = None
        if at > 0:
            before = (here.ids[at - 1], sq.page)
        elif sq.page > 1:
            ids = _keys(conn, run, sq.with_(page=sq.page - 1), size).ids
            before = (ids[-1], sq.page - 1) if ids else None
        if at + 1 < len(here.ids):
            after = (here.ids[at + 1], sq.page)
        elif here.has_next:
            ids = _keys(conn, run, sq.with_(page=sq.page + 1), size).ids
            after = (ids[0], sq.page + 1) if ids else None
    return before, after


def _window_keys(
    conn: Connection, run: dict[str, Any], sq: SampleQuery
) -> tuple[list[str], tuple[int, int], tuple[int, int] | None]:
    """Full-text search and the metadata filter test every row they read, with no index to
    help (the metadata keys are open): they scan one block of SEARCH_WINDOW of the run's own
    samples in sample order, and that one scan finds every match there (the count and the page
    at once, up to COUNT_CAP + 1 of them, sorted). Returns the ids, the block as ranks
    [first, last) among the run's samples, and its dataset positions (None when empty)."""
    s = schema.samples
    run_id = run["id"]
    sc, sc_on = _score_join(run_id, run["main_metric"])
    rq = schema.requests.alias("rq")
    rq_on = sa.and_(rq.c.run_id == run_id, rq.c.sample_id == s.c.sample_id, rq.c.idx == 0)
    base = s.outerjoin(sc, sc_on).outerjoin(rq, rq_on)
    conds: list[Any] = [s.c.run_id == run_id]
    if sq.status in STATUSES:
        conds.append(s.c.status == sq.status)
    if sq.outcome in OUTCOMES:
        higher = bool(run["higher_is_better"])
        good = sc.c.value >= CORRECT_AT if higher else sc.c.value <= CORRECT_AT
        conds.append(good if sq.outcome == "correct" else sa.not_(good))
    if sq.score_min is not None:
        conds.append(sc.c.value >= sq.score_min)
    if sq.score_max is not None:
        conds.append(sc.c.value <= sq.score_max)
    if sq.meta_key and sq.meta_value:
        conds.append(_meta_match(conn, sq.meta_key, sq.meta_value))
    first = max(sq.window, 0) * SEARCH_WINDOW

    def positions_at(rank: int, n: int) -> list[int]:
        """The dataset positions of the run's samples of ranks [rank, rank + n)."""
        query = sa.select(s.c.idx).where(s.c.run_id == run_id).order_by(s.c.idx)
        return [int(i) for i in conn.execute(query.offset(rank).limit(n)).scalars()]

    found = positions_at(first, 1)
    if not found:  # the block starts past the run's last sample
        return [], (first, first), None
    lo = found[0]
    # the block's last position and the next block's first, if any: one walk of the index
    ends = positions_at(first + SEARCH_WINDOW - 1, 2)
    hi = ends[1] if len(ends) == 2 else None
    last = ends[0] if hi is not None else None
    conds.append(s.c.idx >= lo)
    if hi is not None:
        conds.append(s.c.idx < hi)
    else:
        last = int(
            conn.execute(sa.select(sa.func.max(s.c.idx)).where(s.c.run_id == run_id)).scalar_one()
        )
    if sq.q:
        conds.append(sa.or_(_like(conn, _text(s.c.input), sq.q), _like(conn, rq.c.text, sq.q)))
    order_col: Any = {
        "idx": s.c.idx,
        "score": sc.c.value,
        "latency": rq.c.latency_s,
        "tokens": rq.c.output_tokens,
        "id": s.c.sample_id,
    }.get(sq.sort, s.c.idx)
    order = [
        (order_col.desc() if sq.desc else order_col.asc()).nulls_last(),
        s.c.idx.desc() if sq.desc else s.c.idx.asc(),
    ]
    keys = list(
        conn.execute(
            sa.select(s.c.sample_id)
            .select_from(base)
            .where(*conds)
            .order_by(*order)
            .limit(COUNT_CAP + 1)
        ).scalars()
    )
    end = first + SEARCH_WINDOW if hi is not None else run_size(conn, run_id)
    return keys, (first, end), (lo, last if last is not None else lo)


def _meta_match(conn: Connection, key: str, value: str) -> Any:
    """The sample's metadata value under `key` spelled `value` (see `meta_value_text`).

    PostgreSQL's ->> gives JSON numbers and booleans as their text; SQLite's json_extract
    gives them as SQL numbers, which never equal a text, so there the number is compared too.
    """
    field = schema.samples.c.metadata[key]
    alternatives = [field.as_string() == value]
    if conn.dialect.name == "sqlite":
        if value in ("true", "false"):
            alternatives.append(field.as_integer() == (1 if value == "true" else 0))
        else:
            with contextlib.suppress(ValueError):
                alternatives.append(field.as_float() == float(value))
    return sa.or_(*alternatives)


def _is_correct(score: float | None, higher: bool) -> bool | None:
    if score is None:
        return None
    return score >= CORRECT_AT if higher else score <= CORRECT_AT


def json_text_head(raw: str, limit: int) -> str:
    """Readable text from the first characters of a JSON value (a string or chat messages)."""
    raw = raw.strip()
    if raw.startswith('"'):
        body = raw[1:]
        if body.endswith('"') and not body.endswith('\\"'):
            body = body[:-1]
        while body:
            try:
                text: str = json.loads(f'"{body}"')
                break
            except ValueError:
                body = body[:-1]  # cut a half escape sequence at the end
        else:
            text = ""
    else:
        try:
            value = json.loads(raw)
            if isinstance(value, list):
                text = " / ".join(
                    str(m.get("content", "")) if isinstance(m, dict) else str(m) for m in value
                )
            else:
                text = str(value)
        except ValueError:
            text = raw
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class MetadataFields:
    """Metadata keys of a run with their distinct values (empty: too many to suggest)."""

    values: dict[str, list[str]]
    scanned: int  # samples read
    complete: bool  # every sample of the run was read


_META_PAIRS = {
    # (key, JSON type, the value as text) for each scalar metadata value of a run's samples
    "sqlite": "SELECT j.key AS key, j.type AS type, j.atom AS value "
    "FROM samples AS s, json_each(s.metadata) AS j WHERE s.run_id = :run",
    "postgresql": "SELECT j.key AS key, jsonb_typeof(j.value) AS type, j.value #>> '{}' AS value "
    "FROM samples AS s, jsonb_each(s.metadata) AS j WHERE s.run_id = :run",
}
_SCALAR = {"text", "integer", "real", "true", "false", "string", "number", "boolean"}


def metadata_fields(store: Store, run_id: str) -> MetadataFields:
    """Every metadata key of the run's samples with its distinct scalar values; a key with more
    than META_VALUES values (ids, free text) is listed without suggestions. The database
    unnests the JSON (SQLite's json_each, PostgreSQL's jsonb_each): two scans of the run in C,
    not a Python loop over its rows."""
    with store.connect() as conn:
        pairs = _META_PAIRS.get(conn.dialect.name)
        if pairs is None:  # another database: read the first META_SCAN samples in Python
            return _metadata_fields_python(conn, run_id)
        scalar = "p.type IN :scalar"
        keys = sa.text(
            f"SELECT p.key, COUNT(DISTINCT CASE WHEN {scalar} THEN p.value END), "
            f"MAX(CASE WHEN {scalar} THEN LENGTH(p.value) END) FROM ({pairs}) AS p "
            "GROUP BY p.key"
        ).bindparams(sa.bindparam("scalar", expanding=True))
        found = conn.execute(keys, {"run": run_id, "scalar": sorted(_SCALAR)}).all()
        few = [k for k, n, longest in found if 0 < n <= META_VALUES and (longest or 0) <= 200]
        values: dict[str, set[str]] = {str(k): set() for k, _, _ in found}
        if few:
            distinct = sa.text(
                f"SELECT DISTINCT p.key, p.type, p.value FROM ({pairs}) AS p "
                f"WHERE p.type IN :scalar AND p.key IN :few"
            ).bindparams(
                sa.bindparam("scalar", expanding=True), sa.bindparam("few", expanding=True)
            )
            rows = conn.execute(distinct, {"run": run_id, "scalar": sorted(_SCALAR), "few": few})
            for key, kind, value in rows:
                values[str(key)].add(_scalar_text(str(kind), value))
        size = run_size(conn, run_id)
    return MetadataFields({k: sorted(v) for k, v in values.items()}, size, True)


def _scalar_text(kind: str, value: Any) -> str:
    """A value from the database's JSON unnesting, spelled as `meta_value_text` spells it."""
    if kind in ("true", "false"):
        return kind
    if kind == "boolean":
        return "true" if str(value).lower() in ("true", "1") else "false"
    if kind == "real" and value is not None:
        return str(float(value))
    return str(value)


def metadata_probe(store: Store, run_id: str) -> MetadataFields:
    """Metadata keys and values from the run's first META_PROBE samples only: quick, partial."""
    with store.connect() as conn:
        return _metadata_fields_python(conn, run_id, META_PROBE)


def _metadata_fields_python(
    conn: Connection, run_id: str, limit: int = META_SCAN
) -> MetadataFields:
    s = schema.samples
    query = (
        sa.select(s.c.metadata)
        .where(s.c.run_id == run_id)
        .order_by(s.c.idx)
        .limit(limit + 1)
        .execution_options(yield_per=5_000)
    )
    fields: dict[str, set[str]] = {}
    crowded: set[str] = set()
    scanned = 0
    for (meta,) in conn.execute(query):
        scanned += 1
        if scanned > limit:
            break
        for key, value in (meta or {}).items():
            seen = fields.setdefault(key, set())
            if key in crowded or isinstance(value, (list, dict)) or value is None:
                continue
            text = meta_value_text(value)
            if len(text) > 200:
                crowded.add(key)
                continue
            seen.add(text)
            if len(seen) > META_VALUES:
                crowded.add(key)
    values = {k: ([] if k in crowded else sorted(v)) for k, v in sorted(fields.items())}
    return MetadataFields(values, min(scanned, limit), scanned <= limit)


def meta_value_text(value: Any) -> str:
    """A scalar metadata value as the metadata filter matches it: JSON's spelling for
    booleans, the plain text of strings and numbers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


HISTOGRAM_BINS = 10


def score_histogram(
    store: Store, run_id: str, metric: str, bins: int = HISTOGRAM_BINS
) -> list[tuple[float, float, int]]:
    """Counts of per-sample scores in `bins` equal-width bins between the extremes (the last
    bin closed)."""
    with store.connect() as conn:
        return histogram_of(conn, run_id, metric, bins)


def histogram_of(
    conn: Connection, run_id: str, metric: str, bins: int = HISTOGRAM_BINS
) -> list[tuple[float, float, int]]:
    """`score_histogram` on an open connection. Each bin is a range count on the scores
    index: entries are counted, no row is read and nothing is computed per score."""
    sc = schema.scores
    where = sa.and_(sc.c.run_id == run_id, sc.c.metric == metric)
    lo, hi = conn.execute(
        sa.select(sa.func.min(sc.c.value), sa.func.max(sc.c.value)).where(where)
    ).one()
    if lo is None:
        return []
    lo, hi = float(lo), float(hi)
    if lo >= 0.0 and hi <= 1.0:
        lo, hi = 0.0, 1.0  # scores in [0, 1]: fixed bins, comparable across runs
    width = (hi - lo) / bins or 1.0
    edges = [lo + b * width for b in range(bins + 1)]

    def in_bin(b: int) -> Any:
        upper = sc.c.value < edges[b + 1] if b < bins - 1 else sa.true()
        counted = sa.select(sa.func.count()).where(where, sc.c.value >= edges[b], upper)
        return counted.scalar_subquery()

    counts = conn.execute(sa.select(*(in_bin(b) for b in range(bins)))).one()
    return [(edges[b], edges[b + 1], int(counts[b])) for b in range(bins)]


@dataclass(frozen=True)
class RunStats:
    """A run's sample count and main-metric histogram, as the run page shows them."""

    n_samples: int
    histogram: list[tuple[float, float, int]]
    keyed: dict[str, int]  # per sort of SORT_KEYS: the samples with a key (the list's head)


def count_run_stats(conn: Connection, run_id: str, metric: str) -> RunStats:
    """Count a run's stats from its rows: a pass over its samples, its scores and its
    first requests."""
    keyed = {sort: _count(conn, _keyed_rows(run_id, metric, sort)) for sort in SORT_KEYS}
    return RunStats(run_size(conn, run_id), histogram_of(conn, run_id, metric), keyed)


def stored_run_stats(store: Store, run: dict[str, Any]) -> RunStats | None:
    """The stats written when the run finished (`store.writes`), if they are still the run's:
    None for a running run, a run counted under another metric or finish, or a store from
    before the stats table."""
    if run["status"] == "running" or run.get("finished_at") is None:
        return None
    st = schema.run_stats
    query = sa.select(
        st.c.finished_at, st.c.metric, st.c.n_samples, st.c.histogram, st.c.keyed
    ).where(st.c.run_id == run["id"])
    with store.connect() as conn:
        try:
            row = conn.execute(query).one_or_none()
        except (sa.exc.OperationalError, sa.exc.ProgrammingError):
            return None  # an older store read as it is: no stats table
    if row is None or row.finished_at != run["finished_at"] or row.metric != run["main_metric"]:
        return None
    keyed = {str(k): int(v) for k, v in (row.keyed or {}).items()}
    histogram = [(float(lo), float(hi), int(n)) for lo, hi, n in row.histogram]
    return RunStats(int(row.n_samples), histogram, keyed)


# -- one sample ----------------------------------------------------------------------------------
def sample_detail(store: Store, run_id: str, sample_id: str) -> dict[str, Any] | None:
    s, rq, sc = schema.samples, schema.requests, schema.scores
    with store.connect() as conn:
        row = (
            conn.execute(
                sa.select(*sample_columns(s)).where(
                    s.c.run_id == run_id, s.c.sample_id == sample_id
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        out = dict(row)
        out["requests"] = [
            {**m, "response": None if m["response"] is None else expand(m["response"], m["text"])}
            for m in conn.execute(
                sa.select(rq)
                .where(rq.c.run_id == run_id, rq.c.sample_id == sample_id)
                .order_by(rq.c.idx)
            ).mappings()
        ]
        # the sample's metrics from the primary key, then each value by its full key: asked
        # for (run, sample) alone, SQLite reads the covering (run, metric, value) index over
        # the whole run instead
        k = sc.alias("k")
        by_key = sa.and_(
            sc.c.run_id == k.c.run_id, sc.c.sample_id == k.c.sample_id, sc.c.metric == k.c.metric
        )
        out["scores"] = dict(
            conn.execute(
                sa.select(sc.c.metric, sc.c.value)
                .select_from(k.join(sc, by_key))
                .where(k.c.run_id == run_id, k.c.sample_id == sample_id)
                .order_by(k.c.metric)  # the key's order: sc.c.metric sends SQLite to the index
            ).all()
        )
        out["prev"] = conn.execute(
            sa.select(s.c.sample_id)
            .where(s.c.run_id == run_id, s.c.idx < row["idx"])
            .order_by(s.c.idx.desc())
            .limit(1)
        ).scalar()
        out["next"] = conn.execute(
            sa.select(s.c.sample_id)
            .where(s.c.run_id == run_id, s.c.idx > row["idx"])
            .order_by(s.c.idx)
            .limit(1)
        ).scalar()
    return out


# -- comparisons ---------------------------------------------------------------------------------
@dataclass
class ComparePage:
    rows: list[dict[str, Any]]  # sample_id, idx, input_text, cells: list of per-run dicts
    total: int
    capped: bool
    has_next: bool


def compare_page(
    store: Store,
    runs: Sequence[dict[str, Any]],
    *,
    differ: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> ComparePage:
    """The samples the runs share, side by side; `differ`: 'score' or 'answer' keeps
    only the samples where the runs' main scores (or read answers) are not all equal."""
    base_s = schema.samples.alias("s0")
    joined: Any = base_s
    cols: list[Any] = [
        base_s.c.sample_id,
        base_s.c.idx,
        sa.func.substr(_text(base_s.c.input), 1, SNIPPET * 2).label("input_head"),
    ]
    scores: list[Any] = []
    answers: list[Any] = []
    for i, run in enumerate(runs):
        si = base_s if i == 0 else schema.samples.alias(f"s{i}")
        if i:
            joined = joined.join(
                si, sa.and_(si.c.run_id == run["id"], si.c.sample_id == base_s.c.sample_id)
            )
        sci = schema.scores.alias(f"sc{i}")
        joined = joined.outerjoin(
            sci,
            sa.and_(
                sci.c.run_id == run["id"],
                sci.c.sample_id == base_s.c.sample_id,
                sci.c.metric == run["main_metric"],
            ),
        )
        cols += [
            si.c.status.label(f"status{i}"),
            prediction_of(si).label(f"prediction{i}"),
            sci.c.value.label(f"score{i}"),
        ]
        scores.append(sa.func.coalesce(sci.c.value, -1e300))
        answers.append(sa.func.coalesce(prediction_of(si), ""))
    conds: list[Any] = [base_s.c.run_id == runs[0]["id"]]
    pick = {"score": scores, "answer": answers}.get(differ or "")
    if pick is not None and len(pick) > 1:
        conds.append(sa.or_(*(p != pick[0] for p in pick[1:])))
    query = (
        sa.select(*cols)
        .select_from(joined)
        .where(*conds)
        .order_by(base_s.c.idx)
        .limit(per_page + 1)
        .offset((max(page, 1) - 1) * per_page)
    )
    counted = sa.select(sa.literal(1)).select_from(joined).where(*conds).limit(COUNT_CAP + 1)
    with store.connect() as conn:
        raw = [dict(m) for m in conn.execute(query).mappings()]
        total = int(
            conn.execute(sa.select(sa.func.count()).select_from(counted.subquery())).scalar_one()
        )
    rows = []
    for r in raw[:per_page]:
        cells = []
        for i, run in enumerate(runs):
            score = r[f"score{i}"]
            cells.append(
                {
                    "status": r[f"status{i}"],
                    "prediction": r[f"prediction{i}"],
                    "score": score,
                    "correct": _is_correct(score, bool(run["higher_is_better"])),
                }
            )
        rows.append(
            {
                "sample_id": r["sample_id"],
                "idx": r["idx"],
                "input_text": json_text_head(r["input_head"] or "", SNIPPET),
                "cells": cells,
            }
        )
    return ComparePage(rows, min(total, COUNT_CAP), total > COUNT_CAP, len(raw) > per_page)


def agreement(store: Store, a: dict[str, Any], b: dict[str, Any]) -> dict[str, int]:
    """On the samples both runs scored: how many both got right, only A, only B, neither
    ("right" as on the samples list: the main score on the good side of CORRECT_AT)."""
    sa_, sb = schema.scores.alias("sa"), schema.scores.alias("sb")

    def right(sc: Any, run: dict[str, Any]) -> Any:
        good = sc.c.value >= CORRECT_AT if run["higher_is_better"] else sc.c.value <= CORRECT_AT
        return sa.case((good, 1), else_=0)

    pairs = (
        sa.select(right(sa_, a).label("a"), right(sb, b).label("b"))
        .select_from(
            sa_.join(sb, sa.and_(sb.c.sample_id == sa_.c.sample_id, sb.c.run_id == b["id"]))
        )
        .where(
            sa_.c.run_id == a["id"],
            sa_.c.metric == a["main_metric"],
            sb.c.metric == b["main_metric"],
        )
        .subquery()
    )
    query = sa.select(pairs.c.a, pairs.c.b, sa.func.count()).group_by(pairs.c.a, pairs.c.b)
    with store.connect() as conn:
        counts = {(int(x), int(y)): int(n) for x, y, n in conn.execute(query)}
    return {
        "both_right": counts.get((1, 1), 0),
        "a_only": counts.get((1, 0), 0),
        "b_only": counts.get((0, 1), 0),
        "both_wrong": counts.get((0, 0), 0),
    }


# -- a run in progress ---------------------------------------------------------------------------
def progress(store: Store, run_id: str, latest: int = 10) -> dict[str, Any] | None:
    """What a live page polls: status, samples done so far by status, the running mean of the
    main metric with a 95% normal-approximation CI, and the latest samples."""
    r, s, sc = schema.runs, schema.samples, schema.scores
    with store.connect() as conn:
        run = (
            conn.execute(
                sa.select(
                    r.c.status, r.c.main_metric, r.c.spec, r.c.n_samples, r.c.higher_is_better
                ).where(r.c.id == run_id)
            )
            .mappings()
            .first()
        )
        if run is None:
            return None
        by_status: dict[Any, Any] = dict(
            conn.execute(
                sa.select(s.c.status, sa.func.count())
                .where(s.c.run_id == run_id)
                .group_by(s.c.status)
            ).all()
        )
        mean, square, n = conn.execute(
            sa.select(
                sa.func.avg(sc.c.value), sa.func.avg(sc.c.value * sc.c.value), sa.func.count()
            ).where(sc.c.run_id == run_id, sc.c.metric == run["main_metric"])
        ).one()
        recent = [
            dict(m)
            for m in conn.execute(
                sa.select(s.c.sample_id, s.c.idx, s.c.status, prediction_of(s).label("prediction"))
                .where(s.c.run_id == run_id)
                .order_by(s.c.updated_at.desc())
                .limit(latest)
            ).mappings()
        ]
    spec = run["spec"] or {}
    done = int(sum(by_status.values()))
    ci_lo = ci_hi = None
    if mean is not None and int(n) > 1:
        variance = max(float(square) - float(mean) ** 2, 0.0) * int(n) / (int(n) - 1)
        half = 1.96 * (variance / int(n)) ** 0.5
        ci_lo, ci_hi = float(mean) - half, float(mean) + half
    return {
        "status": run["status"],
        "done": done,
        "expected": run["n_samples"] or spec.get("limit"),
        "ok": int(by_status.get("ok", 0)),
        "unparsed": int(by_status.get("unparsed", 0)),
        "errors": int(by_status.get("error", 0)),
        "main_metric": run["main_metric"],
        "mean": float(mean) if mean is not None else None,
        "ci_lo": ci_lo,
        "ci_hi": ci_hi,
        "scored": int(n),
        "recent": recent,
    }
