"""Import HELM `benchmark_output` runs into the store.

Each HELM run folder (`runs/<suite>/<run>/` with run_spec.json, scenario_state.json,
per_instance_stats.json and stats.json) becomes one assay run:

- a sample per (instance, perturbation, train trial), with its prompt(s) and completions as
  requests and responses; train trials of one instance share a cluster, so CIs are clustered;
- a score per per-instance stat that has a value (count > 0), named as HELM names it (with
  `@sub_split` when HELM gives one);
- the run summary recomputed by assay (means with CIs), HELM's own stats.json kept next to it
  under `helm_stats`.

HELM's files reach gigabytes, so the large ones are streamed item by item (ijson) and written
in batches; memory stays flat whatever their size. Each run is imported in one transaction:
importing the same run again replaces it, and a failed import (a truncated or garbage file)
changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import sqlalchemy as sa

from assay.errors import UserError
from assay.hashing import StreamingHash, content_hash
from assay.interop import common
from assay.store.db import Store

# Stats HELM reports about the run rather than the model's quality; never a main metric.
GENERAL_STATS = frozenset(
    {
        "num_references",
        "num_train_trials",
        "num_prompt_tokens",
        "num_completion_tokens",
        "num_output_tokens",
        "training_co2_cost",
        "training_energy_cost",
        "inference_runtime",
        "inference_denoised_runtime",
        "inference_idealized_runtime",
        "batch_size",
        "finish_reason_length",
        "finish_reason_stop",
        "finish_reason_endoftext",
        "finish_reason_unknown",
        "num_train_instances",
        "prompt_truncated",
        "num_perplexity_tokens",
        "num_bytes",
        "num_instances",
        "max_prob",
    }
)
MAIN_METRIC_PREFERENCE = (
    "exact_match",
    "quasi_exact_match",
    "prefix_exact_match",
    "quasi_prefix_exact_match",
    "exact_match@5",
    "f1_score",
    "rouge_l",
    "bleu_4",
    "math_equiv",
    "math_equiv_chain_of_thought",
    "pass",
    "logprob",
)
LOWER_IS_BETTER = frozenset(
    {"inference_runtime", "num_prompt_tokens", "num_output_tokens", "ece_10_bin", "ece_1_bin"}
)


@dataclass
class ImportedRun:
    run_id: str
    name: str
    benchmark: str
    model: str
    main_metric: str
    samples: int = 0
    requests: int = 0
    scores: int = 0
    helm_stats: int = 0
    skipped_stats: int = 0  # per-instance stats without a value (count 0)


def find_runs(path: Path, suite: str | None = None) -> list[tuple[str, Path]]:
    """(HELM suite, run folder) pairs under a benchmark_output, a runs/<suite> or a run folder."""
    if not path.exists():
        raise UserError(f"{str(path)!r} does not exist")
    if (path / "run_spec.json").is_file():
        return [(suite or path.parent.name, path)]
    if (path / "runs").is_dir():
        suites = sorted(p for p in (path / "runs").iterdir() if p.is_dir())
        if suite is not None:
            suites = [p for p in suites if p.name == suite]
        found = [(s.name, run) for s in suites for run in _run_dirs(s)]
    else:
        found = [(suite or path.name, run) for run in _run_dirs(path)]
    if not found:
        raise UserError(
            f"no HELM runs (folders with run_spec.json) under {str(path)!r}: pass a "
            "benchmark_output folder, a runs/<suite> folder or one run folder"
        )
    return found


def _run_dirs(suite_dir: Path) -> list[Path]:
    return sorted(p for p in suite_dir.iterdir() if (p / "run_spec.json").is_file())


def _items(handle: BinaryIO, prefix: str) -> Iterator[Any]:
    try:
        import ijson
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise UserError("importing HELM output needs ijson: pip install 'assay[helm]'") from None
    yield from ijson.items(handle, prefix, use_float=True)


def benchmark_name(run_name: str) -> str:
    """`mmlu:subject=anatomy,model=openai_gpt2` -> `helm/mmlu:subject=anatomy`."""
    scenario, _, args = run_name.partition(":")
    model_args = ("model", "model_deployment")
    kept = [a for a in args.split(",") if a and a.split("=")[0] not in model_args]
    return f"helm/{scenario}" + (":" + ",".join(kept) if kept else "")


def _sample_key(instance_id: str, perturbation: dict[str, Any] | None, trial: int) -> str:
    key = instance_id
    if perturbation:
        key += "/" + str(perturbation.get("name", "perturbed"))
    if trial:
        key += f"#trial{trial}"
    return key


def _metric_name(name: dict[str, Any]) -> str:
    metric = str(name["name"])
    if name.get("sub_split"):
        metric += f"@{name['sub_split']}"
    return metric


def import_run(
    store: Store, run_dir: Path, suite: str, *, main_metric: str | None = None
) -> ImportedRun:
    """Import one run folder in one transaction: garbage or a truncated file anywhere is one
    line, and leaves the store as it was (an earlier import of the run included)."""
    reading = run_dir / "run_spec.json"
    try:
        run_spec = orjson.loads(reading.read_bytes())
        if not isinstance(run_spec, dict):
            raise TypeError("run_spec.json is not a JSON object")
        with common.importing(store) as session:
            return _import(session, run_dir, run_spec, suite, main_metric)
    except UserError:
        raise
    except OSError as exc:
        raise UserError(
            f"HELM run {str(run_dir)!r}: cannot read it ({exc.strerror or exc}); it was not "
            "imported"
        ) from None
    except _MALFORMED as exc:
        detail = " ".join(str(exc).split())[:200]
        raise UserError(
            f"HELM run {str(run_dir)!r} is not valid HELM output ({type(exc).__name__}: "
            f"{detail}): it was not imported, and any earlier import of it is kept; check its "
            "files are complete"
        ) from None


def _malformed_errors() -> tuple[type[Exception], ...]:
    errors: list[type[Exception]] = [
        orjson.JSONDecodeError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        IndexError,
        sa.exc.IntegrityError,  # e.g. stats for an instance the scenario state does not have
    ]
    try:
        import ijson

        errors.append(ijson.JSONError)
    except ImportError:  # pragma: no cover - depends on the installed extras
        pass
    return tuple(errors)


_MALFORMED = _malformed_errors()


def _import(
    session: common.ImportSession,
    run_dir: Path,
    run_spec: dict[str, Any],
    suite: str,
    main_metric: str | None,
) -> ImportedRun:
    adapter = run_spec.get("adapter_spec") or {}
    name = str(run_spec.get("name") or run_dir.name)
    model = str(adapter.get("model") or adapter.get("model_deployment") or "unknown")
    run_id = content_hash({"helm_suite": suite, "helm_run": name}, 20)
    benchmark = benchmark_name(name)
    result = ImportedRun(run_id, name, benchmark, model, main_metric or "")
    writer = session.writer(common.ImportedRun(run_id, benchmark, model))
    writer.begin(
        suite=suite,
        source="helm",
        spec={"run_spec": run_spec},
        benchmark_version="helm",
        groups=list(run_spec.get("groups") or []),
    )
    data_hash = _import_states(writer, run_dir)
    available = _import_instance_stats(writer, run_dir, result)
    helm_stats = _read_stats(run_dir)
    result.helm_stats = len(helm_stats)
    chosen = main_metric or _choose_main_metric(available)
    if main_metric and main_metric not in available:
        known = ", ".join(sorted(available)) or "none"
        raise UserError(f"HELM run {name!r} has no stat {main_metric!r} (its stats: {known})")
    result.main_metric = chosen
    imported = writer.finish(
        main_metric=chosen,
        higher_is_better=chosen not in LOWER_IS_BETTER,
        summary_extra={"helm_stats": helm_stats},
        dataset_hash=data_hash,
        allow_empty=True,
        provenance={
            "source": "helm",
            "helm_suite": suite,
            "helm_run": name,
            "path": str(run_dir.resolve()),
            "benchmark_version": "helm",
            "prompt_format_hash": content_hash(adapter),
            "model_settings": adapter,
        },
    )
    result.samples, result.requests = imported.samples, imported.requests
    result.scores = imported.scores
    return result


def _import_states(writer: common.RunWriter, run_dir: Path) -> str | None:
    path = run_dir / "scenario_state.json"
    if not path.is_file():
        return None
    digest = StreamingHash()
    seen: dict[str, int] = {}  # sample key -> requests so far
    with path.open("rb") as handle:
        for state in _items(handle, "request_states.item"):
            instance = state.get("instance") or {}
            trial = int(state.get("train_trial_index") or 0)
            key = _sample_key(str(instance.get("id")), instance.get("perturbation"), trial)
            response = state.get("result") or {}
            completions = response.get("completions") or []
            text = completions[0].get("text") if completions else None
            failed = not response.get("success", True)
            idx = seen.get(key, 0)
            seen[key] = idx + 1
            if idx == 0:
                digest.update(instance)
                row = _sample_row(key, instance, trial, text)
                if failed:
                    row["status"] = "error"
                    row["error"] = str(response.get("error") or "failed")
                writer.sample(row)
            request = state.get("request") or {}
            writer.request(
                {
                    "sample_id": key,
                    "idx": idx,
                    "cache_key": content_hash(request, 32),
                    "request": request,
                    "response": None if failed else response,
                    "text": None if failed else text,
                    "error": (
                        {"kind": "error", "message": str(response.get("error") or "failed")}
                        if failed
                        else None
                    ),
                    "latency_s": response.get("request_time"),
                    "cached": bool(response.get("cached", False)),
                }
            )
    return digest.hexdigest()


def _sample_row(
    key: str,
    instance: dict[str, Any],
    trial: int,
    prediction: str | None,
) -> dict[str, Any]:
    references = instance.get("references") or []
    texts = [str((r.get("output") or {}).get("text", "")) for r in references]
    correct = [i for i, r in enumerate(references) if "correct" in (r.get("tags") or [])]
    metadata: dict[str, Any] = {
        "helm_instance_id": instance.get("id"),
        "train_trial_index": trial,
        # Trials and perturbations of one instance are not independent: one cluster.
        "cluster": str(instance.get("id")),
    }
    for extra in ("sub_split", "perturbation", "contrast_inputs"):
        if instance.get(extra):
            metadata[extra] = instance[extra]
    return {
        "sample_id": key,
        "input": str((instance.get("input") or {}).get("text", "")),
        "references": [texts[i] for i in correct],
        "choices": texts,
        "correct": correct[0] if len(correct) == 1 else None,
        "metadata": metadata,
        "split": str(instance.get("split") or "test"),
        "status": "ok",
        "prediction": prediction,
        "error": None,
    }


def _import_instance_stats(
    writer: common.RunWriter, run_dir: Path, result: ImportedRun
) -> set[str]:
    """Each stat with a value as a score; token counts also onto the sample's first request."""
    path = run_dir / "per_instance_stats.json"
    if not path.is_file():
        return set()
    metrics: set[str] = set()
    with path.open("rb") as handle:
        for entry in _items(handle, "item"):
            key = _sample_key(
                str(entry["instance_id"]),
                entry.get("perturbation"),
                int(entry.get("train_trial_index") or 0),
            )
            usage: dict[str, int] = {}
            for stat in entry.get("stats") or []:
                if not stat.get("count"):
                    result.skipped_stats += 1
                    continue
                metric = _metric_name(stat["name"])
                value = float(stat["sum"]) / float(stat["count"])
                metrics.add(metric)
                writer.score(key, metric, value)
                if metric == "num_prompt_tokens":
                    usage["input"] = round(value)
                elif metric == "num_output_tokens":
                    usage["output"] = round(value)
            if len(usage) == 2:
                writer.tokens(key, 0, usage["input"], usage["output"])
    return metrics


def _read_stats(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "stats.json"
    if not path.is_file():
        return []
    with path.open("rb") as handle:
        return list(_items(handle, "item"))


def _choose_main_metric(available: set[str]) -> str:
    for name in MAIN_METRIC_PREFERENCE:
        if name in available:
            return name
    rest = sorted(m for m in available if m.split("@")[0] not in GENERAL_STATS)
    if rest:
        return rest[0]
    if available:
        return sorted(available)[0]
    raise UserError("the HELM run has no per-instance stats to score it by")
