"""`assay import-lmeval DIR`: lm-evaluation-harness results and samples, all of them or none."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from assay.errors import UserError
from assay.interop.common import importing
from assay.interop.lmeval import find_results, import_results
from assay.store.db import Store, resolve_url


def main(args: argparse.Namespace) -> int:
    files = find_results(Path(args.path))
    store = Store(resolve_url(args.db))
    out = Console(highlight=False, soft_wrap=True)
    with importing(store) as session:  # one transaction: a bad file leaves nothing of any behind
        imported = [(f, import_results(session, f, args.suite)) for f in files]
    if not any(runs for _, (runs, _) in imported):
        raise UserError(
            f"nothing to import under {args.path!r}: every task's samples lack per-sample scores"
        )
    for results_file, (runs, skipped) in imported:
        for task in skipped:
            out.print(
                f"{results_file.name}: skipped {task}: its samples carry no per-sample "
                "numbers (perplexity-style metrics are corpus-level)"
            )
        for run in runs:
            out.print(
                f"{results_file.name} -> {run.benchmark} · {run.model}: {run.samples} samples, "
                f"{run.requests} requests, {run.scores} scores (main metric {run.main_metric}) "
                f"run {run.run_id}"
            )
    db = f" --db {args.db}" if args.db else ""
    out.print(f"Leaderboard: assay leaderboard --suite {args.suite}{db}")
    return 0
