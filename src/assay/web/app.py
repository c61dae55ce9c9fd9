"""The viewer: a Starlette app that renders the store as server-side HTML.

Pages read the store through `assay.store.queries` (shared with the CLI) and
`assay.store.browse` (bounded, paginated reads). Everything a model or a dataset wrote reaches
the page through Jinja2 with autoescaping, and the Content-Security-Policy allows no inline
script, so a response holding `<script>` shows as text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assay.analysis.leaderboard import Leaderboard, build_leaderboard
from assay.analysis.winrate import mean_win_rates
from assay.display import json_visible, visible
from assay.store import browse
from assay.store.db import Store
from assay.store.queries import latest_suite_runs, suite_names
from assay.web import charts
from assay.web.standings import StandingsCache

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


def sample_url(run_id: str, sample_id: str) -> str:
    return f"/runs/{quote(run_id, safe='')}/samples/{quote(sample_id, safe='/')}"


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def when(stamp: float | None) -> str:
    if not stamp:
        return "–"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


class Viewer:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.standings = StandingsCache(store)
        self._histograms: dict[tuple[Any, ...], list[tuple[float, float, int]]] = {}
        self.env = Environment(
            loader=PackageLoader("assay.web", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(sample_url=sample_url, fmt=fmt, clip=clip, pretty=pretty, when=when)
        self.env.filters["visible"] = visible  # names from imported files: no hidden controls
        self.env.filters["qs"] = lambda params: urlencode(
            [(k, v) for k, v in params if v not in (None, "")], doseq=True
        )

    def render(self, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status_code)

    # -- leaderboard -------------------------------------------------------------------------
    def leaderboard(self, request: Request) -> Response:
        suites = suite_names(self.store)
        suite = request.query_params.get("suite") or ("default" if "default" in suites else "")
        if not suite and suites:
            suite = suites[0]
        runs = latest_suite_runs(self.store, suite) if suite else []
        board = self.standings.get(suite, runs) or build_leaderboard(suite, runs)
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
        return self.render(
            "leaderboard.html",
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
            running=browse.running_runs(self.store, suite) if suite else [],
            win_chart=charts.win_rate_bars(
                [(m, board.win_rates.get(m), intervals.get(m)) for m in models]
            ),
            cost_chart=charts.scatter(
                cost, x_label="tokens per sample (input + output)", y_label="mean win rate"
            ),
        )

    def run_list(self, request: Request) -> Response:
        suite = request.query_params.get("suite") or "default"
        page = _int(request, "page", 1, 1)
        per_page = 100
        rows, total = browse.suite_run_list(
            self.store, suite, limit=per_page, offset=(page - 1) * per_page
        )
        return self.render(
            "runs.html",
            suite=suite,
            rows=rows,
            total=total,
            page=page,
            has_next=page * per_page < total,
        )

    # -- one run -----------------------------------------------------------------------------
    def _run(self, run_id: str) -> dict[str, Any]:
        run = browse.run_row(self.store, run_id)
        if run is None:
            raise HTTPException(404, f"no run {run_id!r} in this store")
        return run

    def run_page(self, request: Request) -> Response:
        run = self._run(request.path_params["run_id"])
        sq = browse.SampleQuery(
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
        page = browse.sample_page(self.store, run, sq)
        summary = run.get("summary") or {}
        hist = self._histogram(run)
        return self.render(
            "run.html",
            run=run,
            summary=summary,
            sq=sq,
            page=page,
            params=_sample_params(sq),
            meta_fields=browse.metadata_fields(self.store, run["id"]),
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

    def progress(self, request: Request) -> Response:
        data = browse.progress(self.store, request.path_params["run_id"])
        if data is None:
            return JSONResponse({"error": "no such run"}, status_code=404)
        return Response(
            orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS),
            media_type="application/json",
            headers={"cache-control": "no-store"},
        )

    # -- one sample --------------------------------------------------------------------------
    def sample_page(self, request: Request) -> Response:
        run = self._run(request.path_params["run_id"])
        sample_id = request.path_params["sample_id"]
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
        return self.render("sample.html", run=run, s=detail, others=others)

    # -- comparisons -------------------------------------------------------------------------
    def _compare_runs(self, request: Request) -> list[dict[str, Any]]:
        ids = list(dict.fromkeys(request.query_params.getlist("run")))[:6]
        runs = [self._run(i) for i in ids]
        if len({r["benchmark"] for r in runs}) > 1:
            raise HTTPException(400, "compare runs of one benchmark variant: their samples match")
        return runs

    def compare(self, request: Request) -> Response:
        suites = suite_names(self.store)
        suite = request.query_params.get("suite") or ("default" if "default" in suites else "")
        runs = self._compare_runs(request)
        benchmark = request.query_params.get("benchmark") or (runs[0]["benchmark"] if runs else "")
        if runs and not request.query_params.get("suite"):
            suite = (runs[0]["suites"] or [suite])[0]
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
        return self.render(
            "compare.html",
            suite=suite,
            benchmarks=browse.suite_benchmarks(self.store, suite) if suite else [],
            benchmark=benchmark,
            candidates=candidates,
            runs=runs,
            differ=differ,
            page=page,
            page_no=page_no,
            base=base,
            count_cap=browse.COUNT_CAP,
        )

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


def create_app(store: Store) -> Starlette:
    viewer = Viewer(store)
    handlers: dict[Any, Callable[..., Any]] = {HTTPException: _error}
    routes = [
        Route("/", viewer.leaderboard),
        Route("/runs", viewer.run_list),
        Route("/runs/{run_id}", viewer.run_page),
        Route("/runs/{run_id}/samples/{sample_id:path}", viewer.sample_page),
        Route("/api/runs/{run_id}/progress", viewer.progress),
        Route("/compare", viewer.compare),
        Route("/compare/sample", viewer.compare_sample),
        Mount("/static", StaticFiles(packages=[("assay.web", "static")]), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.viewer = viewer
    app.add_middleware(TimingHeaders)
    return app
