"""Defining benchmarks: the `@benchmark` decorator and the `Task` it returns.

A benchmark is a function whose keyword parameters are its variants::

    @benchmark("mmlu", groups=("knowledge",))
    def mmlu(subject: str = "all", shots: int = 5) -> Task: ...

`mmlu:subject=anatomy,shots=0` calls it with those arguments (typed from the annotations). The
decorator records the arguments, so every task knows its canonical variant name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from assay.errors import UserError
from assay.metrics import registry
from assay.plugins import defined_at, same_definition
from assay.prompting.formats import PromptFormat
from assay.samples import Sample

FewShot = Callable[[Sample], Sequence[Sample]]


@dataclass
class DataContext:
    """Where data comes from: a local mirror directory, or the hub when it is None."""

    data_dir: Path | None = None

    def local(self, *parts: str) -> Path | None:
        """Path inside the mirror, or None when loading from the hub."""
        return None if self.data_dir is None else self.data_dir.joinpath(*parts)


@dataclass
class Loaded:
    """What a task's loader returns: samples in a stable order, and few-shot examples."""

    samples: Iterable[Sample]
    fewshot: FewShot | None = None


Loader = Callable[[DataContext], Loaded]

# A number about a whole run that is not a mean of sample scores (corpus BLEU, BBQ's bias
# scores): it gets the run's scored sample rows (prediction, correct, choices, references,
# metadata, confidence) and returns named values, stored in the summary under "run_metrics".
RunMetric = Callable[[Sequence[Mapping[str, Any]]], dict[str, float]]


@dataclass
class Task:
    """A benchmark variant ready to run."""

    load: Loader
    prompt: PromptFormat
    metrics: list[str]
    main_metric: str | None = None
    # the main metric's direction for this task (stored on the run row); None: the main
    # metric's declared one (lower only for a lower-is-better metric)
    higher_is_better: bool | None = None
    version: str = "1"
    groups: tuple[str, ...] = ()
    description: str = ""
    name: str = ""  # filled in by @benchmark with the canonical variant name
    params: dict[str, Any] = field(default_factory=dict)
    run_metrics: tuple[RunMetric, ...] = ()
    # Where a file-defined benchmark comes from ("" for a registered name): the leaderboard
    # keys a suite's latest runs on (name, source), so a file benchmark named like a built-in
    # sits beside it instead of hiding it. A path, so never part of the run id.
    source: str = ""
    # Content hash of a file-defined benchmark's definition (YAML fields, Python source): part
    # of the run id, so an edited prompt or metric list is a new run. Registered benchmarks are
    # identified by their name and `version` instead.
    definition: str | None = None

    def __post_init__(self) -> None:
        if not self.metrics:
            raise UserError(f"benchmark {self.name or '?'} declares no metrics")
        for metric in self.metrics:
            if metric not in registry.METRICS:
                where = f"benchmark {self.name}: " if self.name else ""
                raise UserError(where + registry.unknown_metric(metric))
        if self.main_metric is None:
            self.main_metric = self.metrics[0]
        if self.main_metric not in self.metrics:
            raise UserError(
                f"benchmark {self.name or '?'}: main metric {self.main_metric!r} is not one of "
                f"its metrics {self.metrics}"
            )
        if self.higher_is_better is None:
            declared = registry.METRICS[self.main_metric].higher_is_better
            self.higher_is_better = declared is not False


@dataclass
class BenchmarkInfo:
    name: str
    factory: Callable[..., Task]
    groups: tuple[str, ...]
    description: str
    params: dict[str, inspect.Parameter]
    types: dict[str, type]

    def build(self, args: dict[str, str] | None = None) -> Task:
        """Build the task for string arguments (from `name:k=v`), checking names and types."""
        typed = {k: self._coerce(k, v) for k, v in (args or {}).items()}
        task = self.factory(**typed)
        if not isinstance(task, Task):
            raise UserError(f"benchmark {self.name!r} did not return an assay.Task")
        defaults = {k: p.default for k, p in self.params.items()}
        chosen = {k: v for k, v in typed.items() if defaults.get(k) != v}
        task.params = {**defaults, **typed}
        task.name = variant_name(self.name, chosen)
        task.groups = task.groups or self.groups
        task.description = task.description or self.description
        return task

    def _coerce(self, key: str, value: str) -> Any:
        if key not in self.params:
            valid = ", ".join(self.params) or "none"
            raise UserError(
                f"benchmark {self.name!r} has no parameter {key!r} (its parameters: {valid})"
            )
        kind = self.types.get(key, str)
        try:
            if kind is bool:
                if value.lower() not in {"true", "false", "1", "0", "yes", "no"}:
                    raise ValueError(value)
                return value.lower() in {"true", "1", "yes"}
            if kind in (int, float, str):
                return kind(value)
        except ValueError:
            raise UserError(
                f"benchmark {self.name!r}: parameter {key}={value!r} must be {kind.__name__}"
            ) from None
        return value


def variant_name(name: str, args: dict[str, Any]) -> str:
    if not args:
        return name
    parts = ",".join(f"{k}={_fmt(v)}" for k, v in sorted(args.items()))
    return f"{name}:{parts}"


def _fmt(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


REGISTRY: dict[str, BenchmarkInfo] = {}


def _check_free(name: str, factory: Callable[..., Task]) -> None:
    taken = REGISTRY.get(name)
    if taken is not None and not same_definition(taken.factory, factory):
        raise UserError(
            f"benchmark name {name!r} is taken: {defined_at(factory)} defines it and so does "
            f"{defined_at(taken.factory)}; rename one (a YAML file may reuse a name)"
        )


def benchmark(
    name: str, *, groups: Sequence[str] = (), description: str = ""
) -> Callable[[Callable[..., Task]], Callable[..., Task]]:
    """Register a function returning a `Task` as the benchmark `name`."""

    def register(factory: Callable[..., Task]) -> Callable[..., Task]:
        signature = inspect.signature(factory)
        hints = get_type_hints(factory)
        params = {
            k: p
            for k, p in signature.parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }
        doc = description or (inspect.getdoc(factory) or "").split("\n")[0]
        info = BenchmarkInfo(
            name=name,
            factory=factory,
            groups=tuple(groups),
            description=doc,
            params=params,
            types={k: hints[k] for k in params if k in hints},
        )
        _check_free(name, factory)
        REGISTRY[name] = info
        factory.benchmark_info = info  # type: ignore[attr-defined]
        return factory

    return register
