"""`assay compare A B [C ...]`: paired differences, CIs and tests on the samples models share."""

from __future__ import annotations

import argparse
import io
import sys

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from assay.analysis.comparison import ComparisonRow, compare_models
from assay.checks import check_distinct, check_range, check_seed
from assay.cli.leaderboard import pick_suite
from assay.display import json_visible, visible
from assay.store.db import Store, resolve_url


def main(args: argparse.Namespace) -> int:
    check_range("--alpha", args.alpha, above=0, below=1)
    check_seed("--seed", args.seed)
    check_distinct("model", args.models)
    store = Store(resolve_url(args.db), readonly=True)
    rows = compare_models(
        store,
        pick_suite(store, args.suite),
        args.models,
        benchmarks=args.benchmarks,
        metric=args.metric,
        seed=args.seed,
    )
    if args.format == "json":
        data = [r.to_dict() for r in rows]
        text = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
        sys.stdout.write(json_visible(text) + "\n")
        return 0
    sys.stdout.write(render_table(rows, args.alpha))
    return 0


def verdict(row: ComparisonRow, alpha: float) -> str:
    r = row.result
    p = r.p_holm if r.p_holm is not None else r.p_value
    if p != p or p >= alpha:
        return "no significant difference"
    a_better = (r.diff > 0) == row.higher_is_better
    return f"{visible(row.model_a if a_better else row.model_b)} better"


def render_table(rows: list[ComparisonRow], alpha: float) -> str:
    table = Table(
        title="paired comparison (A - B on shared samples)",
        caption=f"diff: mean of A - B [95% paired bootstrap CI]; p: McNemar exact (0/1 scores) "
        f"or paired permutation test; Holm-adjusted over all {len(rows)} comparisons; "
        f"alpha {alpha}",
    )
    for h in (
        "benchmark",
        "metric",
        "A",
        "B",
        "n",
        "A mean",
        "B mean",
        "diff [CI]",
        "test",
        "p",
        "p (Holm)",
        "verdict",
    ):
        table.add_column(h, overflow="fold")
    for row in rows:
        r = row.result
        discordant = f" ({r.a_only}/{r.b_only})" if r.a_only is not None else ""
        table.add_row(
            Text(visible(row.benchmark)),
            Text(visible(row.metric)),
            Text(visible(row.model_a)),
            Text(visible(row.model_b)),
            str(r.n),
            f"{r.mean_a:.3f}",
            f"{r.mean_b:.3f}",
            f"{r.diff:+.3f} [{r.ci_lo:+.3f}, {r.ci_hi:+.3f}]",
            r.test + discordant,
            f"{r.p_value:.3g}",
            "-" if r.p_holm is None else f"{r.p_holm:.3g}",
            Text(verdict(row, alpha)),
        )
    buffer = io.StringIO()
    Console(file=buffer, width=200, highlight=False).print(table)
    return buffer.getvalue()
