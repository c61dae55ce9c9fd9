"""`assay run`: evaluate every model on every benchmark, then report each run."""

from __future__ import annotations

import argparse
import asyncio
import math

from rich.console import Console

from assay.benchmarks.base import DataContext, Task
from assay.benchmarks.loading import resolve_data_dir
from assay.benchmarks.registry import resolve_task
from assay.display import visible
from assay.errors import UserError
from assay.execution.executor import Executor, probe
from assay.execution.overrides import Overrides
from assay.execution.retry import RetryPolicy
from assay.execution.runner import BatchOptions, Runner, RunResult
from assay.models.base import Model
from assay.models.batch import BatchPending, batch_api
from assay.models.registry import create_model
from assay.store.db import Store, resolve_url


def main(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise UserError("--limit must be at least 1")
    if args.concurrency is not None and args.concurrency < 1:
        raise UserError("--concurrency must be at least 1")
    if args.max_attempts < 1:
        raise UserError("--max-attempts must be at least 1")
    console = Console(stderr=True, highlight=False)
    out = Console(highlight=False, soft_wrap=True)
    data = DataContext(resolve_data_dir(args.data_dir))
    tasks = [resolve_task(b) for b in args.benchmarks]  # every mistake is found before any work
    if args.perturb:
        from assay.perturbations import parse_perturbation, perturb

        perturbations = [parse_perturbation(p) for p in args.perturb]
        tasks = [perturb(task, perturbations) for task in tasks]
    models = [create_model(m) for m in args.models]
    store = Store(resolve_url(args.db))
    if not args.max_retry_wait >= 0 or math.isinf(args.max_retry_wait):
        raise UserError("--max-retry-wait must be a number of seconds, 0 or more")
    policy = RetryPolicy(
        max_attempts=args.max_attempts,
        base_delay=args.retry_delay,
        timeout=args.timeout,
        max_retry_wait=args.max_retry_wait,
    )
    results = asyncio.run(_run_all(store, tasks, models, data, args, policy, console))
    for result in results:
        out.print(describe(result))
    out.print(
        f"\nResults: [bold]{store.location}[/] (suite [bold]{args.suite}[/]). "
        f"Leaderboard: assay leaderboard --suite {args.suite}"
        + (f" --db {args.db}" if args.db else "")
    )
    return 0


async def _run_all(
    store: Store,
    tasks: list[Task],
    models: list[Model],
    data: DataContext,
    args: argparse.Namespace,
    policy: RetryPolicy,
    console: Console,
) -> list[RunResult]:
    from assay.cli.progress import BarProgress

    overrides = Overrides(
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.generation_seed,
        n=args.n,
        system=args.system,
    )
    batch = BatchOptions(args.batch_poll, args.batch_wait) if args.batch else None
    results: list[RunResult] = []
    try:
        for model in models:
            if batch is not None:
                batch_api(model)  # says which providers have one, before any work
            await probe(model, policy)
        for model in models:
            executor = Executor(model, concurrency=args.concurrency, policy=policy)
            for task in tasks:
                progress = None if args.no_progress else BarProgress(console)
                runner = Runner(
                    store,
                    task,
                    model,
                    executor,
                    data=data,
                    limit=args.limit,
                    seed=args.seed,
                    suite=args.suite,
                    progress=progress,
                    overrides=overrides,
                    batch=batch,
                )
                try:
                    results.append(await runner.run())
                except BatchPending as pending:
                    status = pending.status
                    console.print(
                        f"[bold]{task.name}[/] · {model.label}: batch {status.batch_id} is still "
                        f"running ({status.succeeded + status.failed}/{status.total} done); run "
                        "the same command again to collect it",
                        soft_wrap=True,
                    )
    finally:
        for model in models:
            await model.close()
    return results


def describe(result: RunResult) -> str:
    summary = result.summary
    stats = summary["metrics"].get(result.main_metric)
    if stats is None:
        score = f"{result.main_metric} [dim]no scored samples[/]"
    else:
        ci = (
            ""
            if math.isnan(stats["ci_lo"])
            else f" [dim][{stats['ci_lo']:.3f}, {stats['ci_hi']:.3f}][/]"
        )
        score = f"{result.main_metric} [bold]{stats['mean']:.3f}[/]{ci} n={stats['n']}"
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
    if summary["errors_by_kind"]:
        kinds = ", ".join(f"{k}: {v}" for k, v in sorted(summary["errors_by_kind"].items()))
        flags.append(f"[dim]({kinds})[/]")
    if result.resumed:
        flags.append(f"[dim]resumed {result.resumed} done[/]")
    if summary["cache_hits"]:
        flags.append(f"[dim]{summary['cache_hits']} cached[/]")
    return (
        f"[bold]{visible(result.benchmark)}[/] · {visible(result.model)}  {score}  "
        + "  ".join(flags)
        + f"  [dim]{result.wall_s:.1f}s run {result.run_id}[/]"
    )


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
