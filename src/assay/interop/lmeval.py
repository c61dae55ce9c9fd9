"""Import lm-evaluation-harness output (`--output_path` with `--log_samples`) into the store.

lm-eval writes, per model folder, `results_<date>.json` and beside it one
`samples_<task>_<date>.jsonl` per task. Each task of a results file that has a samples file
becomes one assay run named `lmeval/<task>[:shots=N]`: a sample per document (its prompt,
target, answer choices and the whole lm-eval record in metadata), a request per model call
lm-eval made for it (the context and continuation or generation settings, with lm-eval's raw
and filtered responses), and a score per numeric per-sample metric, named as lm-eval names it
(`acc,none`, `exact_match,strict-match`). Group rows of the results (mmlu over its subjects)
have no samples file of their own; their subtasks are imported instead.

Samples files are read line by line, so memory stays flat whatever their size. Importing the
same results file again replaces its runs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

from assay.errors import UserError
from assay.hashing import StreamingHash, content_hash
from assay.interop.common import ImportedRun, ImportSession, RunWriter, as_float

SOURCE = "lmeval"
_RESULTS = re.compile(r"^results_(?P<date>.+)\.json$")


def find_results(path: Path) -> list[Path]:
    """results_*.json files: the one named, or all under a folder."""
    if path.is_file():
        if not _RESULTS.match(path.name):
            raise UserError(f"{str(path)!r} is not an lm-eval results_<date>.json file")
        return [path]
    if not path.is_dir():
        raise UserError(f"{str(path)!r} does not exist: pass lm-eval's --output_path folder")
    found = sorted(p for p in path.rglob("results_*.json") if _RESULTS.match(p.name))
    if not found:
        raise UserError(
            f"no lm-eval results_*.json under {str(path)!r}: pass the --output_path folder "
            "of a run made with --log_samples"
        )
    return found


def samples_file(results: Path, task: str) -> Path | None:
    match = _RESULTS.match(results.name)
    assert match is not None
    candidate = results.parent / f"samples_{task}_{match['date']}.jsonl"
    return candidate if candidate.is_file() else None


def import_results(
    session: ImportSession, path: Path, suite: str
) -> tuple[list[ImportedRun], list[str]]:
    """Import every task of one results file inside the caller's transaction: the runs, and
    the tasks skipped because their samples carry no per-sample number (perplexity tasks
    keep corpus-level pairs there)."""
    try:
        results = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise UserError(f"{path}: truncated or broken JSON ({exc})") from None
    if not isinstance(results, dict) or not isinstance(results.get("results"), dict):
        raise UserError(f"{path}: not an lm-eval results file (no `results` table)")
    model = model_name(results)
    imported: list[ImportedRun] = []
    skipped: list[str] = []
    for task in results["results"]:
        samples = samples_file(path, task)
        if samples is None:
            continue
        if not _first_record_has_a_number(samples):
            skipped.append(str(task))
            continue
        imported.append(_import_task(session, path, samples, results, str(task), model, suite))
    if not imported and not skipped:
        raise UserError(
            f"{path}: no samples_<task>_<date>.jsonl beside it; re-run lm-eval with --log_samples"
        )
    return imported, skipped


def _first_record_has_a_number(samples: Path) -> bool:
    """Whether the task's records score each document with a number (not a perplexity task)."""
    with samples.open("rb") as handle:
        for line in handle:
            if line.strip():
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    return True  # the import proper reports where it is broken
                metrics = record.get("metrics") if isinstance(record, dict) else None
                if not isinstance(metrics, list):
                    return True
                return any(as_float(record.get(m)) is not None for m in metrics)
    return True


def model_name(results: dict[str, Any]) -> str:
    """lm-eval's model name, else `<model type>/<model args>` from its config."""
    if results.get("model_name"):
        return str(results["model_name"])
    config = results.get("config") or {}
    args = config.get("model_args")
    if isinstance(args, dict):
        args = ",".join(f"{k}={v}" for k, v in args.items())
    return f"{config.get('model') or 'lmeval'}/{args or 'model'}"


def _import_task(
    session: ImportSession,
    results_path: Path,
    samples_path: Path,
    results: dict[str, Any],
    task: str,
    model: str,
    suite: str,
) -> ImportedRun:
    shots = (results.get("n-shot") or {}).get(task)
    version = (results.get("versions") or {}).get(task)
    config = (results.get("configs") or {}).get(task) or {}
    run = ImportedRun(
        # the run's identity is what lm-eval wrote, not where the folder lives now
        run_id=content_hash(
            {"lmeval": model, "task": task, "file": results_path.name, "date": results.get("date")},
            20,
        ),
        benchmark=f"lmeval/{task}" + (f":shots={shots}" if shots else ""),
        model=model,
    )
    writer = session.writer(run)
    writer.begin(
        suite=suite,
        source=SOURCE,
        spec={"task": task, "task_config": config, "lmeval_config": results.get("config")},
        benchmark_version=str(version if version is not None else "lmeval"),
        groups=[
            g for g, subtasks in (results.get("group_subtasks") or {}).items() if task in subtasks
        ],
    )
    digest = StreamingHash()
    metrics: list[str] = []
    with samples_path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise UserError(
                    f"{samples_path}: line {number} is truncated or broken JSON ({exc})"
                ) from None
            if not isinstance(record, dict) or "doc_id" not in record:
                raise UserError(f"{samples_path}: line {number} is not an lm-eval sample record")
            _add_record(writer, record, metrics, digest)
    main = _main_metric(results, task, metrics)
    higher = (results.get("higher_is_better") or {}).get(task) or {}
    return writer.finish(
        main_metric=main,
        higher_is_better=bool(higher.get(main.split(",")[0], True)),
        dataset_hash=digest.hexdigest(),
        summary_extra={"lmeval_results": results["results"].get(task)},
        provenance={
            "source": SOURCE,
            "path": str(results_path.resolve()),
            "samples_path": str(samples_path.resolve()),
            "task": task,
            "task_version": version,
            "n_shot": shots,
            "lm_eval_version": results.get("lm_eval_version"),
            "git_hash": results.get("git_hash"),
            "date": results.get("date"),
            "model_settings": results.get("config"),
            "benchmark_version": str(version),
        },
    )


def _add_record(
    writer: RunWriter, record: dict[str, Any], metrics: list[str], digest: StreamingHash
) -> None:
    key = str(record["doc_id"])
    arguments = _arguments(record.get("arguments"))
    resps = record.get("resps") or []
    filtered = record.get("filtered_resps") or []
    loglikelihood = bool(arguments) and all(_is_continuation(a) for a in arguments)
    choices = [str(a[1]) for a in arguments] if loglikelihood and len(arguments) > 1 else None
    target = record.get("target")
    correct = _correct_index(target, choices)
    if correct is not None and choices is not None:
        references = [choices[correct]]
    elif isinstance(target, list):
        references = [str(t) for t in target]
    else:
        references = [str(target)]
    prediction = _prediction(filtered, choices)
    filter_name = str(record.get("filter") or "none")
    scored = {m: record.get(m) for m in record.get("metrics") or []}
    is_new = writer.sample(
        {
            "sample_id": key,
            "input": str(arguments[0][0]) if arguments else "",
            "references": references,
            "choices": choices,
            "correct": correct,
            "metadata": {
                "lmeval": {k: v for k, v in record.items() if k not in ("resps", "filtered_resps")}
            },
            "prediction": prediction,
        }
    )
    if is_new:  # a task with several filters writes a record per document per filter
        digest.update(record.get("doc_hash") or record.get("doc"))
        for idx, args in enumerate(arguments):
            request = {
                "context": args[0],
                "continuation" if loglikelihood else "gen_kwargs": args[1],
            }
            raw = resps[idx] if idx < len(resps) else None
            text = raw[0] if isinstance(raw, list) and raw and isinstance(raw[0], str) else None
            writer.request(
                {
                    "sample_id": key,
                    "idx": idx,
                    "cache_key": content_hash(request, 32),
                    "request": request,
                    "response": {
                        "resps": raw,
                        "filtered_resps": filtered[idx] if idx < len(filtered) else None,
                    },
                    "text": None if loglikelihood else text,
                }
            )
    for name, value in scored.items():
        number = as_float(value)
        if number is None:
            continue  # corpus-level inputs (bleu pairs, ifeval lists) stay in the metadata
        metric = f"{name},{filter_name}"
        if metric not in metrics:
            metrics.append(metric)
        writer.score(key, metric, number)


def _arguments(raw: Any) -> list[list[Any]]:
    """lm-eval's `arguments` as [context, continuation-or-gen_kwargs] pairs, in order."""
    if isinstance(raw, dict):  # 0.4.3+: {"gen_args_0": {"arg_0": ..., "arg_1": ...}, ...}
        ordered = sorted(raw.items(), key=lambda kv: int(str(kv[0]).rsplit("_", 1)[-1]))
        return [[v.get("arg_0"), v.get("arg_1")] for _, v in ordered if isinstance(v, dict)]
    if isinstance(raw, list):
        return [list(a) if isinstance(a, list) else [a, None] for a in raw]
    return []


def _correct_index(target: Any, choices: list[str] | None) -> int | None:
    """lm-eval writes the target as text: the index of the right choice ("2"), or its text."""
    if not choices or target is None:
        return None
    text = str(target).strip()
    if text.isdigit() and int(text) < len(choices):
        return int(text)
    stripped = [c.strip() for c in choices]
    return stripped.index(text) if text in stripped else None


def _is_continuation(args: list[Any]) -> bool:
    return len(args) > 1 and isinstance(args[1], str)


def _prediction(filtered: list[Any], choices: list[str] | None) -> str | None:
    """What the model answered: the filtered generation, or the choice it scored highest."""
    if not filtered:
        return None
    if choices is None:
        first = filtered[0]
        return first if isinstance(first, str) else orjson.dumps(first).decode()
    logprobs = [_loglikelihood(f) for f in filtered]
    if any(lp is None for lp in logprobs):
        return None
    best = max(range(len(logprobs)), key=lambda i: logprobs[i] or 0.0)
    return choices[best]


def _loglikelihood(value: Any) -> float | None:
    if isinstance(value, list) and value:
        value = value[0]
    return as_float(value)


def _main_metric(results: dict[str, Any], task: str, metrics: list[str]) -> str:
    """The first of lm-eval's reported metrics for the task that has per-sample values."""
    reported = [k for k in (results["results"].get(task) or {}) if "," in k and "_stderr" not in k]
    main = next((m for m in reported if m in metrics), metrics[0] if metrics else "")
    if not main:
        raise UserError(f"lm-eval task {task!r}: its samples carry no numeric metric to import")
    return main
