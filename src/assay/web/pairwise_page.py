"""The viewer's pairwise pages: what `assay pairwise` stored for a benchmark of a suite.

Per judge (and, with several judges, their panel), the Bradley-Terry ratings and each pair's
wins, ties and losses are computed by `assay.analysis.pairwise` from the stored verdicts with
the command's defaults (prior 1, 1000 resamples, seed 0), over each model's newest finished run:
the numbers `assay pairwise --format json` prints for the same store. A pair's judged samples
list, and a sample's page shows both answers and each order's raw judge request and response.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast, get_args

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from assay import csv_safety
from assay.analysis.bradley_terry import DEFAULT_PRIOR, DEFAULT_RESAMPLES
from assay.analysis.pairwise import (
    Key,
    PairwiseResult,
    outcomes,
    panel_agreement,
    panel_outcomes,
    report,
    stored_verdict,
    tally,
)
from assay.metrics.pairwise import Outcome, combine
from assay.metrics.panel import PanelAggregate, same_family
from assay.store import browse
from assay.store.queries import latest_suite_runs, suite_names
from assay.web import pairwise_store
from assay.web.downloads import FORMATS, _attachment, _format
from assay.web.pairwise_store import Judge

if TYPE_CHECKING:
    from assay.web.app import Viewer

PER_PAGE = 50
PANEL = "panel"
AGGREGATES: tuple[str, ...] = get_args(PanelAggregate)
PAIR_COLUMNS = (
    "judge", "model_a", "model_b", "wins_a", "ties", "wins_b", "n", "inconsistent", "unparsed",
    "errors", "split", "same_family_judge",
)  # fmt: skip
RATING_COLUMNS = ("judge", "rank", "model", "rating", "ci_lo", "ci_hi")


@dataclass
class View:
    """One judge's results, or the panel's (`key` PANEL)."""

    key: str
    judges: list[Judge]
    flagged: list[str]
    result: PairwiseResult
    data: dict[str, Any]
    agreement: dict[str, Any] | None = None


@dataclass
class Analysis:
    suite: str
    benchmark: str
    runs: dict[str, str]  # model -> run id (the newest finished)
    views: list[View] = field(default_factory=list)
    aggregate: str = "mean"

    def run_pair(self, model_a: str, model_b: str) -> tuple[str, str]:
        return self.runs[model_a], self.runs[model_b]


_lock = threading.Lock()


def analyse(viewer: Viewer, suite: str, benchmark: str, aggregate: str) -> Analysis:
    """The stored verdicts' tallies and ratings, kept by the viewer until a verdict among the
    runs is written (the bootstrap takes about a second for 8 models on 1,000 samples)."""
    store = viewer.store
    runs = pairwise_store.contestants(store, suite, benchmark)
    ids = list(runs.values())
    key = (suite, benchmark, aggregate, tuple(runs.items()), pairwise_store.fingerprint(store, ids))
    cache = viewer.pairwise_cache
    with _lock:
        found = cache.get(key)
    if isinstance(found, Analysis):
        return found
    found = _analyse(viewer, suite, benchmark, aggregate, runs)
    with _lock:
        if len(cache) > 200:
            cache.clear()
        cache[key] = found
    return found


def _analyse(
    viewer: Viewer, suite: str, benchmark: str, aggregate: str, runs: dict[str, str]
) -> Analysis:
    ids = list(runs.values())
    label = {run: model for model, run in runs.items()}
    judges = pairwise_store.judges(viewer.store, ids)
    rows: dict[str, list[tuple[str, str, str, Any, Any]]] = {j.key: [] for j in judges}
    for run_a, run_b, sample, judge_key, order, status, winner, reason in pairwise_store.verdicts(
        viewer.store, ids
    ):
        verdict = stored_verdict(status, winner, reason)
        rows[judge_key].append((label[run_a], label[run_b], sample, order, verdict))
    per_judge = {j.key: outcomes(rows[j.key]) for j in judges}
    out = Analysis(suite, benchmark, runs, aggregate=aggregate)
    for judge in judges:
        out.views.append(_view(out, judge.key, [judge], per_judge[judge.key]))
    if len(judges) > 1:
        found = panel_outcomes(per_judge, cast(PanelAggregate, aggregate))
        view = _view(out, PANEL, judges, found)
        view.agreement = {"aggregate": aggregate, "agreement": panel_agreement(per_judge)}
        view.data["panel"] = view.agreement
        out.views.append(view)
    return out


def _view(out: Analysis, key: str, judges: list[Judge], found: dict[Key, Outcome]) -> View:
    judged = {m for a, b, _ in found for m in (a, b)}
    models = [m for m in out.runs if m in judged]  # `assay pairwise`'s order
    flagged = [m for m in models if any(same_family(j.label, m) for j in judges)]
    result = tally(
        models,
        found,
        same_family=flagged,
        prior=DEFAULT_PRIOR,
        resamples=DEFAULT_RESAMPLES,
        seed=0,
    )
    data = report(out.suite, out.benchmark, [j.label for j in judges], flagged, result)
    return View(key, judges, flagged, result, data)


def _suite_and_benchmark(viewer: Viewer, request: Request) -> tuple[str, str]:
    suite = viewer.suite_of(request)
    benchmark = request.query_params.get("benchmark") or ""
    if suite not in suite_names(viewer.store):
        raise HTTPException(404, f"no suite {suite!r} in this store")
    return suite, benchmark


def _aggregate(request: Request) -> str:
    found = request.query_params.get("aggregate") or "mean"
    if found not in AGGREGATES:
        raise HTTPException(400, f"aggregate must be one of {', '.join(AGGREGATES)}, not {found!r}")
    return found


def _analysis(viewer: Viewer, request: Request) -> Analysis:
    suite, benchmark = _suite_and_benchmark(viewer, request)
    found = analyse(viewer, suite, benchmark, _aggregate(request))
    if not found.views:
        raise HTTPException(
            404,
            f"no pairwise verdicts for {benchmark!r} in suite {suite!r}: judge its runs with "
            f"assay pairwise --suite {suite} --benchmark {benchmark} --judge MODEL",
        )
    return found


def pairwise_page(request: Request) -> Response:
    """A benchmark's pairwise results; without `benchmark=`, the suite's judged benchmarks."""
    viewer: Viewer = request.app.state.viewer
    suite, benchmark = _suite_and_benchmark(viewer, request)
    if not benchmark:
        return viewer.render(
            "pairwise_index.html",
            suite=suite,
            suites=suite_names(viewer.store),
            benchmarks=pairwise_store.judged_benchmarks(
                viewer.store, latest_suite_runs(viewer.store, suite)
            ),
        )
    found = _analysis(viewer, request)
    return viewer.render(
        "pairwise.html",
        suite=suite,
        bench=benchmark,
        analysis=found,
        aggregates=AGGREGATES,
        panel=PANEL,
    )


def _pair_runs(viewer: Viewer, request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    a, b = request.query_params.get("a") or "", request.query_params.get("b") or ""
    if not a or not b:
        raise HTTPException(400, "give the pair's two runs: a=RUN&b=RUN")
    run_a, run_b = viewer.run(a), viewer.run(b)
    if run_a["id"] > run_b["id"]:  # stored with the smaller run id first
        run_a, run_b = run_b, run_a
    return run_a, run_b


def _judge_labels(viewer: Viewer, runs: Sequence[str]) -> dict[str, Judge]:
    return {j.key: j for j in pairwise_store.judges(viewer.store, runs)}


def _per_judge(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A sample's stored orders by judge key, with the two orders' combined outcome."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        out.setdefault(row["judge_key"], {})[row["order"]] = row
    for found in out.values():
        ab, ba = found.get("ab"), found.get("ba")
        if ab is not None and ba is not None:
            found["outcome"] = combine(
                stored_verdict(ab["status"], ab["winner"], ab["reason"]),
                stored_verdict(ba["status"], ba["winner"], ba["reason"]),
            )
        else:
            found["outcome"] = Outcome("unparsed", reason="no verdict for one order")
    return out


def pair_samples_page(request: Request) -> Response:
    viewer: Viewer = request.app.state.viewer
    run_a, run_b = _pair_runs(viewer, request)
    judge = request.query_params.get("judge") or None
    unscored = request.query_params.get("only") == "unscored"
    page = _page(request)
    ids, total = pairwise_store.pair_samples(
        viewer.store,
        run_a["id"],
        run_b["id"],
        judge=judge,
        unscored=unscored,
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
    )
    rows = pairwise_store.pair_rows(viewer.store, run_a["id"], run_b["id"], ids)
    by_sample: dict[str, list[dict[str, Any]]] = {sid: [] for sid in ids}
    for row in rows:
        if judge is None or row["judge_key"] == judge:
            by_sample[row["sample_id"]].append(row)
    judges = _judge_labels(viewer, [run_a["id"], run_b["id"]])
    if judge is not None and judge not in judges:
        raise HTTPException(404, f"no judge {judge!r} judged this pair")
    suite = request.query_params.get("suite") or (run_a["suites"] or [""])[0]
    return viewer.render(
        "pairwise_samples.html",
        suite=suite,
        run_a=run_a,
        run_b=run_b,
        judge=judge,
        judges=judges,
        unscored=unscored,
        samples=[(sid, _per_judge(by_sample[sid])) for sid in ids],
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
    )


def pair_sample_page(request: Request) -> Response:
    viewer: Viewer = request.app.state.viewer
    run_a, run_b = _pair_runs(viewer, request)
    sample_id = request.query_params.get("id") or ""
    rows = pairwise_store.pair_rows(viewer.store, run_a["id"], run_b["id"], [sample_id], full=True)
    if not rows:
        raise HTTPException(404, f"no pairwise verdicts on sample {sample_id!r} for this pair")
    details = [browse.sample_detail(viewer.store, r["id"], sample_id) for r in (run_a, run_b)]
    judges = _judge_labels(viewer, [run_a["id"], run_b["id"]])
    suite = request.query_params.get("suite") or (run_a["suites"] or [""])[0]
    return viewer.render(
        "pairwise_sample.html",
        suite=suite,
        run_a=run_a,
        run_b=run_b,
        sample_id=sample_id,
        details=details,
        answers=[_answer(d) for d in details],
        judges=judges,
        per_judge=_per_judge(rows),
    )


def _answer(detail: dict[str, Any] | None) -> str | None:
    """The answer the judge saw: the sample's first request's text."""
    if detail is None or not detail["requests"]:
        return None
    text = detail["requests"][0].get("text")
    return None if text is None else str(text)


def _page(request: Request) -> int:
    raw = request.query_params.get("page") or "1"
    try:
        return min(max(int(raw), 1), 10**6)
    except ValueError:
        raise HTTPException(400, f"page must be a whole number, not {raw!r}") from None


def pairwise_file(viewer: Viewer, request: Request) -> Response:
    """The pairwise tables as `.csv` (`table=pairs`, the default, or `ratings`) or `.json`
    (each judge's and the panel's report, as `assay pairwise --format json` prints it)."""
    fmt = _format(request)
    found = _analysis(viewer, request)
    name = f"pairwise-{found.suite}-{found.benchmark}"
    if fmt == "json":
        data = {
            "suite": found.suite,
            "benchmark": found.benchmark,
            "judges": [v.data for v in found.views if v.key != PANEL],
            "panel": next((v.data for v in found.views if v.key == PANEL), None),
        }
        return Response(
            orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY),
            media_type=FORMATS[fmt],
            headers=_attachment(f"{name}.json"),
        )
    table = request.query_params.get("table") or "pairs"
    if table not in ("pairs", "ratings"):
        raise HTTPException(400, f"table must be pairs or ratings, not {table!r}")
    buffer = io.StringIO()
    writer = csv_safety.Writer(buffer)
    writer.writerow(PAIR_COLUMNS if table == "pairs" else RATING_COLUMNS)
    for view in found.views:
        who = PANEL if view.key == PANEL else view.judges[0].label
        if table == "pairs":
            for pair in view.result.pairs:
                values = pair.to_dict()
                writer.writerow([who, *(values[c] for c in PAIR_COLUMNS[1:])])
        else:
            for rank, r in enumerate(view.result.ratings, 1):
                writer.writerow([who, rank, r.model, r.rating, r.lo, r.hi])
    return Response(
        buffer.getvalue(), media_type=FORMATS[fmt], headers=_attachment(f"{name}-{table}.csv")
    )
