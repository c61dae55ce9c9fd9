"""Import Inspect (`inspect_ai`) eval logs into the store, streaming.

A log is one Inspect task run on one model; it becomes one assay run named
`inspect/<task>[:task args]`, with per sample (and epoch) a sample row (input, target, choices,
Inspect's sample metadata, every scorer's full Score object), one request holding the sample's
whole message history and one response holding its final model output (`ModelOutput`, usage,
time), and a score per scorer (dict-valued scores as `scorer/key`).

Both of Inspect's formats are read without loading the log whole: a `.eval` file is a zip with
one JSON entry per sample (read entry by entry), a `.json` file is streamed with ijson. Sample
content that Inspect moved into `attachments` is put back in place. Events (the step-by-step
trace) are not imported. Importing the same eval (its `eval_id`) again replaces it.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from assay.errors import UserError
from assay.hashing import StreamingHash, content_hash
from assay.interop.common import ImportedRun, ImportSession, RunWriter, as_float, require

SOURCE = "inspect"
_ATTACHMENT = "attachment://"
_ZIP_ZSTANDARD = 93
# Inspect's letter values (inspect_ai.scorer: CORRECT, INCORRECT, PARTIAL, NOANSWER).
_LETTER_VALUES = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}
_WORD_VALUES = {"yes": 1.0, "true": 1.0, "no": 0.0, "false": 0.0}


def find_logs(paths: list[Path]) -> list[Path]:
    """The logs named, with folders searched for `.eval` and `.json` files."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.suffix in (".eval", ".json"))
            if not inside:
                raise UserError(f"no Inspect logs (.eval or .json files) under {str(path)!r}")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise UserError(f"{str(path)!r} does not exist: pass Inspect .eval or .json logs")
    return found


def import_log(session: ImportSession, path: Path, suite: str) -> ImportedRun:
    """Import one log inside the caller's transaction (see `interop.common`)."""
    try:
        if path.suffix == ".json":
            return _import_json(session, path, suite)
        return _import_eval(session, path, suite)
    except UserError:
        raise
    except (zipfile.BadZipFile, EOFError) as exc:
        raise UserError(f"{path}: not a readable Inspect .eval log ({exc})") from None
    except orjson.JSONDecodeError as exc:
        raise UserError(f"{path}: broken JSON in the log ({exc})") from None
    except Exception as exc:
        if type(exc).__module__.startswith("ijson"):
            raise UserError(f"{path}: truncated or broken JSON ({_one_line(exc)})") from None
        if isinstance(exc, zlib.error) or type(exc).__module__.startswith("zstandard"):
            raise UserError(f"{path}: a corrupt entry in the log ({_one_line(exc)})") from None
        if isinstance(exc, KeyError | TypeError | AttributeError | ValueError):
            raise UserError(f"{path}: not an Inspect log ({type(exc).__name__}: {exc})") from None
        raise


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _import_eval(session: ImportSession, path: Path, suite: str) -> ImportedRun:
    with zipfile.ZipFile(path) as archive:
        if any(i.compress_type == _ZIP_ZSTANDARD for i in archive.infolist()):
            # Inspect compresses entries with zstd, which zipfile reads only from Python 3.14
            require("zipfile_zstd", "inspect", "reading zstd-compressed Inspect logs")
        names = archive.namelist()
        header_name = next((n for n in ("header.json", "_journal/start.json") if n in names), None)
        if header_name is None:
            raise UserError(f"{path}: not an Inspect .eval log (no header.json in the zip)")
        header = orjson.loads(archive.read(header_name))
        entries = [n for n in names if n.startswith("samples/") and n.endswith(".json")]
        samples = (orjson.loads(archive.read(name)) for name in entries)
        return _import(session, path, suite, header, samples)


def _import_json(session: ImportSession, path: Path, suite: str) -> ImportedRun:
    ijson = require("ijson", "inspect", "importing Inspect .json logs")
    header = {}
    for key in ("eval", "status", "results"):
        with path.open("rb") as handle:
            header[key] = _first(ijson, handle, key)
        if key == "eval" and not isinstance(header["eval"], dict):
            raise UserError(f"{path}: not an Inspect log (no `eval` header)")
    with path.open("rb") as handle:
        return _import(
            session, path, suite, header, ijson.items(handle, "samples.item", use_float=True)
        )


def _first(ijson: Any, handle: BinaryIO, prefix: str) -> Any:
    """The value at a top-level key, parsing no further than it."""
    for value in ijson.items(handle, prefix, use_float=True):
        return value
    return None


def _import(
    session: ImportSession, path: Path, suite: str, header: dict[str, Any], samples: Iterator[Any]
) -> ImportedRun:
    spec = header.get("eval")
    if not isinstance(spec, dict) or "task" not in spec or "model" not in spec:
        raise UserError(f"{path}: not an Inspect log (its header names no task and model)")
    identity = spec.get("eval_id") or {k: spec.get(k) for k in ("task", "model", "created")}
    run = ImportedRun(
        run_id=content_hash({"inspect_eval": identity}, 20),
        benchmark=benchmark_name(str(spec["task"]), spec.get("task_args") or {}),
        model=str(spec["model"]),
    )
    writer = session.writer(run)
    writer.begin(
        suite=suite,
        source=SOURCE,
        spec={"eval": spec},
        benchmark_version=str(spec.get("task_version", 0)),
    )
    digest = StreamingHash()
    metrics: list[str] = []
    for sample in samples:
        if not isinstance(sample, dict) or "id" not in sample:
            raise UserError(f"{path}: not an Inspect log (a sample without an id)")
        if int(sample.get("epoch") or 1) == 1:  # the dataset, not how often it was run
            digest.update([sample.get("id"), sample.get("input"), sample.get("target")])
        _add_sample(writer, sample, run.model, metrics)
    results = header.get("results") or {}
    preferred = [str(s.get("name")) for s in results.get("scores") or [] if isinstance(s, dict)]
    main = next((m for m in preferred if m in metrics), metrics[0] if metrics else "")
    if not main:
        raise UserError(f"{path}: the log's samples carry no numeric scores to import")
    return writer.finish(
        main_metric=main,
        higher_is_better=True,
        dataset_hash=digest.hexdigest(),
        summary_extra={"inspect_status": header.get("status"), "inspect_results": results},
        provenance={
            "source": SOURCE,
            "path": str(path.resolve()),
            "eval_id": spec.get("eval_id"),
            "inspect_run_id": spec.get("run_id"),
            "task": spec.get("task"),
            "task_version": spec.get("task_version"),
            "created": spec.get("created"),
            "packages": spec.get("packages"),
            "model_settings": spec.get("model_generate_config"),
            "benchmark_version": str(spec.get("task_version", 0)),
        },
    )


def benchmark_name(task: str, task_args: dict[str, Any]) -> str:
    """`gsm8k` with {"fewshot": 5} -> `inspect/gsm8k:fewshot=5`."""
    args = ",".join(f"{k}={task_args[k]}" for k in sorted(task_args))
    return f"inspect/{task}" + (f":{args}" if args else "")


def _add_sample(writer: RunWriter, sample: dict[str, Any], model: str, metrics: list[str]) -> None:
    attachments = sample.get("attachments") or {}
    sample = {k: v for k, v in sample.items() if k not in ("events", "attachments")}
    if attachments:
        sample = _resolve(sample, attachments)
    sid = str(sample["id"])
    epoch = int(sample.get("epoch") or 1)
    key = sid if epoch == 1 else f"{sid}#epoch{epoch}"
    target = sample.get("target")
    references = [str(t) for t in target] if isinstance(target, list) else [str(target or "")]
    choices = sample.get("choices") or None
    output = sample.get("output") or {}
    text = completion(output)
    scores = sample.get("scores") or {}
    answer = next((s.get("answer") for s in scores.values() if isinstance(s, dict)), None)
    error = sample.get("error") or output.get("error")
    message = (error.get("message") if isinstance(error, dict) else str(error)) if error else None
    metadata = dict(sample.get("metadata") or {})
    metadata.update(
        cluster=sid,
        inspect={"id": sample["id"], "epoch": epoch, "scores": scores, "uuid": sample.get("uuid")},
    )
    writer.sample(
        {
            "sample_id": key,
            "input": sample.get("input"),
            "references": references,
            "choices": choices,
            "correct": _correct_index(choices, references),
            "metadata": metadata,
            "status": "error" if message else "ok",
            "prediction": None if message else (answer if answer is not None else text),
            "error": message,
        }
    )
    request = {"model": model, "messages": sample.get("messages") or []}
    usage = output.get("usage") or {}
    writer.request(
        {
            "sample_id": key,
            "idx": 0,
            "cache_key": content_hash(request, 32),
            "request": request,
            "response": output or None,
            "text": None if message else text,
            "error": {"kind": "error", "message": message} if message else None,
            "latency_s": output.get("time") or sample.get("total_time"),
            "input_tokens": usage.get("input_tokens"),
            "output_tokens": usage.get("output_tokens"),
        }
    )
    if message:
        return  # a failed sample is counted, never scored
    for scorer, score in scores.items():
        value = score.get("value") if isinstance(score, dict) else score
        named = value.items() if isinstance(value, dict) else [(None, value)]
        for part, raw in named:
            number = score_value(raw)
            if number is None:
                continue
            metric = scorer if part is None else f"{scorer}/{part}"
            if metric not in metrics:
                metrics.append(metric)
            writer.score(key, metric, number)


def score_value(value: Any) -> float | None:
    """An Inspect score value as a number, as Inspect's `value_to_float` reads it."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped in _LETTER_VALUES:
            return _LETTER_VALUES[stripped]
        if stripped.lower() in _WORD_VALUES:
            return _WORD_VALUES[stripped.lower()]
    return as_float(value)


def completion(output: dict[str, Any]) -> str | None:
    """The text of the first choice's message (its text parts when content is a list)."""
    if isinstance(output.get("completion"), str):
        return str(output["completion"])
    choices = output.get("choices") or []
    if not choices:
        return None
    content = (choices[0].get("message") or {}).get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
    return None


def _correct_index(choices: list[Any] | None, references: list[str]) -> int | None:
    """Inspect's multiple-choice targets are letters: "B" -> 1."""
    if not choices or len(references) != 1:
        return None
    letter = references[0].strip()
    if len(letter) == 1 and "A" <= letter <= "Z" and ord(letter) - ord("A") < len(choices):
        return ord(letter) - ord("A")
    return None


def _resolve(value: Any, attachments: dict[str, str]) -> Any:
    """Put the content Inspect moved into `attachments` back where it was referenced."""
    if isinstance(value, str):
        if value.startswith(_ATTACHMENT):
            return attachments.get(value[len(_ATTACHMENT) :], value)
        return value
    if isinstance(value, list):
        return [_resolve(v, attachments) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, attachments) for k, v in value.items()}
    return value
