"""`assay benchmarks` and `assay models`: what is available, one line each."""

from __future__ import annotations

import argparse
import inspect

from rich.console import Console
from rich.text import Text


def main(args: argparse.Namespace) -> int:
    console = Console(highlight=False, soft_wrap=True)
    if args.command == "benchmarks":
        return _benchmarks(console, args)
    from assay.models.registry import PROVIDERS

    for provider in PROVIDERS.values():
        extra = f"[dim]extra[/] {provider.extra:<9}" if provider.extra else f"{'':15}"
        console.print(
            f"[bold]{provider.name:<18}[/] {extra} {provider.summary}  "
            f"[dim]e.g.[/] {provider.example}"
        )
    console.print("[dim]Your own: path/to/module.py:ClassName or an 'assay.models' entry point.[/]")
    return 0


def _benchmarks(console: Console, args: argparse.Namespace) -> int:
    """One line per benchmark; with a data directory, its splits and sample counts too."""
    from collections import Counter

    from assay.benchmarks.base import DataContext
    from assay.benchmarks.loading import resolve_data_dir
    from assay.benchmarks.registry import all_benchmarks
    from assay.errors import UserError

    data_dir = resolve_data_dir(getattr(args, "data_dir", None))
    benchmarks = all_benchmarks()
    width = max(len(name) for name in benchmarks)
    for name, info in benchmarks.items():
        task = info.build()
        params = ", ".join(
            f"{k}={p.default}"
            for k, p in info.params.items()
            if p.default is not inspect.Parameter.empty
        )
        groups = ",".join(task.groups) or "-"
        counts = ""
        if data_dir is not None:
            try:
                splits = Counter(s.split for s in task.load(DataContext(data_dir)).samples)
                counts = " ".join(f"{split}={n}" for split, n in sorted(splits.items()))
            except UserError:
                counts = "not in the data directory"
            counts = f"{counts:<22} "
        # plugin benchmarks name and describe themselves: Text pieces, never read as markup
        console.print(
            Text.assemble(
                (f"{name:<{width}}", "bold"),
                f" {task.main_metric or '-':<20} ",
                ("groups", "dim"),
                f" {groups:<26} ",
                *((("samples", "dim"), f" {counts}") if counts else ()),
                ("params", "dim"),
                f" {params or '-'}  {task.description}",
            )
        )
    hint = "" if data_dir else " Add --data-dir DIR for splits and sample counts."
    console.print(
        f"[dim]Your own: a .yaml benchmark file or path/to/module.py:name (see README).{hint}[/]"
    )
    return 0
