"""`assay import-eee PATH...`: Every Eval Ever documents into the store, streaming.

An aggregate (`<uuid>.json`, read and checked with the package's `EvaluationLog`) and its
instance rows (`<uuid>_samples.jsonl` beside it, read line by line, each checked with
`InstanceLevelEvaluationLog`) become one assay run per evaluation name in the aggregate,
named `eee/<evaluation name>` (the export writes it back under the original name), marked
`source: eee`, with a sample per sample id and a score per row (the metric its aggregate result
names). Rows written by `assay export --format eee` carry
the sample and its raw requests as assay stored them, which are restored exactly; rows from
elsewhere become a sample (input, references, choices, the answer read, the row's metadata)
and one request holding what the model was sent and answered. A row with an `error` is a failed
sample: counted, never scored.

The samples file's declared row count and checksum are checked, so a truncated file is caught
even when it was cut at a line break; anything broken or foreign raises before the caller's
transaction commits. Re-importing the same evaluation replaces it. An aggregate without
instance-level rows (a leaderboard scrape) has no per-sample scores for assay's intervals and
paired tests, and is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from assay.errors import UserError
from assay.hashing import StreamingHash, content_hash
from assay.interop.common import ImportedRun, ImportSession, RunWriter
from assay.interop.eee import REQUESTS_KEY, SAMPLE_KEY, SAMPLES_SUFFIX, SOURCE, Eee, json_text
from assay.store import schema


def find_aggregates(paths: list[Path]) -> list[Path]:
    """The aggregates named (a `_samples.jsonl` names its aggregate), folders searched."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*.json") if not p.name.startswith("."))
            if not inside:
                raise UserError(f"no Every Eval Ever aggregates (.json files) under {str(path)!r}")
            found.extend(inside)
        elif path.is_file() and path.name.endswith(SAMPLES_SUFFIX):
            found.append(path.with_name(path.name[: -len(SAMPLES_SUFFIX)] + ".json"))
        elif path.is_file():
            found.append(path)
        else:
            raise UserError(
                f"{str(path)!r} does not exist: pass Every Eval Ever .json aggregates or folders"
            )
    return list(dict.fromkeys(found))


def import_aggregate(
    session: ImportSession, eee: Eee, path: Path, suite: str
) -> tuple[list[ImportedRun], list[str]]:
    """Import one aggregate and its instance rows in the caller's import session: the runs, and
    the evaluations skipped because no row carries a per-sample score (perplexity-style
    results, reported for the corpus only)."""
    from pydantic import ValidationError

    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise UserError(f"{path}: no such aggregate beside the samples file") from None
    except orjson.JSONDecodeError as exc:
        raise UserError(f"{path}: truncated or broken JSON ({exc})") from None
    if not isinstance(data, dict) or "evaluation_results" not in data:
        raise UserError(f"{path}: not an Every Eval Ever aggregate (no evaluation_results)")
    try:
        log = eee.types.EvaluationLog.model_validate(data)
    except ValidationError as exc:
        raise UserError(f"{path}: not a valid Every Eval Ever aggregate ({_first(exc)})") from None
    samples = _samples_path(path, log)
    return _Import(session, eee, path, samples, log, suite).run()


def _samples_path(path: Path, log: Any) -> Path:
    if log.detailed_evaluation_results is None:
        raise UserError(
            f"{path}: no instance-level results (detailed_evaluation_results): assay imports "
            "evaluations with per-sample scores only"
        )
    beside = path.with_name(path.stem + SAMPLES_SUFFIX)
    named = path.with_name(Path(log.detailed_evaluation_results.file_path).name)
    for candidate in (beside, named):
        if candidate.is_file():
            return candidate
    raise UserError(f"{path}: its instance rows {beside.name} are not beside it")


@dataclass
class _Result:
    metric: str
    higher_is_better: bool
    reported: dict[str, Any]


@dataclass
class _Evaluation:
    """One evaluation name of the aggregate: one assay run."""

    writer: RunWriter
    results: list[_Result]
    digest: StreamingHash = field(default_factory=StreamingHash)
    scored: set[str] = field(default_factory=set)


class _Import:
    def __init__(
        self, session: ImportSession, eee: Eee, path: Path, samples: Path, log: Any, suite: str
    ) -> None:
        self.session, self.eee, self.path, self.samples, self.log, self.suite = (
            session,
            eee,
            path,
            samples,
            log,
            suite,
        )
        details = log.model_info.additional_details or {}
        self.model = str(details.get("assay_model") or log.model_info.id)
        self.results: dict[str, list[_Result]] = {}
        self.by_id: dict[str, tuple[str, _Result]] = {}
        self._read_results()
        self.evaluations: dict[str, _Evaluation] = {}

    def _read_results(self) -> None:
        """Per evaluation name, its results as metrics (names unique within a run)."""
        for result in self.log.evaluation_results:
            config = result.metric_config
            metric = str(
                config.metric_name
                or config.metric_id
                or result.evaluation_result_id
                or result.evaluation_name
            )
            group = self.results.setdefault(result.evaluation_name, [])
            if metric in {r.metric for r in group} and result.evaluation_result_id:
                metric = str(result.evaluation_result_id)
            entry = _Result(
                metric[:100],
                not config.lower_is_better,
                result.model_dump(mode="json", exclude_none=True),
            )
            group.append(entry)
            if result.evaluation_result_id:
                self.by_id[result.evaluation_result_id] = (result.evaluation_name, entry)

    def run(self) -> tuple[list[ImportedRun], list[str]]:
        declared = self.log.detailed_evaluation_results
        algorithm = getattr(declared.hash_algorithm, "value", declared.hash_algorithm)
        digest = hashlib.new(str(algorithm or "sha256"))
        rows = 0
        for number, line in self._lines(digest):
            rows += 1
            self._add(number, line)
        if declared.total_rows is not None and declared.total_rows != rows:
            raise UserError(
                f"{self.samples}: {rows} instance rows where the aggregate declares "
                f"{declared.total_rows}: the file is truncated or not this aggregate's"
            )
        if declared.checksum and digest.hexdigest() != declared.checksum.lower():
            raise UserError(
                f"{self.samples}: its {digest.name} does not match the aggregate's checksum: "
                "the file is truncated or was changed"
            )
        if not self.evaluations:
            raise UserError(f"{self.samples}: no instance rows to import")
        skipped = [name for name, e in self.evaluations.items() if not e.scored]
        for name in skipped:  # begun, never finished: its rows go again
            self.evaluations.pop(name).writer.discard()
        return [self._finish(name, e) for name, e in self.evaluations.items()], skipped

    def _lines(self, digest: Any) -> Iterator[tuple[int, bytes]]:
        with self.samples.open("rb") as handle:
            for number, line in enumerate(handle, 1):
                digest.update(line)
                if line.strip():
                    yield number, line

    def _add(self, number: int, line: bytes) -> None:
        from pydantic import ValidationError

        where = f"{self.samples}: line {number}"
        try:
            row = self.eee.instances.InstanceLevelEvaluationLog.model_validate_json(line)
        except ValidationError as exc:
            if any(e["type"] == "json_invalid" for e in exc.errors()):
                raise UserError(f"{where} is truncated or broken JSON") from None
            raise UserError(
                f"{where} is not an Every Eval Ever instance row ({_first(exc)})"
            ) from None
        if row.evaluation_id != self.log.evaluation_id:
            raise UserError(
                f"{where} belongs to evaluation {row.evaluation_id!r}, not this aggregate's "
                f"{self.log.evaluation_id!r}"
            )
        name, result = self._result_of(row, where)
        evaluation = self._evaluation(name)
        sid = row.sample_id
        if len(sid) > 200:
            raise UserError(f"{where}: sample id {sid[:40]!r}... is longer than 200 characters")
        metadata = dict(row.metadata or {})
        if evaluation.writer.sample(self._sample(row, metadata)):
            evaluation.digest.update(row.sample_hash or [row.sample_id, row.input.raw])
            for request in self._requests(row):
                evaluation.writer.request(request)
        if result is None or row.error:
            return  # a failed sample is counted, never scored
        evaluation.scored.add(result.metric)
        evaluation.writer.score(sid, result.metric, float(row.evaluation.score))

    def _result_of(self, row: Any, where: str) -> tuple[str, _Result | None]:
        if row.evaluation_result_id:
            found = self.by_id.get(row.evaluation_result_id)
            if found is None:
                raise UserError(
                    f"{where} names result {row.evaluation_result_id!r}, which the aggregate "
                    "does not report"
                )
            return found
        results = self.results.get(row.evaluation_name)
        if results is None:
            raise UserError(
                f"{where} names evaluation {row.evaluation_name!r}, which the aggregate does "
                "not report"
            )
        return row.evaluation_name, results[0] if len(results) == 1 else None

    def _evaluation(self, name: str) -> _Evaluation:
        found = self.evaluations.get(name)
        if found is not None:
            return found
        source = self._source_details(name)
        run = ImportedRun(
            run_id=content_hash(
                {
                    "eee": self.log.evaluation_id,
                    "evaluation": name,
                    "model": self.log.model_info.id,
                },
                20,
            ),
            benchmark=f"{SOURCE}/{name}",
            model=self.model,
        )
        writer = self.session.writer(run)
        writer.begin(
            suite=self.suite,
            source=SOURCE,
            spec={
                "evaluation_id": self.log.evaluation_id,
                "evaluation_name": name,
                "eval_library": self.log.eval_library.model_dump(mode="json", exclude_none=True),
                "source_metadata": self.log.source_metadata.model_dump(
                    mode="json", exclude_none=True
                ),
            },
            benchmark_version=str(source.get("benchmark_version") or self.log.schema_version),
            groups=[g for g in str(source.get("groups") or "").split(",") if g],
        )
        found = self.evaluations[name] = _Evaluation(writer, self.results[name])
        return found

    def _source_details(self, name: str) -> dict[str, str]:
        for result in self.log.evaluation_results:
            if result.evaluation_name == name:
                return dict(result.source_data.additional_details or {})
        return {}

    def _sample(self, row: Any, metadata: dict[str, Any]) -> dict[str, Any]:
        stored = json_text(metadata.pop(SAMPLE_KEY, None))
        metadata.pop(REQUESTS_KEY, None)
        if isinstance(stored, dict):
            keep = ("input", "references", "choices", "correct", "metadata", "split", "status")
            restored = {k: stored[k] for k in keep if k in stored}
            restored.update(
                {k: stored.get(k) for k in ("prediction", "error", "confidence")},
                sample_id=row.sample_id,
            )
            return restored
        attribution = [a for a in row.answer_attribution if a.is_terminal]
        answer = attribution[-1].extracted_value if attribution else None
        if answer is None and row.output is not None and row.output.raw:
            answer = row.output.raw[0]
        choices = list(row.input.choices) if row.input.choices else None
        references = list(row.input.reference)
        correct = (
            choices.index(references[0])
            if choices and len(references) == 1 and references[0] in choices
            else None
        )
        return {
            "sample_id": row.sample_id,
            "input": row.input.raw,
            "references": references,
            "choices": choices,
            "correct": correct,
            "metadata": {
                **metadata,
                "eee": row.model_dump(
                    mode="json", include={"sample_hash", "answer_attribution", "evaluation"}
                ),
            },
            "status": "error" if row.error else "ok",
            "prediction": None if row.error else answer,
            "error": row.error,
        }

    def _requests(self, row: Any) -> list[dict[str, Any]]:
        stored = json_text((row.metadata or {}).get(REQUESTS_KEY))
        needed = {"idx", "cache_key", "request"}
        if isinstance(stored, list) and all(
            isinstance(r, dict) and needed <= r.keys() for r in stored
        ):
            columns = set(schema.requests.c.keys()) - {"run_id", "created_at"}
            return [
                {**{k: v for k, v in r.items() if k in columns}, "sample_id": row.sample_id}
                for r in stored
            ]
        request = {"prompt": row.input.formatted or row.input.raw}
        if row.messages is not None:
            request = {"messages": [m.model_dump(mode="json") for m in row.messages]}
        output = row.output.model_dump(mode="json") if row.output is not None else None
        usage = row.token_usage
        latency = row.performance.latency_ms if row.performance is not None else None
        return [
            {
                "sample_id": row.sample_id,
                "idx": 0,
                "cache_key": content_hash(request, 32),
                "request": request,
                "response": output,
                "text": None if row.error or output is None else "".join(output["raw"][:1]),
                "error": {"kind": "error", "message": row.error} if row.error else None,
                "latency_s": None if latency is None else latency / 1000,
                "input_tokens": usage.input_tokens if usage else None,
                "output_tokens": usage.output_tokens if usage else None,
            }
        ]

    def _finish(self, name: str, evaluation: _Evaluation) -> ImportedRun:
        main = next(r for r in evaluation.results if r.metric in evaluation.scored)
        return evaluation.writer.finish(
            main_metric=main.metric,
            higher_is_better=main.higher_is_better,
            # the data's own hash where assay wrote one, so runs on the same data still agree
            dataset_hash=(
                self._source_details(name).get("dataset_hash") or evaluation.digest.hexdigest()
            )[:32],
            summary_extra={"eee_results": [r.reported for r in evaluation.results]},
            provenance={
                "source": SOURCE,
                "path": str(self.path.resolve()),
                "samples_path": str(self.samples.resolve()),
                "evaluation_id": self.log.evaluation_id,
                "evaluation_names": len(self.results),  # 1: its files can be named again
                "schema_version": self.log.schema_version,
                "retrieved_timestamp": self.log.retrieved_timestamp,
                "evaluation_timestamp": self.log.evaluation_timestamp,
                "eval_library": self.log.eval_library.model_dump(mode="json", exclude_none=True),
                "model_info": self.log.model_info.model_dump(mode="json", exclude_none=True),
                "reported": {r.metric: r.reported.get("score_details") for r in evaluation.results},
            },
        )


def _first(exc: Any) -> str:
    """The first of pydantic's errors, on one line."""
    errors = exc.errors()
    if not errors:
        return "invalid"
    error = errors[0]
    where = ".".join(str(p) for p in error.get("loc", ())) or "(root)"
    more = f"; {len(errors) - 1} more" if len(errors) > 1 else ""
    return " ".join(f"{where}: {error.get('msg', '')}{more}".split())
