"""The `assay` command line. Sub-commands import their dependencies only when they run."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from assay import __version__

COMMANDS = {
    "run": "assay.cli.run",
    "leaderboard": "assay.cli.leaderboard",
    "benchmarks": "assay.cli.listing",
    "models": "assay.cli.listing",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assay",
        description="Evaluate language models holistically: many benchmarks x many models, "
        "every request and response kept, scores with confidence intervals.",
    )
    parser.add_argument("--version", action="version", version=f"assay {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def store_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--db",
            help="results database: a SQLite path or a database URL "
            "(default: $ASSAY_DB or ./assay.db)",
        )

    run = sub.add_parser(
        "run",
        help="evaluate models on benchmarks",
        description="Evaluate each model on each benchmark. Re-running the same "
        "command resumes where it stopped and reuses cached responses.",
    )
    run.add_argument(
        "benchmarks",
        nargs="+",
        metavar="BENCHMARK",
        help="a benchmark name with optional parameters (mmlu:subject=anatomy), "
        "a .yaml benchmark file, or path/to/module.py:name",
    )
    run.add_argument(
        "-m",
        "--model",
        action="append",
        required=True,
        dest="models",
        help="model to evaluate (repeatable): llamacpp/smollm2, "
        "openai-compatible/<name>@<url>, mock/oracle, path/to/module.py:Class",
    )
    run.add_argument(
        "-n",
        "--limit",
        type=int,
        help="evaluate at most this many samples per benchmark (a seeded, deterministic subsample)",
    )
    run.add_argument("--seed", type=int, default=0, help="seed for subsampling (default 0)")
    run.add_argument("--suite", default="default", help="suite (leaderboard) to add runs to")
    run.add_argument(
        "--data-dir",
        help="local mirror of benchmark data laid out like "
        "shared/data (default: $ASSAY_DATA_DIR, else the Hugging Face hub)",
    )
    run.add_argument(
        "--concurrency", type=int, help="requests in flight per model (default: the provider's)"
    )
    run.add_argument(
        "--max-attempts",
        type=int,
        default=5,
        help="attempts per request before it is recorded as an error (default 5)",
    )
    run.add_argument(
        "--retry-delay",
        type=float,
        default=0.5,
        help="base delay in seconds for exponential backoff (default 0.5)",
    )
    run.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds to wait for one response (default 600)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    store_args(run)

    board = sub.add_parser("leaderboard", help="print a suite's leaderboard")
    board.add_argument("--suite", default="default")
    board.add_argument("--format", choices=["table", "markdown", "csv", "json"], default="table")
    store_args(board)

    sub.add_parser("benchmarks", help="list available benchmarks")
    sub.add_parser("models", help="list model providers")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from assay.errors import UserError

    try:
        module = importlib.import_module(COMMANDS[args.command])
        result: int = module.main(args)
        return result
    except UserError as exc:
        print(f"assay: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "assay: interrupted; finished samples are stored, re-run the same command to resume",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
