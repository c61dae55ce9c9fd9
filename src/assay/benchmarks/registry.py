"""Find a benchmark by name, YAML file or Python file, and build its task."""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points
from pathlib import Path

from assay.benchmarks.base import REGISTRY, BenchmarkInfo, Task
from assay.errors import UserError
from assay.hashing import file_hash

BUILTIN_MODULES = (
    "assay.benchmarks.mmlu",
    "assay.benchmarks.gsm8k",
    "assay.benchmarks.math_competition",
    "assay.benchmarks.hellaswag",
    "assay.benchmarks.openbookqa",
    "assay.benchmarks.commonsenseqa",
    "assay.benchmarks.boolq",
    "assay.benchmarks.truthfulqa",
    "assay.benchmarks.narrativeqa",
    "assay.benchmarks.naturalquestions",
    "assay.benchmarks.quac",
    "assay.benchmarks.xsum",
    "assay.benchmarks.medqa",
    "assay.benchmarks.pubmedqa",
    "assay.benchmarks.legalbench",
    "assay.benchmarks.humaneval",
    "assay.benchmarks.ifeval",
    "assay.benchmarks.bbq",
    "assay.benchmarks.translation",
    "assay.benchmarks.safety",
)


def all_benchmarks() -> dict[str, BenchmarkInfo]:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    for ep in entry_points(group="assay.benchmarks"):
        try:
            ep.load()
        except Exception as exc:  # a broken plugin must not hide the others
            raise UserError(f"benchmark plugin {ep.name!r} failed to load: {exc}") from exc
    return dict(sorted(REGISTRY.items()))


def parse_args(text: str, where: str) -> dict[str, str]:
    args: dict[str, str] = {}
    for part in filter(None, text.split(",")):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise UserError(
                f"{where}: parameter {part!r} is not key=value "
                "(write e.g. mmlu:subject=anatomy,shots=0)"
            )
        args[key.strip()] = value.strip()
    return args


def resolve_tasks(text: str) -> list[Task]:
    """`resolve_task`, plus `lmeval:<task>[,<task>...]`: lm-evaluation-harness tasks."""
    from assay.interop import lmeval_tasks

    if text.startswith(lmeval_tasks.PREFIX):
        return lmeval_tasks.tasks_from_names(text)
    return [resolve_task(text)]


def resolve_task(text: str) -> Task:
    """`mmlu:subject=anatomy`, `path/bench.yaml` (assay's schema or lm-eval's) or
    `path/module.py:name[:k=v,...]`."""
    lowered = text.lower()
    if lowered.endswith((".yaml", ".yml")):
        from assay.interop import lmeval_tasks

        if lmeval_tasks.is_lmeval_yaml(Path(text)):
            return lmeval_tasks.task_from_file(Path(text))
        from assay.benchmarks.custom import load_benchmark_file

        return load_benchmark_file(Path(text))
    if ".py:" in text:
        return _from_python(text)
    name, _, params = text.partition(":")
    benchmarks = all_benchmarks()
    info = benchmarks.get(name)
    if info is None:
        close = difflib.get_close_matches(name, list(benchmarks), n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise UserError(
            f"unknown benchmark {name!r}: {hint}run `assay benchmarks` to list them, "
            "or pass a .yaml file or module.py:name"
        )
    return info.build(parse_args(params, name))


def _from_python(text: str) -> Task:
    from assay.plugins import load_from_file

    path, _, rest = text.partition(".py:")
    name, _, params = rest.partition(":")
    file = Path(path + ".py")
    all_benchmarks()  # so a decorated name that clashes with a built-in is refused, always
    obj = load_from_file(file, name, what="benchmark")
    task = _python_task(obj, name, params)
    if task is None:
        raise UserError(
            f"{path}.py:{name} is not a benchmark: decorate a function returning "
            "assay.Task with @assay.benchmark, or define a Task"
        )
    # the file's code is the benchmark's definition: an edit is a new run (only this file is
    # hashed, not modules it imports)
    task.source = f"{file.resolve()}:{name}"
    task.definition = file_hash(file)
    return task


def _python_task(obj: object, name: str, params: str) -> Task | None:
    info = getattr(obj, "benchmark_info", None)
    if isinstance(info, BenchmarkInfo):
        return info.build(parse_args(params, name))
    if isinstance(obj, Task):
        obj.name = obj.name or name
        return obj
    if callable(obj):
        task = obj()
        if isinstance(task, Task):
            task.name = task.name or name
            return task
    return None
