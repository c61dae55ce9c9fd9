"""`assay benchmarks` and `assay models`: what is available, one line each."""

from __future__ import annotations

import argparse
import inspect

from rich.console import Console


def main(args: argparse.Namespace) -> int:
    console = Console(highlight=False, soft_wrap=True)
    if args.command == "benchmarks":
        from assay.benchmarks.registry import all_benchmarks

        for name, info in all_benchmarks().items():
            task = info.build()
            params = ", ".join(
                f"{k}={p.default}"
                for k, p in info.params.items()
                if p.default is not inspect.Parameter.empty
            )
            groups = ",".join(task.groups) or "-"
            console.print(
                f"[bold]{name:<10}[/] {task.main_metric:<20} [dim]groups[/] {groups:<18} "
                f"[dim]params[/] {params or '-'}  {task.description}"
            )
        console.print(
            "[dim]Your own: a .yaml benchmark file or path/to/module.py:name (see README).[/]"
        )
        return 0
    from assay.models.registry import PROVIDERS

    for provider in PROVIDERS.values():
        extra = f"[dim]extra[/] {provider.extra:<9}" if provider.extra else f"{'':15}"
        console.print(
            f"[bold]{provider.name:<18}[/] {extra} {provider.summary}  "
            f"[dim]e.g.[/] {provider.example}"
        )
    console.print("[dim]Your own: path/to/module.py:ClassName or an 'assay.models' entry point.[/]")
    return 0
