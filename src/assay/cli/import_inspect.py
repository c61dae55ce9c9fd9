"""`assay import-inspect LOG...`: Inspect eval logs into the store, all of them or none."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from assay.interop.common import importing
from assay.interop.inspect import find_logs, import_log
from assay.store.db import Store, resolve_url


def main(args: argparse.Namespace) -> int:
    logs = find_logs([Path(p) for p in args.logs])
    store = Store(resolve_url(args.db))
    out = Console(highlight=False, soft_wrap=True)
    with importing(store) as session:  # one transaction: a bad log leaves nothing of any behind
        results = [(log, import_log(session, log, args.suite)) for log in logs]
    for log, run in results:
        out.print(
            f"{log.name} -> {run.benchmark} · {run.model}: {run.samples} samples, "
            f"{run.scores} scores (main metric {run.main_metric}) run {run.run_id}"
        )
    db = f" --db {args.db}" if args.db else ""
    out.print(f"Leaderboard: assay leaderboard --suite {args.suite}{db}")
    return 0
