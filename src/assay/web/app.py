"""The viewer: a Starlette app that renders the store as server-side HTML.

Pages read the store through `assay.store.queries` (shared with the CLI) and
`assay.store.browse` (bounded, paginated reads). Everything a model or a dataset wrote reaches
the page through Jinja2 with autoescaping, and the Content-Security-Policy allows no inline
script, so a response holding `<script>` shows as text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assay.analysis.leaderboard import Leaderboard, build_leaderboard
from assay.analysis.model_info import ModelCatalog
from assay.analysis.winrate import mean_win_rates
from assay.display import json_visible, visible
from assay.store import browse
from assay.store.db import Store
from assay.store.queries import default_suite, latest_suite_runs, suite_names
from assay.web import charts, downloads, live, sample_extras
from assay.web.annotation_page import annotations_page
from assay.web.benchmark_page import benchmark_page
from assay.web.compare_stats import CompareStats
from assay.web.metric_groups import METRIC_GROUPS, tab_context
from assay.web.model_page import model_page
from assay.web.pairwise_page import (
    pair_sample_page,
    pair_samples_page,
    pairwise_file,
    pairwise_page,
)
from assay.web.pairwise_store import judged_benchmarks, sample_pairs
from assay.web.run_extras import page_extras
from assay.web.standings import StandingsCache

log = logging.getLogger(__name__)
META_INLINE = 5_000  # runs up to this size get every metadata value on the page itself
MAX_BLOCK = 20_000  # characters of one prompt, response or JSON block shown on a page
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


class TimingHeaders:
    """Adds `Server-Timing` (time to the response start) and the security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers += [
                    (b"server-timing", f"app;dur={ms:.2f}".encode()),
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed)


def _float(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise HTTPException(400, f"{name} must be a number, not {raw!r}") from None


def _int(request: Request, name: str, default: int, lo: int = 0, hi: int = 10**9) -> int:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return default
    try:
        return min(max(int(raw), lo), hi)
    except ValueError:
        raise HTTPException(400, f"{name} must be a whole number, not {raw!r}") from None


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    raw = request.query_params.get(name) or None
    if raw is not None and raw not in allowed:
        raise HTTPException(400, f"{name} must be one of {', '.join(allowed)}, not {raw!r}")
    return raw


def clip(text: Any, limit: int = MAX_BLOCK) -> tuple[str, int]:
    """Text cut to `limit` characters, and how many characters were left out."""
    value = "" if text is None else str(text)
    if len(value) <= limit:
        return value, 0
    return value[:limit], len(value) - limit


def pretty(value: Any) -> str:
    """Indented JSON, hidden characters written as JSON escapes (the same value)."""
    text = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    return json_visible(text)


def sample_url(run_id: str, sample_id: str, params: Any = ()) -> str:
    """A sample's page; `params`: the run view's query (filter, sort, search, page) it was
    opened from, which the page's previous/next and breadcrumb follow."""
    run_part = quote(run_id, safe="")
    if any(part in (".", "..") for part in sample_id.split("/")):
        # a browser resolves "." and ".." segments (even as %2E) before sending the request
        url = f"/runs/{run_part}/sample"
        params = [("id", sample_id), *params]
    else:
        url = f"/runs/{run_part}/samples/{quote(sample_id, safe='/')}"
    query = _qs(params)
    return f"{url}?{query}" if query else url


def _qs(params: Any) -> str:
    return urlencode([(k, v) for k, v in params if v not in (None, "")], doseq=True)


def meta_text(value: Any) -> str:
    """A metadata value of any JSON type as text: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def breakable(name: str) -> str:
    """A variant name a narrow column may wrap after its `:`, `,` and `+` (zero-width spaces)."""
    return name.replace(":", ":\u200b").replace(",", ",\u200b").replace("+", "+\u200b")


def when(stamp: float | None) -> str:
    if not stamp:
        return "–"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


class Viewer:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.standings = StandingsCache(store)
        self.catalog = ModelCatalog.load()
        self._histograms: dict[tuple[Any, ...], list[tuple[float, float, int]]] = {}
        self.env = Environment(
            loader=PackageLoader("assay.web", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(
            sample_url=sample_url,
            fmt=fmt,
            clip=clip,
            pretty=pretty,
            when=when,
            meta_text=meta_text,
        )
        self.env.filters["breakable"] = breakable
        self.env.filters["visible"] = visible  # names from imported files: no hidden controls
        self.env.filters["qs"] = _qs
        self._meta: dict[tuple[Any, ...], browse.MetadataFields] = {}
        self._probes: dict[tuple[Any, ...], browse.MetadataFields] = {}
        self._sizes: dict[tuple[Any, ...], int] = {}  # samples of each finished run
        self._progress: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.compare_stats = CompareStats(store)
        self.pairwise_cache: dict[tuple[Any, ...], Any] = {}  # see web/pairwise_page.py

    def render(self, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        """A page; `nav_suite` (the suite the menu's links keep) defaults to the page's suite."""
        context.setdefault("nav_suite", context.get("suite") or "")
        html = self.env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status_code)

    def suite_of(self, request: Request) -> str:
        """The suite a page shows: the one named in the URL, else the most recently updated."""
        return request.query_params.get("suite") or default_suite(self.store) or ""

    # -- leaderboard -------------------------------------------------------------------------
    def leaderboard(self, request: Request) -> Response:
        suites = suite_names(self.store)
        suite = self.suite_of(request)
        runs = latest_suite_runs(self.store, suite) if suite else []
        board = self.standings.get(suite, runs) or build_leaderboard(suite, runs)
        running = browse.running_runs(self.store, suite) if suite else []
        board = live.with_running(board, self.store, running)
        groups = {g: [c.benchmark for c in board.columns if g in c.groups] for g in board.groups}
        group_rates = {g: _group_rates(board, g, bs) for g, bs in groups.items()}
        intervals = {
            m: (s.ci_lo, s.ci_hi)
            for m, s in board.standings.items()
            if s.ci_lo is not None and s.ci_hi is not None
        }
        sort = request.query_params.get("sort") or "winrate"
        desc = request.query_params.get("desc", "1" if sort != "model" else "0") == "1"
        models = _sorted_models(board, group_rates, sort, desc)
        by_run = {r["id"]: r for r in runs}
        cost = []
        for m in models:
            tokens = samples = 0
            for c in board.columns:
                cell = board.cells.get((m, c.benchmark))
                summary = ((by_run.get(cell.run_id) or {}).get("summary") or {}) if cell else {}
                tokens += int(summary.get("input_tokens") or 0)
                tokens += int(summary.get("output_tokens") or 0)
                samples += int(summary.get("n_samples") or 0)
            rate = board.win_rates.get(m)
            if samples and tokens and rate is not None:
                cost.append((m, tokens / samples, rate))
        tab = _choice(request, "tab", METRIC_GROUPS) or "accuracy"
        return self.render(
            "leaderboard.html",
            **tab_context(runs, models, self.catalog, tab),
            suite=suite,
            suites=suites,
            board=board,
            models=models,
            groups=groups,
            group_rates=group_rates,
            intervals=intervals,
            pending=bool(runs) and not board.standings,
            sort=sort,
            desc=desc,
            running=running,
            pairwise=judged_benchmarks(self.store, runs),
            win_chart=charts.win_rate_bars(
                [(m, board.win_rates.get(m), intervals.get(m)) for m in models]
            ),
            cost_chart=charts.scatter(
                cost, x_label="tokens per sample (input + output)", y_label="mean win rate"
            ),
        )

    def run_list(self, request: Request) -> Response:
        suite = self.suite_of(request)
        page = _int(request, "page", 1, 1)
        per_page = 100
        rows, total = browse.suite_run_list(
            self.store, suite, limit=per_page, offset=(page - 1) * per_page
        )
        return self.render(
            "runs.html",
            suite=suite,
            suites=suite_names(self.store),
            rows=rows,
            total=total,
            page=page,
            has_next=page * per_page < total,
        )

    # -- one run -----------------------------------------------------------------------------
    def run(self, run_id: str) -> dict[str, Any]:
        return self._run(run_id)

    def _run(self, run_id: str) -> dict[str, Any]:
        run = browse.run_row(self.store, run_id)
        if run is None:
            raise HTTPException(404, f"no run {run_id!r} in this store")
        return run

    def run_page(self, request: Request) -> Response:
        run = self._run(request.path_params["run_id"])
        sq = sample_query(request)
        stats = self._stats(run)
        size = stats.n_samples if stats is not None else self._sizes.get(_finished(run))
        keyed = stats.keyed if stats is not None else None
        page = browse.sample_page(self.store, run, sq, size=size, keyed=keyed)
        if run["status"] != "running":
            _remember(self._sizes, _finished(run), page.run_size)
        summary = run.get("summary") or {}
        hist = stats.histogram if stats is not None else self._histogram(run)
        meta = self._metadata(run, page.run_size)
        return self.render(
            "run.html",
            extras=page_extras(self.store, run["id"], [r["sample_id"] for r in page.rows]),
            run=run,
            suite=(run["suites"] or [""])[0],
            summary=summary,
            sq=sq,
            page=page,
            pages=page_count(sq, page),
            params=_sample_params(sq),
            meta_fields=meta.values,
            meta=meta,
            progress=browse.progress(self.store, run["id"]) if run["status"] == "running" else None,
            hist_chart=charts.histogram(hist),
            live=run["status"] == "running",
            window_size=browse.SEARCH_WINDOW,
            count_cap=browse.COUNT_CAP,
            correct_at=browse.CORRECT_AT,
            compare_runs=[
                r
                for r in browse.benchmark_runs(
                    self.store, (run["suites"] or ["default"])[0], run["benchmark"]
                )
                if r["id"] != run["id"]
            ][:20],
        )

    def _stats(self, run: dict[str, Any]) -> browse.RunStats | None:
        """A stopped run's sample count and histogram as counted when it stopped (one key
        lookup); None for a running run or one without them (counted by the fallbacks)."""
        if run["status"] == "running":
            return None
        return browse.stored_run_stats(self.store, run)

    def _histogram(self, run: dict[str, Any]) -> list[tuple[float, float, int]]:
        """A finished run's scores never change: its histogram is computed once."""
        key = (run["id"], run["status"], run["finished_at"])
        found = self._histograms.get(key)
        if found is None:
            found = browse.score_histogram(self.store, run["id"], run["main_metric"])
            if run["status"] != "running":
                if len(self._histograms) > 10_000:
                    self._histograms.clear()
                self._histograms[key] = found
        return found

    def _metadata(self, run: dict[str, Any], size: int) -> browse.MetadataFields:
        """What the run page offers at once: a small run's every metadata value, a large run's
        values from its first samples (the page's script asks `metadata` for the rest when
        the value field is used: a scan of the whole run, too slow for every page load)."""
        key = (run["id"], run["status"], run["finished_at"], size)
        found = self._meta.get(key)
        if found is not None:
            return found
        if size > META_INLINE:
            probe = self._probes.get(key)
            if probe is None:
                probe = browse.metadata_probe(self.store, run["id"])
                if run["status"] != "running":
                    _remember(self._probes, key, probe)
            return probe
        return self._every_metadata_value(run, size)

    def _every_metadata_value(self, run: dict[str, Any], size: int) -> browse.MetadataFields:
        key = (run["id"], run["status"], run["finished_at"], size)
        found = self._meta.get(key)
        if found is None:
            found = browse.metadata_fields(self.store, run["id"])
            if len(self._meta) > 1_000:
                self._meta.clear()
            self._meta[key] = found
        return found

    def metadata(self, request: Request) -> Response:
        """Every metadata key of a run with every value (none for keys with too many)."""
        run = self._run(request.path_params["run_id"])
        with self.store.connect() as conn:
            size = browse.run_size(conn, run["id"])
        found = self._every_metadata_value(run, size)
        return Response(
            orjson.dumps({"fields": found.values, "samples": found.scanned}),
            media_type="application/json",
        )

    def progress(self, request: Request) -> Response:
        """What the live page polls; a finished run's never changes, so it is read once."""
        run = browse.run_row(self.store, request.path_params["run_id"])
        if run is None:
            return JSONResponse({"error": "no such run"}, status_code=404)
        done = run["status"] != "running"
        data = self._progress.get(_finished(run)) if done else None
        if data is None:
            data = browse.progress(self.store, run["id"])
            if data is None:
                return JSONResponse({"error": "no such run"}, status_code=404)
            if done and data["status"] == run["status"]:
                _remember(self._progress, _finished(run), data)
        return Response(
            orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS),
            media_type="application/json",
            headers={"cache-control": "no-store"},
        )

    # -- one sample --------------------------------------------------------------------------
    def sample_page(self, request: Request) -> Response:
        run = self._run(request.path_params["run_id"])
        sample_id = request.path_params.get("sample_id") or request.query_params.get("id", "")
        detail = browse.sample_detail(self.store, run["id"], sample_id)
        if detail is None:
            raise HTTPException(404, f"no sample {sample_id!r} in run {run['id']}")
        if request.query_params.get("format") == "json":
            return Response(
                orjson.dumps(
                    detail, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
                ),
                media_type="application/json",
            )
        others = [
            r
            for r in browse.benchmark_runs(
                self.store, (run["suites"] or ["default"])[0], run["benchmark"]
            )
            if r["id"] != run["id"]
        ][:20]
        judged_against = sample_pairs(self.store, run["id"], [r["id"] for r in others], sample_id)
        labels = sample_extras.perturbation_labels(run.get("spec"), len(detail["requests"]))
        code = sample_extras.code_view(run, detail)
        if code is not None:  # the sandbox results have their own section
            detail["metadata"] = {k: v for k, v in detail["metadata"].items() if k != "sandbox"}
        sq = sample_query(request)
        params = _sample_params(sq)
        near = browse.neighbours(self.store, run, sq, sample_id)
        if near is None:  # not on the list page it names: the run's order, unfiltered
            sq = browse.SampleQuery()
            params = []
            near = (
                (detail["prev"], 1) if detail["prev"] else None,
                (detail["next"], 1) if detail["next"] else None,
            )
        page_of = [("page", sq.page if sq.page > 1 else None)]
        return self.render(
            "sample.html",
            run=run,
            suite=(run["suites"] or [""])[0],
            s=detail,
            others=others,
            judged_against=judged_against,
            back=params + page_of,
            prev_url=_neighbour_url(run["id"], params, near[0]),
            next_url=_neighbour_url(run["id"], params, near[1]),
            filtered=sq.filtered or sq.sort != "idx" or sq.desc,
            labels=labels,
            diffs=sample_extras.request_diffs(detail, labels),
            cut_off=any(sample_extras.truncated(rq) for rq in detail["requests"]),
            code=code,
        )

    # -- comparisons -------------------------------------------------------------------------
    def _compare_runs(self, request: Request) -> list[dict[str, Any]]:
        ids = list(dict.fromkeys(request.query_params.getlist("run")))[:6]
        runs = [self._run(i) for i in ids]
        if len({r["benchmark"] for r in runs}) > 1:
            raise HTTPException(400, "compare runs of one benchmark variant: their samples match")
        return runs

    def compare(self, request: Request) -> Response:
        named = request.query_params.get("benchmark")
        ids = list(dict.fromkeys(request.query_params.getlist("run")))[:6]
        runs = [self._run(i) for i in ids]
        if named and any(r["benchmark"] != named for r in runs):
            # a benchmark picked in the form: the runs ticked for the last one go, and the
            # address says so
            kept = [(k, v) for k, v in request.query_params.multi_items() if k != "run"]
            kept += [("run", r["id"]) for r in runs if r["benchmark"] == named]
            return RedirectResponse(f"/compare?{_qs(kept)}", status_code=303)
        elif len({r["benchmark"] for r in runs}) > 1:
            raise HTTPException(400, "compare runs of one benchmark variant: their samples match")
        benchmark = named or (runs[0]["benchmark"] if runs else "")
        suite = request.query_params.get("suite") or ""
        if not suite:
            suite = (runs[0]["suites"] or [""])[0] if runs else self.suite_of(request)
        candidates = browse.benchmark_runs(self.store, suite, benchmark) if benchmark else []
        if benchmark and not runs and len(candidates) >= 2:
            runs = [self._run(c["id"]) for c in candidates[:2]]
        differ = _choice(request, "differ", ("score", "answer"))
        page_no = _int(request, "page", 1, 1, 10**6)
        page = (
            browse.compare_page(self.store, runs, differ=differ, page=page_no)
            if len(runs) >= 2
            else None
        )
        base = [("suite", suite), ("benchmark", benchmark)] + [("run", r["id"]) for r in runs]
        pairs = self.compare_stats.pairs(suite, runs)
        response = self.render(
            "compare.html",
            suite=suite,
            suites=suite_names(self.store),
            benchmarks=browse.suite_benchmarks(self.store, suite) if suite else [],
            benchmark=benchmark,
            candidates=candidates,
            runs=runs,
            differ=differ,
            page=page,
            page_no=page_no,
            base=base,
            pairs=pairs,
            count_cap=browse.COUNT_CAP,
        )
        if any(p is None for p in pairs):
            response.background = BackgroundTask(self.compare_stats.run_queued)
        return response

    def compare_sample(self, request: Request) -> Response:
        runs = self._compare_runs(request)
        sample_id = request.query_params.get("id") or ""
        if not runs or not sample_id:
            raise HTTPException(400, "give one or more run= and the sample id=")
        details = [browse.sample_detail(self.store, r["id"], sample_id) for r in runs]
        if details[0] is None:
            raise HTTPException(404, f"no sample {sample_id!r} in run {runs[0]['id']}")
        return self.render(
            "compare_sample.html",
            runs=runs,
            details=details,
            sample_id=sample_id,
            back=[("run", r["id"]) for r in runs],
        )


def _group_rates(board: Leaderboard, group: str, benchmarks: list[str]) -> dict[str, float | None]:
    """Mean win rate over a group's benchmarks: the analysis's when known, else from the cells."""
    known = board.group_standings.get(group)
    if known:
        return {m: s.win_rate for m, s in known.items()}
    table = {
        m: {b: (c.mean if (c := board.cells.get((m, b))) else None) for b in benchmarks}
        for m in board.models
    }
    lower = {c.benchmark for c in board.columns if not c.higher_is_better}
    return mean_win_rates(table, lower_is_better=lower)


def _sorted_models(
    board: Leaderboard, group_rates: dict[str, dict[str, float | None]], sort: str, desc: bool
) -> list[str]:
    def key(m: str) -> tuple[int, Any, str]:
        value: Any
        if sort == "model":
            return (0, m.lower(), m)
        if sort.startswith("group:"):
            value = group_rates.get(sort[6:], {}).get(m)
        elif sort == "winrate":
            value = board.win_rates.get(m)
        else:
            cell = board.cells.get((m, sort))
            value = cell.mean if cell else None
        if value is None:
            return (1, 0.0, m)  # missing values last whichever way
        return (0, -value if desc else value, m)

    models = sorted(board.models, key=key)
    if sort == "model" and desc:
        models.reverse()
    return models


def sample_query(request: Request) -> browse.SampleQuery:
    """The samples list a run page shows (and a sample page was opened from)."""
    return browse.SampleQuery(
        outcome=_choice(request, "outcome", browse.OUTCOMES),
        status=_choice(request, "status", browse.STATUSES),
        score_min=_float(request, "min"),
        score_max=_float(request, "max"),
        meta_key=request.query_params.get("meta") or None,
        meta_value=request.query_params.get("value") or None,
        q=(request.query_params.get("q") or "").strip()[:200] or None,
        window=_int(request, "window", 0, 0, 10**6),
        sort=_choice(request, "sort", browse.SORTS) or "idx",
        desc=request.query_params.get("desc") == "1",
        page=_int(request, "page", 1, 1, 10**6),
        per_page=_int(request, "per_page", 50, 10, 200),
    )


def page_count(sq: browse.SampleQuery, page: browse.SamplePage) -> int | None:
    """How many list pages the query has, when the number of matches is known exactly."""
    if page.capped:
        return None
    total = page.total if (sq.filtered or page.window) else page.run_size
    return max(1, -(-total // sq.per_page))


def _neighbour_url(
    run_id: str, params: list[tuple[str, Any]], near: tuple[str, int] | None
) -> str | None:
    if near is None:
        return None
    sample_id, page = near
    return sample_url(run_id, sample_id, [*params, ("page", page if page > 1 else None)])


def _sample_params(sq: browse.SampleQuery) -> list[tuple[str, Any]]:
    """The query-string form of a samples query, without its page."""
    return [
        ("outcome", sq.outcome),
        ("status", sq.status),
        ("min", sq.score_min),
        ("max", sq.score_max),
        ("meta", sq.meta_key if sq.meta_value else None),
        ("value", sq.meta_value),
        ("q", sq.q),
        ("window", sq.window or None),
        ("sort", sq.sort if sq.sort != "idx" else None),
        ("desc", "1" if sq.desc else None),
        ("per_page", sq.per_page if sq.per_page != 50 else None),
    ]


async def _error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    viewer: Viewer = request.app.state.viewer
    return viewer.render("error.html", status_code=status, status=status, detail=detail)


async def _crash(request: Request, exc: Exception) -> Response:
    """An unexpected error: the error page with what went wrong, never a bare 500."""
    log.error("viewer failed on %s", request.url.path, exc_info=exc)
    detail = (
        f"The viewer failed on this page ({type(exc).__name__}: {str(exc)[:300]}). "
        "This is a bug in assay: the server's log has the traceback."
    )
    viewer: Viewer = request.app.state.viewer
    try:
        return viewer.render("error.html", status_code=500, status=500, detail=detail)
    except Exception:  # the page template itself is broken: plain text, still the reason
        return Response(f"500: {detail}", status_code=500, media_type="text/plain")


def create_app(store: Store) -> Starlette:
    viewer = Viewer(store)
    handlers: dict[Any, Callable[..., Any]] = {HTTPException: _error, Exception: _crash}
    routes = [
        Route("/", viewer.leaderboard),
        Route("/runs", viewer.run_list),
        Route("/runs/{run_id}", viewer.run_page),
        Route("/runs/{run_id}/samples/{sample_id:path}", viewer.sample_page),
        Route("/runs/{run_id}/sample", viewer.sample_page),
        Route("/api/runs/{run_id}/progress", viewer.progress),
        Route("/api/runs/{run_id}/metadata", viewer.metadata),
        Route("/compare", viewer.compare),
        Route("/compare/sample", viewer.compare_sample),
        Route("/models/{model:path}", model_page),
        Route("/benchmarks/{benchmark:path}", benchmark_page),
        Route("/annotations", annotations_page),
        Route("/pairwise", pairwise_page),
        Route("/pairwise/samples", pair_samples_page),
        Route("/pairwise/sample", pair_sample_page),
        Route("/pairwise.{fmt}", partial(pairwise_file, viewer)),
        Route("/leaderboard.{fmt}", partial(downloads.leaderboard_file, viewer)),
        Route("/runs/{run_id}/samples.{fmt}", partial(downloads.run_samples_file, viewer)),
        Mount("/static", StaticFiles(packages=[("assay.web", "static")]), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.viewer = viewer
    app.add_middleware(TimingHeaders)
    return app


def _finished(run: dict[str, Any]) -> tuple[Any, ...]:
    """A cache key that changes whenever the run's samples can have changed."""
    return (run["id"], run["status"], run["finished_at"])


def _remember(cache: dict[tuple[Any, ...], Any], key: tuple[Any, ...], value: Any) -> None:
    """Keep `value` for a finished run (its samples never change), in a bounded cache."""
    if len(cache) > 10_000:
        cache.clear()
    cache[key] = value
