"""`assay run`: evaluate every model on every benchmark, then report each run."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import os
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from assay.benchmarks.base import DataContext, Task
from assay.benchmarks.loading import resolve_data_dir
from assay.benchmarks.registry import resolve_tasks
from assay.checks import COUNT_MAX, check_distinct, check_range, check_seed
from assay.display import visible
from assay.errors import UserError
from assay.execution.concurrency import ConcurrencyLimits
from assay.execution.executor import Executor, probe
from assay.execution.overrides import Overrides
from assay.execution.retry import RetryPolicy
from assay.execution.runner import BatchOptions, Runner, RunResult
from assay.extras import require
from assay.metrics.code import SANDBOXED_METRICS
from assay.metrics.judge import RUBRICS, JudgeSettings
from assay.metrics.panel import model_family, same_family
from assay.metrics.registry import is_judged, require_metric_packages
from assay.models.base import Model
from assay.models.batch import BatchPending, batch_api
from assay.models.registry import create_model
from assay.models.threads import shared_by
from assay.sandbox import require_sandbox
from assay.store.db import Store, resolve_url

if TYPE_CHECKING:
    from assay.execution.ray_cluster import RayCluster

# providers that compute on this machine's cores (their `threads` default shares them)
LOCAL_PROVIDERS = frozenset({"llamacpp", "hf"})


def main(args: argparse.Namespace) -> int:
    check_options(args)
    console = Console(stderr=True, highlight=False)
    out = Console(highlight=False, soft_wrap=True)
    data = DataContext(resolve_data_dir(args.data_dir))
    tasks = [
        t for b in args.benchmarks for t in resolve_tasks(b)
    ]  # every mistake is found before any work
    if args.rubrics:
        tasks = [with_rubrics(task, args.rubrics) for task in tasks]
    if args.perturb:
        from assay.perturbations import parse_perturbation, perturb

        perturbations = [parse_perturbation(p) for p in args.perturb]
        tasks = [perturb(task, perturbations) for task in tasks]
    require_metric_packages(m for task in tasks for m in task.metrics)
    if any(SANDBOXED_METRICS.intersection(task.metrics) for task in tasks):
        require_sandbox()  # before any run exists: no way to run generated code, no run
    judged = sorted({t.name for t in tasks if any(is_judged(m) for m in t.metrics)})
    if judged and not args.judges:
        raise UserError(
            f"{', '.join(judged)} {'is' if len(judged) == 1 else 'are'} scored by a judge model: "
            "pass --judge MODEL (e.g. --judge llamacpp/smollm2)"
        )
    judge_names = list(args.judges or []) if judged else []
    local = [m for m in [*args.models, *judge_names] if m.split("/", 1)[0] in LOCAL_PROVIDERS]
    with shared_by(len(local)):  # local models running side by side share the idle cores
        models = [create_model(m) for m in args.models]
        judges = [create_model(j) for j in judge_names]
    if judged and args.exclude_same_family_judges:
        for model in models:
            if not panel_for(model, judges, exclude=True):
                raise UserError(
                    f"every judge is of {model.label}'s family ({model_family(model.label)}) "
                    "and --exclude-same-family-judges leaves none: add a --judge of another "
                    "family"
                )
    store = Store(resolve_url(args.db))
    policy = RetryPolicy(
        max_attempts=args.max_attempts,
        base_delay=args.retry_delay,
        timeout=args.timeout,
        max_retry_wait=args.max_retry_wait,
    )
    results = asyncio.run(_run_all(store, tasks, models, data, args, policy, console, judges))
    for result in results:
        out.print(describe(result))
    # names are users' text: Text pieces, never read as markup
    out.print(
        Text.assemble(
            "\nResults: ",
            (store.location, "bold"),
            " (suite ",
            (args.suite, "bold"),
            "). Leaderboard: assay leaderboard --suite "
            + args.suite
            + (f" --db {args.db}" if args.db else ""),
        )
    )
    return 0


def check_options(args: argparse.Namespace) -> None:
    """Every numeric option in range before any work: one line naming the option otherwise."""
    if args.limit is not None and args.limit < 1:
        raise UserError("--limit must be at least 1")
    if args.concurrency is not None and args.concurrency < 1:
        raise UserError("--concurrency must be at least 1")
    if args.max_attempts < 1:
        raise UserError("--max-attempts must be at least 1")
    for option in ("limit", "concurrency", "max_attempts"):
        check_range(f"--{option.replace('_', '-')}", getattr(args, option), at_most=COUNT_MAX)
    check_seed("--seed", args.seed)
    check_seed("--generation-seed", args.generation_seed)
    check_range("--retry-delay", args.retry_delay, at_least=0)
    check_range("--timeout", args.timeout, above=0)
    check_range("--max-retry-wait", args.max_retry_wait, at_least=0)
    check_range("--max-tokens", args.max_tokens, at_least=1, at_most=COUNT_MAX)
    check_range("--temperature", args.temperature, at_least=0)
    check_range("--top-p", args.top_p, above=0, at_most=1)
    check_range("--n", args.n, at_least=1, at_most=COUNT_MAX)
    check_range("--batch-wait", args.batch_wait, at_least=0)
    check_range("--batch-poll", args.batch_poll, above=0)
    check_distinct("--model", args.models)
    check_distinct("--judge", args.judges or [])
    check_range("--judge-temperature", args.judge_temperature, at_least=0)
    check_seed("--judge-seed", args.judge_seed)
    check_executor(args)


def with_rubrics(task: Task, rubrics: list[str]) -> Task:
    """The task with each `--rubric`'s judged metric added (its main metric unchanged)."""
    added = [RUBRICS[r] for r in rubrics if RUBRICS[r] not in task.metrics]
    return dataclasses.replace(task, metrics=[*task.metrics, *added]) if added else task


def panel_for(model: Model, judges: list[Model], *, exclude: bool) -> list[Model]:
    """The judges that judge `model`'s runs: all, or (`exclude`) those of another family."""
    return [j for j in judges if not (exclude and same_family(j.label, model.label))]


def check_executor(args: argparse.Namespace) -> None:
    """The Ray options only with `--executor ray`, and its extra installed."""
    if args.executor != "ray":
        for option in ("ray_address", "ray_workers"):
            if getattr(args, option) is not None:
                raise UserError(f"--{option.replace('_', '-')} needs --executor ray")
        return
    check_range("--ray-workers", args.ray_workers, at_least=1, at_most=COUNT_MAX)
    if args.batch:
        raise UserError(
            "--batch sends each run to the provider's batch API from this process: "
            "leave out --batch or --executor ray"
        )
    require("ray", "ray", "--executor ray")
    from assay.execution.ray_cluster import check_reachable

    check_reachable(args.ray_address or os.environ.get("RAY_ADDRESS") or None)


async def _run_all(
    store: Store,
    tasks: list[Task],
    models: list[Model],
    data: DataContext,
    args: argparse.Namespace,
    policy: RetryPolicy,
    console: Console,
    judges: list[Model] | None = None,
) -> list[RunResult]:
    from assay.cli.progress import RunBars
    from assay.execution.identity import Fingerprints
    from assay.execution.scheduler import run_all

    overrides = Overrides(
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.generation_seed,
        n=args.n,
        system=args.system,
    )
    batch = BatchOptions(args.batch_poll, args.batch_wait) if args.batch else None
    fingerprints = Fingerprints()  # each benchmark's samples are hashed once, for every model
    bars = None if args.no_progress else RunBars(console)

    def report_pending(runner: Runner, pending: BatchPending) -> None:
        status = pending.status
        console.print(
            Text.assemble(
                (runner.task.name, "bold"),
                f" · {runner.model.label}: batch {status.batch_id} is still running "
                f"({status.succeeded + status.failed}/{status.total} done); run "
                "the same command again to collect it",
            ),
            soft_wrap=True,
        )

    cluster: RayCluster | None = None

    # one adaptive limit per API provider (per model for local ones), shared by all runs
    limits = ConcurrencyLimits(args.concurrency)

    def executor_for(model: Model, source: str) -> Executor:
        if cluster is None:
            return Executor(model, policy=policy, limits=limits)
        return cluster.executor(model, source, concurrency=args.concurrency, policy=policy)

    try:
        for model in models:
            if batch is not None:
                batch_api(model)  # says which providers have one, before any work
            await probe(model, policy)
        for judge_model in judges or ():
            await probe(judge_model, policy)
        if args.executor == "ray":
            from assay.execution.ray_cluster import RayCluster

            cluster = RayCluster.start(args.ray_address, args.ray_workers)
        # each judge's executor is shared by every run: one cache; its limit is its provider's
        # (no judges when no benchmark is judged, though --judge was given)
        sources = zip(judges or (), args.judges or (), strict=False)
        panel = {id(j): executor_for(j, source) for j, source in sources}
        # every run is planned (its samples read and hashed) before any starts: a mistake in
        # any of them stops the command before work; one executor per model, shared by its runs
        runners = []
        for model, source in zip(models, args.models, strict=True):
            executor = executor_for(model, source)
            own = panel_for(model, judges or [], exclude=args.exclude_same_family_judges)
            for task in tasks:
                runners.append(
                    Runner(
                        store,
                        task,
                        model,
                        executor,
                        data=data,
                        limit=args.limit,
                        seed=args.seed,
                        suite=args.suite,
                        progress=None if bars is None else bars.line(),
                        overrides=overrides,
                        batch=batch,
                        fingerprints=fingerprints,
                        keep_samples=len(models) > 1,
                        judges=[panel[id(j)] for j in own],
                        panel_aggregate=args.panel_aggregate,
                        judge_settings=JudgeSettings(args.judge_temperature, args.judge_seed),
                    )
                )
        if cluster is not None:
            await cluster.release_driver_weights()
        # batch runs stay one at a time: each waits on its provider batch in turn
        outcomes = await run_all(runners, on_pending=report_pending, sequential=batch is not None)
    finally:
        if bars is not None:
            bars.close()
        if cluster is not None:
            await cluster.close()
        for model in [*models, *(judges or ())]:
            await model.close()
    return [o.result for o in outcomes if o.result is not None]


def describe(result: RunResult) -> Text:
    summary = result.summary
    stats = summary["metrics"].get(result.main_metric)
    if stats is None:
        score = "[dim]no scored samples[/]"
    else:
        ci = (
            ""
            if math.isnan(stats["ci_lo"])
            else f" [dim][{stats['ci_lo']:.3f}, {stats['ci_hi']:.3f}][/]"
        )
        score = f"[bold]{stats['mean']:.3f}[/]{ci} n={stats['n']}"
    worst = summary["metrics"].get(f"{result.main_metric}_worst")
    if worst is not None:
        score += f"  worst [bold]{worst['mean']:.3f}[/]"
    extras = _run_metrics(summary.get("run_metrics") or {})
    if extras:
        score += f"  [dim]{extras}[/]"
    errors = summary["n_errors"]
    flags = [
        f"[red]{errors} errors[/]" if errors else "0 errors",
        f"{summary['n_unparsed']} unparsed",
    ]
    if "judge_unparsed" in summary:  # a judged run: samples the judge left unscored
        flags.extend(_judge_flags(summary))
    if summary["errors_by_kind"]:
        kinds = escape(", ".join(f"{k}: {v}" for k, v in sorted(summary["errors_by_kind"].items())))
        flags.append(f"[dim]({kinds})[/]")
    if result.resumed:
        flags.append(f"[dim]resumed {result.resumed} done[/]")
    if result.supersedes:
        more = len(result.supersedes) - 1
        flags.append(
            f"[dim]new run: inputs differ from run {result.supersedes[0]}"
            + (f" and {more} more" if more else "")
            + " (kept)[/]"
        )
    if summary["cache_hits"]:
        flags.append(f"[dim]{summary['cache_hits']} cached[/]")
    line = Text.assemble(
        (visible(result.benchmark), "bold"), f" · {visible(result.model)}  {result.main_metric} "
    )
    line.append_text(
        Text.from_markup(
            f"{score}  " + "  ".join(flags) + f"  [dim]{result.wall_s:.1f}s run {result.run_id}[/]"
        )
    )
    return line


def _judge_flags(summary: dict[str, Any]) -> list[str]:
    """What the judges left unscored, a panel's agreement, and same-family judges."""
    judge_errors = summary["judge_errors"]
    flags = [
        f"{summary['judge_unparsed']} unparsed by judge",
        f"[red]{judge_errors} judge errors[/]" if judge_errors else "0 judge errors",
    ]
    if summary.get("judge_split"):
        flags.append(f"{summary['judge_split']} split panel")
    if summary.get("judge_partial"):
        flags.append(f"[yellow]{summary['judge_partial']} scored by part of the panel[/]")
    panel = summary.get("panel")
    for metric, found in sorted((panel or {}).get("agreement", {}).items()):
        symbol = "alpha"
        if found["statistic"] == "cohen_kappa":
            symbol = "weighted kappa" if found.get("weights", "none") != "none" else "kappa"
        value = "n/a" if found["value"] is None else f"{found['value']:.2f}"
        flags.append(f"[dim]judges' {symbol} {escape(metric)}={value} n={found['n']}[/]")
    same = summary.get("same_family_judges") or []
    if same:
        flags.append(f"[yellow]same-family judge: {escape(', '.join(visible(j) for j in same))}[/]")
    return flags


# The run-level numbers worth a glance on one line; the rest are in the summary and the viewer.
_SHOWN = (
    "bias_ambiguous",
    "bias_disambiguated",
    "corpus_bleu",
    "corpus_chrf",
    "ifeval_instruction_strict_pooled",
    "ece_10_bin",
    "selective_accuracy_auc",
)


def _run_metrics(values: dict[str, float | None]) -> str:
    return " ".join(
        f"{name}={'n/a' if values[name] is None else format(values[name], '.3f')}"
        for name in _SHOWN
        if name in values
    )
