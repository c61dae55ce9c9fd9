"""`assay import-eee PATH...`: Every Eval Ever aggregates and instance rows, all or none."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from assay.errors import UserError
from assay.interop.common import importing
from assay.interop.eee import load
from assay.interop.eee_import import find_aggregates, import_aggregate
from assay.store.db import Store, resolve_url


def main(args: argparse.Namespace) -> int:
    eee = load("import-eee")
    files = find_aggregates([Path(p) for p in args.paths])
    store = Store(resolve_url(args.db))
    out = Console(highlight=False, soft_wrap=True)
    with importing(store) as session:  # one transaction: a bad file leaves nothing of any behind
        imported = [(f, import_aggregate(session, eee, f, args.suite)) for f in files]
        if not any(runs for _, (runs, _) in imported):
            raise UserError(
                "nothing to import: no instance row names a per-sample score (the results "
                "are reported for the whole corpus only)"
            )
    for path, (runs, skipped) in imported:
        for name in skipped:
            out.print(
                f"{path.name}: skipped {name}: its instance rows carry no per-sample score "
                "(its results are reported for the whole corpus only)"
            )
        for run in runs:
            out.print(
                f"{path.name} -> {run.benchmark} · {run.model}: {run.samples} samples, "
                f"{run.scores} scores (main metric {run.main_metric}) run {run.run_id}"
            )
    db = f" --db {args.db}" if args.db else ""
    out.print(f"Leaderboard: assay leaderboard --suite {args.suite}{db}")
    return 0
