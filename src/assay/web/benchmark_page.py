"""A benchmark's page in a suite: what it is, every model's metrics on it, and a breakdown of
the main metric by a metadata field (MMLU's subject, BBQ's category, ...).

The breakdown groups a run's scored samples by one metadata value in the database; a finished
run's breakdown never changes, so it is computed once per (run, field), on a background thread
(the page says so meanwhile), and kept.
"""

from __future__ import annotations

import inspect
import logging
import queue
import sys
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from assay.store import schema
from assay.store.queries import latest_suite_runs, suite_names
from assay.web import pairwise_store

if TYPE_CHECKING:
    from assay.web.app import Viewer

PREFERRED = ("subject", "category", "subcategory", "type", "task", "source", "domain", "language")
PROBE = 200  # samples read to find fields worth grouping by
MAX_GROUPS = 200
RECENT = 30.0
Group = tuple[str, float, int]
_cache: OrderedDict[tuple[Any, ...], tuple[float, list[Group]]] = OrderedDict()
_busy: set[tuple[Any, ...]] = set()
_todo: queue.Queue[tuple[Viewer, dict[str, Any], str]] = queue.Queue()
_worker: threading.Thread | None = None
_lock = threading.Lock()
log = logging.getLogger(__name__)


def describe(name: str) -> tuple[str, str]:
    """The benchmark's one-line description and its module's documentation."""
    try:
        from assay.benchmarks.registry import all_benchmarks

        info = all_benchmarks().get(name)
    except Exception:  # a broken plugin must not take the page down
        return "", ""
    if info is None:
        return "", ""
    module = sys.modules.get(info.factory.__module__)
    doc = inspect.getdoc(module) if module is not None else ""
    return info.description, doc or ""


def breakdown_fields(viewer: Viewer, run_id: str) -> list[str]:
    """Metadata fields with a few repeated scalar values in the run's first samples."""
    s = schema.samples
    query = sa.select(s.c.metadata).where(s.c.run_id == run_id).order_by(s.c.idx).limit(PROBE)
    values: dict[str, set[str]] = {}
    with viewer.store.connect() as conn:
        rows = [m or {} for (m,) in conn.execute(query)]
    for meta in rows:
        for key, value in meta.items():
            if isinstance(value, (str, int, bool)) and len(str(value)) <= 80:
                values.setdefault(key, set()).add(str(value))
    fields = [
        k
        for k, v in values.items()
        if 1 < len(v) <= MAX_GROUPS and (k in PREFERRED or len(v) < len(rows))
    ]
    return sorted(
        fields, key=lambda k: (k not in PREFERRED, PREFERRED.index(k) if k in PREFERRED else 0, k)
    )


def _breakdown_query(viewer: Viewer, run: dict[str, Any], field: str) -> list[Group]:
    s, sc = schema.samples, schema.scores
    value = s.c.metadata[field].as_string()
    query = (
        sa.select(value, sa.func.avg(sc.c.value), sa.func.count())
        .select_from(
            sc.join(s, sa.and_(s.c.run_id == sc.c.run_id, s.c.sample_id == sc.c.sample_id))
        )
        .where(sc.c.run_id == run["id"], sc.c.metric == run["main_metric"])
        .group_by(value)
        .order_by(value)
        .limit(MAX_GROUPS + 1)
    )
    with viewer.store.connect() as conn:
        return [(str(v), float(m), int(n)) for v, m, n in conn.execute(query) if v is not None]


def _key(run: dict[str, Any], field: str) -> tuple[Any, ...]:
    return (run["id"], run["status"], run.get("finished_at"), field)


def breakdown(viewer: Viewer, run: dict[str, Any], field: str) -> list[Group] | None:
    """(value, mean main metric, n) per value of metadata `field` in the run, or None while it
    is being computed on a background thread (grouping a large run takes longer than a page
    should). A finished run's breakdown is kept; a running one's is recomputed after RECENT s."""
    key = _key(run, field)
    with _lock:
        found = _cache.get(key)
        if found is not None and (run["status"] != "running" or time.time() - found[0] < RECENT):
            _cache.move_to_end(key)
            return found[1]
        if key in _busy:
            return found[1] if found else None
        _busy.add(key)
        global _worker
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_work, daemon=True, name="assay-breakdowns")
            _worker.start()
    _todo.put((viewer, run, field))
    return found[1] if found else None


def _work() -> None:
    """One worker computes breakdowns one at a time: several large GROUP BYs at once would
    slow every page the server is answering meanwhile."""
    while True:
        viewer, run, field = _todo.get()
        key = _key(run, field)
        try:
            groups = _breakdown_query(viewer, run, field)
        except Exception:  # the page says it is missing; the log says why
            log.exception("breakdown of run %s by %r failed", run["id"], field)
            groups = []
        with _lock:
            _cache[key] = (time.time(), groups)
            _busy.discard(key)
            while len(_cache) > 2_000:
                _cache.popitem(last=False)


def wait_breakdowns(timeout: float = 30.0) -> None:
    """Block until no breakdown is being computed (tests and benchmarks use this)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _lock:
            if not _busy:
                return
        time.sleep(0.02)


async def benchmark_page(request: Request) -> Response:
    viewer: Viewer = request.app.state.viewer
    name = request.path_params["benchmark"]
    suites = suite_names(viewer.store)
    suite = request.query_params.get("suite") or ""
    all_runs = latest_suite_runs(viewer.store, suite) if suite in suites else []
    runs = sorted((r for r in all_runs if r["benchmark"] == name), key=lambda r: r["model"])
    if not runs:
        raise HTTPException(404, f"no runs of benchmark {name!r} in suite {suite!r}")
    base = name.split(":", 1)[0]
    description, doc = describe(base)
    metric_names = sorted(
        {m for r in runs for m in ((r.get("summary") or {}).get("metrics") or {})}
    )
    main = runs[0]["main_metric"]
    metric_names.sort(key=lambda m: (m != main, m))
    run_metric_names = sorted(
        {m for r in runs for m in ((r.get("summary") or {}).get("run_metrics") or {})}
    )
    fields = breakdown_fields(viewer, runs[0]["id"])
    field = request.query_params.get("by") or (fields[0] if fields else "")
    if field and field not in fields:
        raise HTTPException(
            400, f"by must be one of {', '.join(fields) or 'no field'}, not {field!r}"
        )
    table: dict[str, dict[str, tuple[float, int]]] = {}
    pending = 0
    for r in runs if field else []:
        found = breakdown(viewer, r, field)
        if found is None:
            pending += 1
        for value, mean, n in found or []:
            table.setdefault(value, {})[r["model"]] = (mean, n)
    return viewer.render(
        "benchmark.html",
        bench=name,
        suite=suite,
        description=description,
        doc=doc,
        groups=sorted({g for r in runs for g in (r.get("groups") or ())}),
        runs=runs,
        main=main,
        higher=bool(runs[0]["higher_is_better"]),
        metric_names=metric_names,
        run_metric_names=run_metric_names,
        fields=fields,
        field=field,
        breakdown=sorted(table.items()),
        capped=len(table) > MAX_GROUPS,
        pending=pending,
        pairwise=pairwise_store.has_verdicts(viewer.store, [r["id"] for r in runs]),
    )
