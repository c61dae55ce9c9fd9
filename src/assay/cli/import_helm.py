"""`assay import-helm PATH`: HELM benchmark_output runs into the store, re-aggregated with CIs."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.text import Text

from assay.display import visible
from assay.interop.helm import find_runs, import_run
from assay.store.db import Store, resolve_url


def main(args: argparse.Namespace) -> int:
    runs = find_runs(Path(args.path), args.helm_suite)
    store = Store(resolve_url(args.db))
    out = Console(highlight=False, soft_wrap=True)
    suites: set[str] = set()
    for helm_suite, run_dir in runs:
        suite = args.suite or helm_suite
        suites.add(suite)
        result = import_run(store, run_dir, suite, main_metric=args.main_metric)
        out.print(
            Text(
                f"{visible(result.name)} -> {visible(result.benchmark)} · "
                f"{visible(result.model)}: {result.samples} samples, {result.requests} requests, "
                f"{result.scores} scores, {result.helm_stats} HELM stats (main metric "
                f"{visible(result.main_metric)}) run {result.run_id}"
            )
        )
    db = f" --db {args.db}" if args.db else ""
    for suite in sorted(suites):
        out.print(Text(f"Leaderboard: assay leaderboard --suite {visible(suite)}{db}"))
    return 0
