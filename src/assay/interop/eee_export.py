"""`assay export --format eee`: a suite's runs as Every Eval Ever documents.

Each run (one benchmark variant x one model) becomes, under the output folder (the datastore's
`data/`), `<benchmark>/<developer>/<model>/<uuid>.json` and `<uuid>_samples.jsonl`:

- the aggregate: assay as the library (the run spec, provenance and suite in its details), the
  model (`model_info.name` is assay's label), and one result per metric: the mean with its 95% CI
  (Wilson for 0/1 values, else percentile bootstrap, clustered where the samples name a cluster),
  standard error and n, exactly as assay's leaderboard shows them. Run-level figures (corpus BLEU,
  lm-eval's task aggregates) are results too, without instance rows;
- the instance rows: per sample and metric its input, references, choices, the prompt sent, the
  model's output, the answer read and the score. The first row of each sample also carries the
  sample and its raw requests and responses as assay stored them (`assay_sample`,
  `assay_requests`), so `assay import-eee` restores the run exactly.

A run imported from EEE is written as the evaluation it came from (its original name, id, source,
library and model, kept at import), so export -> import round trips repeat the same records
instead of adding an `eee/` prefix each time.

A sample whose model call failed is never scored by assay: its rows carry the `error`, score 0
(the schema needs a number) and are left out of the aggregate means, as in assay.

Samples are read from the store in batches and written line by line. All files are written
beside their destinations first and renamed into place only when every run is done, so a failure
leaves no partial export; exporting again replaces the same files (their names derive from the
run).
"""

from __future__ import annotations

import hashlib
import math
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
import sqlalchemy as sa

from assay.analysis.stats import DEFAULT_RESAMPLES
from assay.errors import UserError
from assay.interop.eee import (
    LIBRARY,
    REQUESTS_KEY,
    SAMPLE_KEY,
    SOURCE,
    Eee,
    file_uuid,
    json_text,
    model_id,
)
from assay.metrics.metric import Direction, Values
from assay.metrics.registry import METRICS
from assay.store import schema
from assay.store.payloads import sample_columns

BATCH = 1_000  # samples read from the store at a time
_BOUNDS = {
    Values.BINARY: (0.0, 1.0),
    Values.UNIT: (0.0, 1.0),
    Values.SIGNED_UNIT: (-1.0, 1.0),
    Values.COUNT: (0.0, math.inf),
    Values.UNBOUNDED: (-math.inf, math.inf),
}


@dataclass
class Exported:
    run_id: str
    benchmark: str
    model: str
    aggregate: Path
    samples: Path
    rows: int


@dataclass
class _Staged:
    """Files written beside their destinations, renamed into place at the end."""

    moves: list[tuple[Path, Path]] = field(default_factory=list)

    def open(self, final: Path) -> tuple[Path, IO[bytes]]:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        self.moves.append((tmp, final))
        return tmp, tmp.open("wb")

    def commit(self) -> None:
        for tmp, final in self.moves:
            os.replace(tmp, final)
        self.moves.clear()

    def discard(self) -> None:
        for tmp, _ in self.moves:
            tmp.unlink(missing_ok=True)
        self.moves.clear()


def export_runs(
    conn: sa.Connection, eee: Eee, run_ids: Sequence[str], out: Path, suite: str
) -> list[Exported]:
    """Write each run's aggregate and instance rows under `out`; all of them or none."""
    staged = _Staged()
    try:
        done = [_export_run(conn, eee, run_id, out, suite, staged) for run_id in run_ids]
        staged.commit()
    except OSError as exc:
        staged.discard()
        raise UserError(
            f"cannot write under {str(out)!r}: {exc.strerror or exc}; pass an --output folder "
            "you can write to, on a disk with space"
        ) from None
    except BaseException:
        staged.discard()
        raise
    return done


def _export_run(
    conn: sa.Connection, eee: Eee, run_id: str, out: Path, suite: str, staged: _Staged
) -> Exported:
    query = sa.select(schema.runs).where(schema.runs.c.id == run_id)
    run = _plain_keys(conn.execute(query).mappings().one())
    provenance = conn.execute(
        sa.select(schema.run_provenance.c.provenance).where(
            schema.run_provenance.c.run_id == run_id
        )
    ).scalar()
    summary = run["summary"] or {}
    origin = _origin(run, provenance if isinstance(provenance, dict) else {}, suite)
    # an imported run's own model id (its files lie where the datastore puts that model)
    ident, developer = str(origin.model_info["id"]), origin.model_info.get("developer")
    name = origin.file
    try:
        folder = eee.io.datastore_output_dir(out, origin.collection, ident, developer)
        repo_path = eee.io.datastore_repo_file_path(
            origin.collection, ident, developer, f"{name}_samples.jsonl"
        )
    except ValueError as exc:
        raise UserError(f"run {run_id} ({run['benchmark']} · {run['model']}): {exc}") from None
    metrics = _metric_order(run, summary)
    observed = _observed(conn, run_id)
    results = [_result(eee, run, origin, m, summary, observed.get(m)) for m in metrics]
    results += _run_level_results(eee, run, origin, summary)
    if not results:
        raise UserError(f"run {run_id} ({run['benchmark']} · {run['model']}) has no scores")
    samples_path = folder / f"{name}_samples.jsonl"
    _, handle = staged.open(samples_path)
    digest = hashlib.sha256()
    rows = 0
    with handle:
        context = _RowContext(eee, run, origin, ident, metrics)
        for line in _instance_lines(conn, context):
            handle.write(line)
            digest.update(line)
            rows += 1
    log = eee.types.EvaluationLog(
        schema_version=eee.schema_version,
        evaluation_id=origin.evaluation_id,
        evaluation_timestamp=origin.timestamp,
        retrieved_timestamp=str(int(time.time())),
        source_metadata=eee.types.SourceMetadata.model_validate(origin.source_metadata),
        eval_library=eee.types.EvalLibrary.model_validate(origin.eval_library),
        model_info=eee.types.ModelInfo.model_validate(origin.model_info),
        evaluation_results=results,
        detailed_evaluation_results=eee.types.DetailedEvaluationResults(
            format="jsonl",
            file_path=repo_path,
            hash_algorithm="sha256",
            checksum=digest.hexdigest(),
            total_rows=rows,
        ),
    )
    aggregate_path = folder / f"{name}.json"
    _, handle = staged.open(aggregate_path)
    with handle:
        document = log.model_dump(mode="json", exclude_none=True)
        handle.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    return Exported(run_id, run["benchmark"], run["model"], aggregate_path, samples_path, rows)


@dataclass(frozen=True)
class _Origin:
    """What names a run's EEE records. A native run is named from the store; a run imported
    from EEE keeps the names and descriptions it came with (kept at import in its spec and
    provenance), so exporting it writes the records it was imported from again rather than
    wrapping them once more (`eee/eee/<name>`, an id with the import's time, a run spec that
    nests the previous one)."""

    name: str  # evaluation_name
    collection: str  # the datastore folder: the benchmark, without its variant
    evaluation_id: str
    timestamp: str  # evaluation_timestamp
    file: str  # the UUID the two files are named by
    spec: dict[str, Any]  # the assay run spec that says how the model was prompted
    source_metadata: dict[str, Any]
    eval_library: dict[str, Any]
    model_info: dict[str, Any]


def _origin(run: dict[str, Any], provenance: dict[str, Any], suite: str) -> _Origin:
    spec = run["spec"] or {}
    label = run["model"]
    ident = model_id(label)
    finished = int(run["finished_at"] or run["created_at"])
    model_info = {
        "name": label,
        "id": ident,
        "developer": ident.split("/")[0],
        "inference_platform": label.split("/")[0],
        "additional_details": {"assay_model": label},
    }
    if spec.get("source") == SOURCE and spec.get("evaluation_name") and spec.get("evaluation_id"):
        return _imported_origin(run, spec, provenance, model_info, finished)
    return _Origin(
        name=run["benchmark"],
        collection=run["benchmark_name"],
        evaluation_id=f"{run['benchmark']}/{ident}/{finished}",
        timestamp=str(finished),
        file=file_uuid(run["id"], run["finished_at"]),
        spec=spec,
        source_metadata={
            "source_name": LIBRARY,
            "source_type": "evaluation_run",
            "source_organization_name": "unknown",
            "evaluator_relationship": "third_party",
            "additional_details": {
                "assay_suite": suite,
                "assay_run_id": run["id"],
                "assay_source": str(spec.get("source") or LIBRARY),
            },
        },
        eval_library={
            "name": LIBRARY,
            "version": str(run["assay_version"]),
            "additional_details": {
                "run_spec": _text(spec),
                "provenance": _text(provenance),
                "main_metric": str(run["main_metric"]),
            },
        },
        model_info=model_info,
    )


def _imported_origin(
    run: dict[str, Any],
    spec: dict[str, Any],
    provenance: dict[str, Any],
    model_info: dict[str, Any],
    finished: int,
) -> _Origin:
    """A run `assay import-eee` wrote, named as the aggregate it came from. Runs imported
    before the import kept everything needed fall back to the store's names, the import's
    `eee/` prefix removed."""
    name = str(spec["evaluation_name"])
    reported = (run["summary"] or {}).get("eee_results") or [{}]
    dataset = (reported[0].get("source_data") or {}).get("dataset_name")
    library = spec.get("eval_library") or {}
    run_spec = json_text((library.get("additional_details") or {}).get("run_spec"))
    run_spec = run_spec if isinstance(run_spec, dict) else {}
    original = provenance.get("model_info")
    if isinstance(original, dict) and original.get("id"):
        details = {**(original.get("additional_details") or {}), "assay_model": run["model"]}
        model_info = {**original, "additional_details": details}
    path = Path(str(provenance.get("path") or ""))
    file = file_uuid(run["id"], spec["evaluation_id"])
    if provenance.get("evaluation_names") == 1 and _is_uuid(path.stem):
        file = path.stem  # the aggregate held this run alone: the same files again
    return _Origin(
        name=name,
        collection=str(dataset or name.split(":")[0]),
        evaluation_id=str(spec["evaluation_id"]),
        timestamp=str(provenance.get("evaluation_timestamp") or finished),
        file=file,
        spec=run_spec if library.get("name") == LIBRARY and run_spec else spec,
        source_metadata=spec.get("source_metadata") or {},
        eval_library=library,
        model_info=model_info,
    )


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def _metric_order(run: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    """The run's per-sample metrics, its main metric first."""
    names = sorted(summary.get("metrics") or {})
    main = run["main_metric"]
    return [main, *(n for n in names if n != main)] if main in names else names


def _observed(conn: sa.Connection, run_id: str) -> dict[str, tuple[bool, float, float]]:
    """Per metric: whether every value is 0 or 1, and the smallest and largest value."""
    sc = schema.scores
    other = sa.case((sc.c.value.in_([0.0, 1.0]), 0), else_=1)
    query = (
        sa.select(sc.c.metric, sa.func.sum(other), sa.func.min(sc.c.value), sa.func.max(sc.c.value))
        .where(sc.c.run_id == run_id)
        .group_by(sc.c.metric)
    )
    return {m: (not n_other, lo, hi) for m, n_other, lo, hi in conn.execute(query)}


def _result(
    eee: Eee,
    run: dict[str, Any],
    origin: _Origin,
    metric: str,
    summary: dict[str, Any],
    observed: tuple[bool, float, float] | None,
) -> Any:
    stats = (summary.get("metrics") or {})[metric]
    binary, _, _ = observed or (False, 0.0, 0.0)
    known = METRICS.get(metric)
    if metric == run["main_metric"]:
        higher: bool | None = bool(run["higher_is_better"])
    else:
        higher = known.higher_is_better if known is not None else True
    details = {"n_errors": str(int(summary.get("n_errors", 0)))}
    if known is not None and known.direction in (Direction.ZERO, Direction.NONE):
        details["direction"] = known.direction.value
    if known is not None:
        score_type = "binary" if known.values is Values.BINARY else "continuous"
        low, high = _BOUNDS[known.values]
    else:
        score_type = "binary" if binary else "continuous"
        low, high = (0.0, 1.0) if binary else (-math.inf, math.inf)
    return eee.types.EvaluationResult(
        evaluation_result_id=metric,
        evaluation_name=origin.name,
        source_data=_source_data(eee, run, origin),
        evaluation_timestamp=origin.timestamp,
        metric_config=eee.types.MetricConfig(
            evaluation_description=(known.description if known else "") or metric,
            metric_id=metric,
            metric_name=metric,
            lower_is_better=higher is False,
            score_type=score_type,
            min_score=low,
            max_score=high,
            additional_details=details,
        ),
        score_details=eee.types.ScoreDetails(
            score=stats["mean"],
            uncertainty=_uncertainty(eee, stats, binary),
            details={"n_scored": str(stats["n"])},
        ),
        generation_config=_generation(eee, origin.spec),
    )


def _uncertainty(eee: Eee, stats: dict[str, Any], binary: bool) -> Any:
    """assay's interval as the schema states one: Wilson for 0/1 values, else bootstrap."""
    lo, hi, se = (_finite(stats.get(k)) for k in ("ci_lo", "ci_hi", "se"))
    clustered = stats.get("clusters") is not None
    method = "wilson" if binary else "percentile bootstrap"
    if clustered:
        method += f" clustered by sample source ({stats['clusters']} clusters)"
    return eee.types.Uncertainty(
        standard_error=None
        if se is None
        else eee.types.StandardError(value=se, method="clustered" if clustered else "analytic"),
        confidence_interval=None
        if lo is None or hi is None
        else eee.types.ConfidenceInterval(lower=lo, upper=hi, confidence_level=0.95, method=method),
        num_samples=int(stats["n"]),
        num_bootstrap_samples=None if binary or lo is None else DEFAULT_RESAMPLES,
    )


def _run_level_results(
    eee: Eee, run: dict[str, Any], origin: _Origin, summary: dict[str, Any]
) -> list[Any]:
    """Figures computed over the whole run (no per-sample values, so no instance rows)."""
    out = []
    for name, value in sorted((summary.get("run_metrics") or {}).items()):
        number = _finite(value)
        if number is None:
            continue
        out.append(
            eee.types.EvaluationResult(
                evaluation_result_id=f"run/{name}",
                evaluation_name=origin.name,
                source_data=_source_data(eee, run, origin),
                metric_config=eee.types.MetricConfig(
                    evaluation_description=f"{name}: computed over the whole run",
                    metric_id=name,
                    metric_name=name,
                    lower_is_better=False,
                    score_type="continuous",
                    min_score=-math.inf,
                    max_score=math.inf,
                    additional_details={"aggregation": "run"},
                ),
                score_details=eee.types.ScoreDetails(score=number),
            )
        )
    return out


def _source_data(eee: Eee, run: dict[str, Any], origin: _Origin) -> Any:
    details = {
        "benchmark": origin.name,
        "benchmark_version": str(run["benchmark_version"]),
        "groups": ",".join(run["groups"] or []),
    }
    if run["dataset_hash"]:
        details["dataset_hash"] = str(run["dataset_hash"])
    return eee.types.SourceDataPrivate(
        dataset_name=origin.collection, source_type="other", additional_details=details
    )


def _generation(eee: Eee, spec: dict[str, Any]) -> Any:
    prompt = spec.get("prompt")
    if not isinstance(prompt, dict):
        return None
    max_tokens = prompt.get("max_tokens")
    return eee.types.GenerationConfig(
        generation_args=eee.types.GenerationArgs(
            temperature=prompt.get("temperature"),
            top_p=prompt.get("top_p"),
            max_tokens=max_tokens if isinstance(max_tokens, int) and max_tokens >= 1 else None,
        ),
        additional_details={"prompt_format": _text(prompt)},
    )


@dataclass
class _RowContext:
    eee: Eee
    run: dict[str, Any]
    origin: _Origin
    model_id: str
    metrics: list[str]

    @property
    def extraction(self) -> str:
        prompt = self.origin.spec.get("prompt")
        if isinstance(prompt, dict):
            return "/".join(str(prompt[k]) for k in ("kind", "extract") if prompt.get(k))
        return str(self.origin.spec.get("source") or LIBRARY)


def _instance_lines(conn: sa.Connection, context: _RowContext) -> Iterator[bytes]:
    """The run's instance rows, in sample order, read from the store in batches."""
    s, rq, sc = schema.samples, schema.requests, schema.scores
    run_id = context.run["id"]
    last = -1
    while True:
        samples = [
            _plain_keys(r)
            for r in conn.execute(
                sa.select(*sample_columns(s))  # a long answer may be a span of its response
                .where(s.c.run_id == run_id, s.c.idx > last)
                .order_by(s.c.idx)
                .limit(BATCH)
            ).mappings()
        ]
        if not samples:
            return
        last = samples[-1]["idx"]
        ids = [x["sample_id"] for x in samples]
        requests: dict[str, list[dict[str, Any]]] = {}
        for r in conn.execute(
            sa.select(rq).where(rq.c.run_id == run_id, rq.c.sample_id.in_(ids)).order_by(rq.c.idx)
        ).mappings():
            requests.setdefault(r["sample_id"], []).append(_plain_keys(r))
        scores: dict[str, dict[str, float]] = {}
        for sample_id, metric, value in conn.execute(
            sa.select(sc.c.sample_id, sc.c.metric, sc.c.value).where(
                sc.c.run_id == run_id, sc.c.sample_id.in_(ids)
            )
        ):
            scores.setdefault(sample_id, {})[metric] = value
        for sample in samples:
            sid = sample["sample_id"]
            yield from _sample_lines(context, sample, requests.get(sid, []), scores.get(sid, {}))


def _sample_lines(
    context: _RowContext,
    sample: dict[str, Any],
    requests: list[dict[str, Any]],
    scores: dict[str, float],
) -> Iterator[bytes]:
    """One row per metric the sample has a score for (every metric, with the error, for a
    failed sample; one unscored row for a sample with neither)."""
    eee = context.eee.instances
    raw = _input_text(sample["input"])
    references = [str(r) for r in sample["references"] or []]
    texts = [r["text"] for r in requests if r["text"] is not None]
    answer = sample["prediction"]
    failed = sample["status"] == "error"
    tokens_in = [r["input_tokens"] for r in requests if r["input_tokens"] is not None]
    tokens_out = [r["output_tokens"] for r in requests if r["output_tokens"] is not None]
    latency = [r["latency_s"] for r in requests if r["latency_s"] is not None]
    # idx is the sample's place in this store (an import numbers its samples afresh, in the
    # same order): carried, it would make every round trip's rows differ
    kept = {k: v for k, v in sample.items() if k not in ("run_id", "updated_at", "idx")}
    payload = {
        SAMPLE_KEY: _text(kept),
        REQUESTS_KEY: _text(
            [{k: v for k, v in r.items() if k not in ("run_id", "created_at")} for r in requests]
        ),
    }
    shared: dict[str, Any] = {
        "schema_version": context.eee.schema_version,
        "evaluation_id": context.origin.evaluation_id,
        "model_id": context.model_id,
        "evaluation_name": context.origin.name,
        "sample_id": str(sample["sample_id"]),
        "sample_hash": hashlib.sha256(
            orjson.dumps({"raw": raw, "reference": references}, option=orjson.OPT_SORT_KEYS)
        ).hexdigest(),
        "interaction_type": "single_turn",
        "input": eee.Input(
            raw=raw,
            formatted=_formatted(requests[0]["request"]) if requests else None,
            reference=references,
            choices=[str(c) for c in sample["choices"]] if sample["choices"] else None,
        ),
        "output": eee.Output(raw=texts or [answer or ""]),
        "answer_attribution": [
            eee.AnswerAttributionItem(
                turn_idx=0,
                source="output.raw",
                extracted_value=answer or "",
                extraction_method=context.extraction,
                is_terminal=True,
            )
        ],
        "token_usage": eee.TokenUsage(
            input_tokens=sum(tokens_in),
            output_tokens=sum(tokens_out),
            total_tokens=sum(tokens_in) + sum(tokens_out),
        )
        if tokens_in or tokens_out
        else None,
        "performance": eee.Performance(latency_ms=1000 * sum(latency)) if latency else None,
        "error": sample["error"] or ("the model call failed" if failed else None),
    }
    named = [(m, scores[m]) for m in context.metrics if m in scores]
    if failed:
        named = [(m, 0.0) for m in context.metrics]
    rows: list[tuple[str | None, float]] = list(named) or [(None, 0.0)]
    for index, (metric, value) in enumerate(rows):
        metadata = _flat(sample["metadata"])
        if index == 0:
            metadata.update(payload)
        if metric is None:
            metadata["assay_unscored"] = "true"
        row = eee.InstanceLevelEvaluationLog(
            **shared,
            evaluation_result_id=metric,
            evaluation=eee.Evaluation(score=value, is_correct=not failed and value == 1.0),
            metadata=metadata,
        )
        yield orjson.dumps(row.model_dump(mode="json", exclude_none=True)) + b"\n"


def _input_text(value: Any) -> str:
    """The sample's input as text: chat messages as `role: content` turns."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n\n".join(
            f"{m.get('role', 'user')}: {m.get('content', '')}" if isinstance(m, dict) else str(m)
            for m in value
        )
    return _text(value)


def _formatted(request: dict[str, Any]) -> str | None:
    """What the model was sent: the prompt (with a scored continuation), or the messages."""
    if request.get("messages"):
        return _input_text(request["messages"])
    prompt = request.get("prompt")
    if isinstance(prompt, str):
        return prompt + str(request.get("continuation") or "")
    return None


def _flat(metadata: Any) -> dict[str, str]:
    """Sample metadata as the schema wants it (string values): scalars as text, the rest as
    JSON; keys sorted, as a round trip through `assay_sample` (sorted JSON) brings them back."""
    if not isinstance(metadata, dict):
        return {}
    return {str(k): v if isinstance(v, str) else _text(v) for k, v in sorted(metadata.items())}


def _plain_keys(row: Any) -> dict[str, Any]:
    """A row as a dict with plain `str` keys (SQLAlchemy's are a str subclass orjson refuses)."""
    return {str(k): v for k, v in row.items()}


def _text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()


def _finite(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
