"""Read-side queries shared by the CLI and the viewer."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store import schema
from assay.store.db import Store


def suite_names(store: Store) -> list[str]:
    with store.connect() as conn:
        return [r[0] for r in conn.execute(sa.select(schema.suites.c.name).order_by("name"))]


def default_suite(store: Store, *, prefer: str | None = None) -> str | None:
    """The suite to show when none is named: `prefer` if the store has it, else the most
    recently updated suite (a run of it added, started or finished last), else None.

    The CLI prefers `default` (where `assay run` writes without `--suite`); the viewer's
    front page prefers nothing and opens the suite that changed last.
    """
    names = suite_names(store)
    if prefer is not None and prefer in names:
        return prefer
    if len(names) <= 1:
        return names[0] if names else None
    s, r, sr = schema.suites, schema.runs, schema.suite_runs
    query = (
        sa.select(
            s.c.name,
            s.c.created_at,
            sa.func.max(sr.c.added_at),
            sa.func.max(sa.func.coalesce(r.c.finished_at, r.c.started_at, r.c.created_at)),
        )
        .select_from(s.outerjoin(sr, sr.c.suite == s.c.name).outerjoin(r, r.c.id == sr.c.run_id))
        .group_by(s.c.name, s.c.created_at)
    )
    with store.connect() as conn:
        rows = conn.execute(query).all()
    latest: dict[str, float] = {
        str(name): max(float(t) for t in times if t is not None) for name, *times in rows
    }
    return max(sorted(latest), key=lambda name: latest[name])


def latest_suite_runs(store: Store, suite: str) -> list[dict[str, Any]]:
    """The newest run with a summary for each (benchmark, source, model) in the suite.

    A benchmark is keyed by its variant name and, for a file-defined one, the file it came from
    (`runs.benchmark_source`, "" for a registered name): a YAML benchmark named like a built-in
    sits beside it rather than hiding it, and its column is labelled with its file
    (`mmlu (mine.yaml)`). Within a key the newest run wins; `older_runs` lists the ids of the
    runs it supersedes (other data, prompt, limit...), newest first, so tables can say that an
    older result exists. Each row's `benchmark` is the column label; `variant` is the run's own
    benchmark name.
    """
    r, sr = schema.runs, schema.suite_runs
    with store.connect() as conn:
        query = (
            sa.select(
                r.c.id,
                r.c.benchmark,
                _benchmark_source(conn),
                r.c.model,
                r.c.main_metric,
                r.c.higher_is_better,
                r.c.groups,
                r.c.status,
                r.c.summary,
                r.c.finished_at,
                r.c.benchmark_version,
                r.c.dataset_hash,
            )
            .join(sr, sr.c.run_id == r.c.id)
            .where(sr.c.suite == suite, r.c.summary.is_not(None))
            .order_by(r.c.finished_at, r.c.id)
        )
        found = [dict(row) for row in conn.execute(query).mappings()]
    # runs stored before sources were recorded (null) join the one source their name has
    sources: dict[str, set[str]] = {}
    for row in found:
        if row["benchmark_source"] is not None:
            sources.setdefault(row["benchmark"], set()).add(row["benchmark_source"])
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in found:
        source = row["benchmark_source"]
        if source is None:
            known = sources.get(row["benchmark"], set())
            source = next(iter(known)) if len(known) == 1 else ""
        key = (row["benchmark"], source, row["model"])
        older = latest.get(key)
        latest[key] = {
            **row,
            "benchmark_source": source,
            "variant": row["benchmark"],
            "older_runs": [older["id"], *older["older_runs"]] if older else [],
        }
    runs = list(latest.values())
    labels = _column_labels({(r["variant"], r["benchmark_source"]) for r in runs})
    for run in runs:
        run["benchmark"] = labels[(run["variant"], run["benchmark_source"])]
    return runs


def _benchmark_source(conn: Connection) -> Any:
    """The column, or null in a store from before it existed (opened read-only, not upgraded)."""
    names = {c["name"] for c in sa.inspect(conn).get_columns(schema.runs.name)}
    if "benchmark_source" in names:
        return schema.runs.c.benchmark_source
    return sa.null().label("benchmark_source")


def _column_labels(keys: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The variant name, unless benchmarks from different sources share it: then each
    file-defined one adds its file's name (or its whole path, if the names clash too)."""
    labels: dict[tuple[str, str], str] = {}
    by_name: dict[str, list[str]] = {}
    for name, source in keys:
        by_name.setdefault(name, []).append(source)
    for name, sources in by_name.items():
        if len(sources) == 1:
            labels[(name, sources[0])] = name
            continue
        short = {s: PurePath(s.rsplit(":", 1)[0] if ".py:" in s else s).name for s in sources}
        clash = len(set(short.values())) < len(sources)
        for source in sources:
            if not source:
                labels[(name, source)] = name
            else:
                labels[(name, source)] = f"{name} ({source if clash else short[source]})"
    return labels


def run_provenance(store: Store, run_id: str) -> dict[str, Any] | None:
    """A run's recorded provenance with its dataset hash, or None for an unknown run."""
    r, p = schema.runs, schema.run_provenance
    query = (
        sa.select(r.c.dataset_hash, r.c.benchmark_version, r.c.assay_version, p.c.provenance)
        .select_from(r.outerjoin(p, p.c.run_id == r.c.id))
        .where(r.c.id == run_id)
    )
    with store.connect() as conn:
        row = conn.execute(query).mappings().first()
    if row is None:
        return None
    out: dict[str, Any] = dict(row["provenance"] or {})
    out.setdefault("assay_version", row["assay_version"])
    out.setdefault("benchmark_version", row["benchmark_version"])
    out["dataset_hash"] = row["dataset_hash"]
    return out


def option_loglikelihoods(store: Store, model: str) -> dict[tuple[str, int], tuple[float, int]]:
    """(sample id, option) -> (log-likelihood, tokens) from a model's log-likelihood requests."""
    r, rq = schema.runs, schema.requests
    query = (
        sa.select(rq.c.sample_id, rq.c.idx, rq.c.response)
        .join(r, r.c.id == rq.c.run_id)
        .where(r.c.model == model, rq.c.response.is_not(None))
    )
    with store.connect() as conn:
        return {
            (sample_id, idx): (response["loglikelihood"], response["continuation_tokens"])
            for sample_id, idx, response in conn.execute(query)
            if response.get("loglikelihood") is not None
        }


def superseded_runs(
    store: Store, *, run_id: str, suite: str, benchmark: str, model: str, source: str | None
) -> list[str]:
    """For a run not stored yet: the suite's runs of the same benchmark (from the same file, or
    of unknown file) and model with other ids (other inputs), newest first; none once the run
    itself is stored."""
    t, sr = schema.runs, schema.suite_runs
    query = (
        sa.select(t.c.id)
        .join(sr, sr.c.run_id == t.c.id)
        .where(
            sr.c.suite == suite,
            t.c.benchmark == benchmark,
            t.c.model == model,
            t.c.id != run_id,
            sa.or_(t.c.benchmark_source == source, t.c.benchmark_source.is_(None)),
        )
        .order_by(t.c.created_at.desc())
    )
    with store.connect() as conn:
        if conn.execute(sa.select(t.c.id).where(t.c.id == run_id)).first():
            return []
        return list(conn.execute(query).scalars())
