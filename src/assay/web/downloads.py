"""Downloads: a suite's leaderboard and a run's samples list as CSV or JSON.

The leaderboard file is what `assay export --format csv|json` writes for the same suite (the
same analysis and the same rendering code); a run's file holds its summary and every sample the
page's filter, sort and search select, with the columns the samples table shows.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from assay import csv_safety
from assay.analysis.leaderboard import leaderboard_from_store
from assay.cli.render import render
from assay.store import browse
from assay.store.queries import latest_suite_runs

if TYPE_CHECKING:
    from assay.web.app import Viewer

FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
SAMPLE_COLUMNS = (
    "idx",
    "sample_id",
    "status",
    "prediction",
    "score",
    "correct",
    "latency_s",
    "output_tokens",
    "error",
)


def _format(request: Request) -> str:
    fmt = str(request.path_params["fmt"])
    if fmt not in FORMATS:
        raise HTTPException(404, f"downloads come as .csv or .json, not .{fmt}")
    return fmt


def _attachment(name: str) -> dict[str, str]:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return {"content-disposition": f'attachment; filename="{safe}"'}


def leaderboard_file(viewer: Viewer, request: Request) -> Response:
    """The leaderboard of `?suite=` (default: the page's) as `assay export` writes it."""
    fmt = _format(request)
    view = request.query_params.get("view") or "benchmarks"
    if view not in ("benchmarks", "groups"):
        raise HTTPException(400, f"view must be benchmarks or groups, not {view!r}")
    suite = viewer.suite_of(request)
    runs = latest_suite_runs(viewer.store, suite) if suite else []
    if not runs:
        raise HTTPException(404, f"suite {suite!r} has no finished runs to download")
    board = viewer.standings.get(suite, runs) or leaderboard_from_store(viewer.store, suite)
    return Response(
        render(board, fmt, view),
        media_type=FORMATS[fmt],
        headers=_attachment(f"leaderboard-{suite}-{view}.{fmt}"),
    )


def run_samples_file(viewer: Viewer, request: Request) -> Response:
    """Every sample of a run's current list view (all pages), with the run's summary in JSON."""
    from assay.web.app import sample_query

    fmt = _format(request)
    run = viewer.run(request.path_params["run_id"])
    sq = sample_query(request)
    rows = browse.list_rows(viewer.store, run, sq)
    name = f"{run['benchmark']}-{run['model']}-{run['id'][:8]}.{fmt}"
    if fmt == "csv":
        return StreamingResponse(_csv(rows), media_type=FORMATS[fmt], headers=_attachment(name))
    data = {
        "run": {
            k: run[k]
            for k in ("id", "benchmark", "model", "status", "main_metric", "higher_is_better")
        },
        "summary": run.get("summary"),
        "query": {k: v for k, v in _query_items(sq)},
        "samples": [{k: row.get(k) for k in SAMPLE_COLUMNS} for row in rows],
    }
    return Response(
        orjson.dumps(data, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS),
        media_type=FORMATS[fmt],
        headers=_attachment(name),
    )


def _query_items(sq: browse.SampleQuery) -> Iterator[tuple[str, Any]]:
    from assay.web.app import _sample_params

    for key, value in _sample_params(sq):
        if value not in (None, ""):
            yield key, value


def _csv(rows: list[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv_safety.Writer(buffer)
    writer.writerow(SAMPLE_COLUMNS)
    for i, row in enumerate(rows):
        writer.writerow(["" if row.get(k) is None else row.get(k) for k in SAMPLE_COLUMNS])
        if i % 1000 == 999:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
