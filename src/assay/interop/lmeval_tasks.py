"""Run lm-evaluation-harness tasks unchanged, with assay's models, executor, cache and store.

lm-eval's own library loads the task (TaskManager), its documents, its prompts (Jinja,
`!function`, few-shot sampling), its filters and its `process_results`. Each lm-eval document
becomes one assay sample; each of its `Instance`s one assay `Request`:

- `generate_until` -> a generation request with the instance's `until` stops and max tokens;
- `loglikelihood` (multiple choice included) -> a log-likelihood request (`continuation`);
- `loglikelihood_rolling` -> a log-likelihood request of the whole text after an empty prompt.

The responses go back into the instances as lm-eval's `LM` would return them, the task's
filters run on the document's instances, and `process_results` gives the per-sample metric
values: numbers become assay scores named as lm-eval names them (`acc,none`,
`exact_match,strict-match`); every value (lists, perplexity pairs included) is kept in the
sample's metadata, and a run-level hook aggregates them with the task's own aggregation
functions (`lmeval/<metric>,<filter>`), so the run carries lm-eval's task figures as well.

This is an assay `Task` with a format that scores itself, so the ordinary runner stores and
shows everything exactly like a native run.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from assay.benchmarks.base import DataContext, Loaded, Task
from assay.errors import UserError
from assay.extras import require
from assay.hashing import content_hash
from assay.metrics.metric import Direction, Metric, Values
from assay.metrics.registry import METRICS, RUN_LEVEL, register
from assay.prompting.formats import Prediction, PromptFormat
from assay.requests import Request, Response
from assay.samples import Message, Sample

PREFIX = "lmeval:"
DEFAULT_MAX_TOKENS = 256  # lm-eval's own default `max_gen_toks`


class _TolerantLoader(yaml.SafeLoader):
    """Reads lm-eval YAML (`!function utils.x`) without importing anything."""


_TolerantLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def read_yaml_keys(path: Path) -> dict[str, Any] | None:
    """The file's top-level mapping, or None when it is not YAML."""
    try:
        data = yaml.load(path.read_text(), Loader=_TolerantLoader)  # a SafeLoader
    except (OSError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def is_lmeval_yaml(path: Path) -> bool:
    """An lm-eval task file: a `task:` name beside lm-eval's own keys (assay's YAML has none)."""
    keys = read_yaml_keys(path)
    if keys is None or not isinstance(keys.get("task"), str):
        return False
    return bool(keys.keys() & {"output_type", "doc_to_text", "doc_to_choice", "include"})


def _require() -> None:
    require("lm_eval", "lmeval", "running lm-eval tasks")


def _task_manager(include: Path | None) -> Any:
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=None if include is None else str(include))


def tasks_from_names(text: str) -> list[Task]:
    """`lmeval:<task>[,<task>...]`: tasks from lm-eval's registry (and its hub datasets)."""
    _require()
    names = [n.strip() for n in text[len(PREFIX) :].split(",") if n.strip()]
    if not names:
        raise UserError("lmeval: names no task: write e.g. lmeval:mmlu_anatomy,gsm8k")
    manager = _task_manager(None)
    return [_build(name, manager, source="lmeval") for name in names]


def task_from_file(path: Path) -> Task:
    """An lm-eval task YAML file; the files beside it are indexed too (`include:`)."""
    _require()
    keys = read_yaml_keys(path) or {}
    name = str(keys["task"])
    manager = _task_manager(path.resolve().parent)
    return _build(name, manager, source=str(path))


def _build(name: str, manager: Any, source: str) -> Task:
    if name not in manager.all_tasks:
        import difflib

        close = difflib.get_close_matches(name, manager.all_subtasks, n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise UserError(f"unknown lm-eval task {name!r}: {hint}`lm-eval ls tasks` lists them")
    if name not in manager.all_subtasks:
        raise UserError(
            f"lm-eval {name!r} is a group of tasks: name its tasks (lmeval:a,b) instead"
        )
    adapter = LmevalTask(name, manager)
    return adapter.task(source)


class LmevalTask:
    """One lm-eval task, loaded lazily (its dataset loads on the first `load`)."""

    def __init__(self, name: str, manager: Any) -> None:
        self.name = name
        self.manager = manager
        self._task: Any = None
        self._docs: dict[str, tuple[Any, list[Any]]] = {}
        self.entry = manager._entry(name)
        self.config = self._read_config(resolve=False)  # the YAML as lm-eval reads it

    def _read_config(self, *, resolve: bool) -> dict[str, Any]:
        from lm_eval.tasks._yaml_loader import load_yaml

        if self.entry.yaml_path is None:
            return dict(self.entry.cfg or {})
        return dict(load_yaml(self.entry.yaml_path, resolve_func=resolve))

    def task(self, source: str) -> Task:
        version = str((self.config.get("metadata") or {}).get("version", "0"))
        names, directions = self._metric_names()
        metrics = [self._register(n, directions[n]) for n in names]
        return Task(
            load=self.load,
            prompt=LmevalFormat(self),
            metrics=metrics,
            main_metric=metrics[0],
            version=version,
            description=f"lm-eval task {self.name}",
            name=f"lmeval/{self.name}",
            source=source,
            definition=content_hash({"lmeval_task": self.name, "config": _plain(self.config)}, 20),
            run_metrics=(self.run_metrics,),
        )

    def _metric_names(self) -> tuple[list[str], dict[str, bool]]:
        """`metric,filter` for each metric of each filter, as lm-eval reports them."""
        filters = [f.get("name", "none") for f in self.config.get("filter_list") or []] or ["none"]
        listed = self.config.get("metric_list") or []
        metrics: list[tuple[str, bool]] = [
            (str(m["metric"]), bool(m.get("higher_is_better", True))) for m in listed
        ]
        if not metrics:  # lm-eval's defaults for the output type
            output = self.config.get("output_type", "generate_until")
            defaults = {
                "multiple_choice": [("acc", True), ("acc_norm", True)],
                "loglikelihood": [("perplexity", False), ("acc", True)],
                "loglikelihood_rolling": [
                    ("word_perplexity", False),
                    ("byte_perplexity", False),
                    ("bits_per_byte", False),
                ],
                "generate_until": [("exact_match", True)],
            }
            metrics = defaults.get(output, [("acc", True)])
        names = [f"{m},{f}" for f in filters for m, _ in metrics]
        directions = {f"{m},{f}": up for f in filters for m, up in metrics}
        return names, directions

    @staticmethod
    def _register(name: str, higher: bool) -> str:
        if name not in METRICS:
            register(
                Metric(
                    name,
                    direction=Direction.HIGHER if higher else Direction.LOWER,
                    values=Values.UNBOUNDED,
                    fn=_scored_by_lmeval,
                    description="an lm-eval metric, scored by lm-eval's process_results",
                )
            )
        run_name = f"lmeval/{name}"
        if run_name not in RUN_LEVEL:
            register(
                Metric(
                    run_name,
                    direction=Direction.HIGHER if higher else Direction.LOWER,
                    values=Values.UNBOUNDED,
                    aggregation="run",
                    description="an lm-eval task figure, aggregated as lm-eval does",
                )
            )
        return name

    def lm_task(self, data: DataContext) -> Any:
        if self._task is None:
            self._task = self._load_task(data)
        return self._task

    def _load_task(self, data: DataContext) -> Any:
        from lm_eval.defaults import DEFAULT_OTHER_SEED
        from lm_eval.tasks import get_task_dict

        spec: str | dict[str, Any] = self.name
        mirror = _local_mirror(self.config, data)
        if mirror is not None:
            spec = {**self._read_config(resolve=True), "dataset_path": str(mirror)}
        try:
            built = get_task_dict([spec], self.manager)
        except (FileNotFoundError, ConnectionError, OSError, ValueError) as exc:
            raise UserError(
                f"lm-eval task {self.name}: its data did not load ({_first_line(exc)}): "
                "pass --data-dir with a local copy, or name local files in the task YAML"
            ) from None
        (task,) = built.values()
        # lm-eval's own default seed for few-shot sampling: the same shots as `lm-eval run`
        task.set_fewshot_seed(seed=DEFAULT_OTHER_SEED)
        return task

    def load(self, data: DataContext) -> Loaded:
        task = self.lm_task(data)
        if not self._docs:
            task.build_all_requests(limit=None, rank=0, world_size=1)
            by_doc: dict[int, list[Any]] = {}
            for instance in task.instances:
                by_doc.setdefault(instance.doc_id, []).append(instance)
            for doc_id, instances in by_doc.items():
                instances.sort(key=lambda i: i.idx)
                self._docs[str(doc_id)] = (instances[0].doc, instances)
        return Loaded(samples=[self._sample(k, v) for k, v in self._docs.items()])

    def _sample(self, doc_id: str, entry: tuple[Any, list[Any]]) -> Sample:
        doc, instances = entry
        first = instances[0]
        kind = first.request_type
        choices = [i.args[1] for i in instances] if kind == "loglikelihood" else None
        target = self._task.doc_to_target(doc)
        correct = target if isinstance(target, int) and choices else None
        references = [] if isinstance(target, int) else [str(target)]
        if correct is not None and choices is not None and 0 <= correct < len(choices):
            references = [choices[correct]]
        return Sample(
            id=doc_id,
            input=str(first.args[0]),
            references=references,
            choices=choices,
            correct=correct,
            metadata={"lmeval_doc": _plain(doc), "lmeval_request_type": kind},
        )

    def instances(self, sample: Sample) -> list[Any]:
        return self._docs[sample.id][1]

    def score(
        self, sample: Sample, responses: Sequence[Response]
    ) -> tuple[dict[str, float], dict[str, Any], str]:
        """lm-eval's per-sample metric values for these responses, and the filtered answer."""
        doc, originals = self._docs[sample.id]
        instances = [copy.copy(i) for i in originals]
        for instance, response in zip(instances, responses, strict=True):
            instance.resps = [_result(instance.request_type, response)] * instance.repeats
            instance.filtered_resps = {}
        for ensemble in self._task._filters:
            ensemble.apply(instances)
        scores: dict[str, float] = {}
        values: dict[str, Any] = {}
        answer = ""
        for filter_key in instances[0].filtered_resps:
            filtered = [i.filtered_resps[filter_key] for i in instances]
            if not answer:
                answer = _answer_text(filtered)
            for metric, value in self._task.process_results(doc, filtered).items():
                key = f"{metric},{filter_key}"
                values[key] = _plain(value)
                if isinstance(value, bool | int | float) and key in METRICS:
                    scores[key] = float(value)
        return scores, {"lmeval_values": values}, answer

    def run_metrics(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """The task's figures over the run's samples, by lm-eval's own aggregation functions."""
        if self._task is None:
            return {}
        aggregations = self._task.aggregation()
        collected: dict[str, list[Any]] = {}
        for row in rows:
            for key, value in ((row.get("metadata") or {}).get("lmeval_values") or {}).items():
                collected.setdefault(key, []).append(_restore(value))
        out: dict[str, float] = {}
        for key, items in collected.items():
            metric = key.split(",", 1)[0]
            aggregate = aggregations.get(metric)
            if aggregate is None or not items:
                continue
            try:
                out[f"lmeval/{key}"] = float(aggregate(items))
            except (TypeError, ValueError, ZeroDivisionError):
                out[f"lmeval/{key}"] = math.nan
        return out


def _scored_by_lmeval(answer: str | None, references: Sequence[str]) -> float:
    """Never called for lm-eval runs (their format scores itself): no value elsewhere."""
    return math.nan


def _result(kind: str, response: Response) -> Any:
    """A response as lm-eval's `LM` returns it for this request type."""
    if kind == "generate_until":
        return response.text
    loglikelihood = response.loglikelihood if response.loglikelihood is not None else -math.inf
    if kind == "loglikelihood_rolling":
        return loglikelihood
    greedy = bool((response.raw or {}).get("is_greedy", False))
    return (loglikelihood, greedy)


def _answer_text(filtered: list[Any]) -> str:
    if filtered and all(isinstance(f, tuple) for f in filtered):
        best = max(range(len(filtered)), key=lambda i: filtered[i][0])
        return str(best)
    return str(filtered[0]) if filtered else ""


class LmevalFormat(PromptFormat):
    """The instances lm-eval built, as assay requests; lm-eval scores the answers."""

    kind = "lmeval"

    def __init__(self, adapter: LmevalTask) -> None:
        self.adapter = adapter
        # the runner reads, then scores, the same responses: lm-eval's scoring runs once
        self._last: tuple[tuple[str, tuple[int, ...]], Any] | None = None
        output = str(adapter.config.get("output_type", "generate_until"))
        self.needs_prompt_logprobs = output != "generate_until"

    def config(self) -> dict[str, Any]:
        return {"lmeval_task": self.adapter.name}

    def build(self, sample: Sample, shots: Sequence[Sample], chat: bool) -> list[Request]:
        return [_request(i, chat) for i in self.adapter.instances(sample)]

    def _score(
        self, sample: Sample, responses: Sequence[Response]
    ) -> tuple[dict[str, float], dict[str, Any], str]:
        key = (sample.id, tuple(id(r) for r in responses))
        if self._last is None or self._last[0] != key:
            self._last = (key, self.adapter.score(sample, responses))
        scored: tuple[dict[str, float], dict[str, Any], str] = self._last[1]
        return scored

    def read(self, sample: Sample, responses: Sequence[Response]) -> Prediction:
        _, _, answer = self._score(sample, responses)
        return Prediction(answer=answer, text=answer)

    def references(self, sample: Sample) -> list[str]:
        return sample.references

    def scores(
        self, sample: Sample, responses: Sequence[Response]
    ) -> tuple[dict[str, float], dict[str, Any]] | None:
        scores, details, _ = self._score(sample, responses)
        return scores, details


def _request(instance: Any, chat: bool) -> Request:
    kind = instance.request_type
    if kind == "generate_until":
        context, kwargs = instance.args[0], dict(instance.args[1] or {})
        until = kwargs.get("until") or []
        stops = [until] if isinstance(until, str) else list(until)
        messages: list[Message] | None = [{"role": "user", "content": context}] if chat else None
        return Request(
            messages=messages,
            prompt=None if chat else context,
            max_tokens=int(kwargs.get("max_gen_toks", DEFAULT_MAX_TOKENS)),
            temperature=float(kwargs.get("temperature", 0.0) or 0.0),
            stop=stops or None,
        )
    if kind == "loglikelihood":
        return Request(prompt=instance.args[0], continuation=instance.args[1], max_tokens=0)
    if kind == "loglikelihood_rolling":
        return Request(prompt="", continuation=instance.args[0], max_tokens=0)
    raise UserError(f"lm-eval request type {kind!r} is not supported by assay")


def _local_mirror(config: Mapping[str, Any], data: DataContext) -> Path | None:
    """`<data-dir>/<dataset_path>` when the mirror has the task's dataset."""
    path = config.get("dataset_path")
    if data.data_dir is None or not isinstance(path, str):
        return None
    local = data.data_dir / path
    return local if local.exists() else None


def _plain(value: Any) -> Any:
    """JSON-able: tuples to lists, numpy numbers to floats, anything else to text."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _restore(value: Any) -> Any:
    """Lists back to tuples, as lm-eval's aggregations (perplexity pairs) expect them."""
    return tuple(value) if isinstance(value, list) else value


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
