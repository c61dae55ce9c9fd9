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
    "compare": "assay.cli.compare",
    "export": "assay.cli.export",
    "import-helm": "assay.cli.import_helm",
    "import-inspect": "assay.cli.import_inspect",
    "import-lmeval": "assay.cli.import_lmeval",
    "serve": "assay.cli.serve",
    "db": "assay.cli.db",
}


SUITE_HELP = (
    "suite to read (default: `default` if the store has it, else the most recently updated)"
)


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
        "--judge",
        action="append",
        dest="judges",
        metavar="MODEL",
        help="judge model for judged metrics (safety benchmarks), e.g. llamacpp/smollm2; "
        "repeatable, the first scores pointwise; runs at temperature 0 with a fixed seed",
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
        "--max-retry-wait",
        type=float,
        default=60.0,
        help="honour a provider's Retry-After up to this many seconds per wait (default 60)",
    )
    run.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds to wait for one response (default 600)",
    )
    run.add_argument(
        "--perturb",
        action="append",
        default=[],
        metavar="PERTURBATION",
        help="also ask every input perturbed (repeatable): typos:rate=0.05, lowercase, "
        "contractions, expansions, whitespace, dialect, gender:to=male, names:to=asian_american; "
        "scores each, plus <metric>_worst per sample",
    )
    sampling = run.add_argument_group(
        "sampling", "override the prompt format's settings for every generation request"
    )
    sampling.add_argument("--max-tokens", type=int, help="tokens to generate at most")
    sampling.add_argument("--temperature", type=float, help="sampling temperature")
    sampling.add_argument("--top-p", type=float, help="nucleus sampling mass")
    sampling.add_argument("--generation-seed", type=int, help="seed sent with each request")
    sampling.add_argument("--system", help="system prompt for every request")
    sampling.add_argument("--n", type=int, help="completions per prompt (providers with n>1)")
    batching = run.add_argument_group(
        "batch APIs", "send each run as one provider batch (openai/, anthropic/): cheaper, slower"
    )
    batching.add_argument("--batch", action="store_true", help="use the provider's batch API")
    batching.add_argument(
        "--batch-wait",
        type=float,
        help="seconds to wait for a batch before leaving it running (default: until done); "
        "the same command later collects it",
    )
    batching.add_argument(
        "--batch-poll", type=float, default=60.0, help="seconds between status checks (60)"
    )
    cluster = run.add_argument_group(
        "executors", "where model calls are made (the store is always written by this process)"
    )
    cluster.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="local: in this process (default); ray: on Ray workers (pip install 'assay[ray]')",
    )
    cluster.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="Ray cluster to join (default: $RAY_ADDRESS, else a Ray started for this run)",
    )
    cluster.add_argument(
        "--ray-workers",
        type=int,
        metavar="N",
        help="Ray worker processes, one CPU each (default: one per CPU of the cluster)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    store_args(run)

    def board_args(p: argparse.ArgumentParser) -> None:
        """What a leaderboard shows and for which models (leaderboard, export)."""
        p.add_argument("--suite", help=SUITE_HELP)
        p.add_argument(
            "--view",
            choices=["benchmarks", "groups"],
            default="benchmarks",
            help="a column per benchmark (default) or a mean win rate per group",
        )
        p.add_argument(
            "--benchmark",
            action="append",
            dest="benchmarks",
            help="only this benchmark (repeatable; a bare name matches all its variants)",
        )
        p.add_argument("--group", help="only benchmarks in this group")
        p.add_argument("--model-info", help="YAML file of model metadata ($ASSAY_MODEL_INFO)")
        p.add_argument("--creator", help="only models by this creator")
        p.add_argument("--access", choices=["open", "closed", "limited"], help="only these")
        p.add_argument("--min-params", type=float, help="only models with >= this many B params")
        p.add_argument("--max-params", type=float, help="only models with <= this many B params")
        p.add_argument("--released-after", help="only models released on or after YYYY-MM-DD")
        p.add_argument("--released-before", help="only models released on or before YYYY-MM-DD")
        p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
        store_args(p)

    board = sub.add_parser(
        "leaderboard",
        help="print a suite's leaderboard",
        description="Models ranked by HELM's mean win rate with bootstrap CIs and rank "
        "intervals; every cell with n and a 95%% CI. Warns when rows come from different "
        "benchmark versions.",
    )
    board.add_argument(
        "--format", choices=["table", "markdown", "csv", "json", "latex"], default="table"
    )
    board_args(board)

    compare = sub.add_parser(
        "compare",
        help="paired comparison of models on the samples they share",
        description="For each benchmark: the difference A - B with a paired bootstrap CI, "
        "McNemar's exact test for 0/1 metrics or a paired permutation test otherwise, "
        "Holm-adjusted over all comparisons made.",
    )
    compare.add_argument("models", nargs="+", metavar="MODEL", help="two or more model labels")
    compare.add_argument("--suite", help=SUITE_HELP)
    compare.add_argument(
        "--benchmark", action="append", dest="benchmarks", help="only this benchmark (repeatable)"
    )
    compare.add_argument("--metric", help="metric to compare (default: each benchmark's main)")
    compare.add_argument("--alpha", type=float, default=0.05, help="significance level")
    compare.add_argument("--format", choices=["table", "json"], default="table")
    compare.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    store_args(compare)

    export = sub.add_parser("export", help="write a suite's leaderboard to a file")
    export.add_argument(
        "--format",
        choices=["markdown", "csv", "json", "latex", "parquet"],
        required=True,
    )
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    board_args(export)

    helm = sub.add_parser(
        "import-helm",
        help="import HELM benchmark_output runs into the store",
        description="Stream HELM run folders (run_spec.json, scenario_state.json, "
        "per_instance_stats.json, stats.json) into the store as runs with samples, requests "
        "and scores, so they get CIs, win rates and the viewer.",
    )
    helm.add_argument("path", help="a benchmark_output folder, a runs/<suite> folder or one run")
    helm.add_argument("--helm-suite", help="only this HELM suite under benchmark_output/runs")
    helm.add_argument("--suite", help="assay suite to add runs to (default: the HELM suite)")
    helm.add_argument("--main-metric", help="HELM stat to rank by (default: chosen per run)")
    store_args(helm)

    inspect_logs = sub.add_parser(
        "import-inspect",
        help="import Inspect eval logs (.eval, .json) into the store",
        description="Stream Inspect logs into the store, one run per log: every sample's "
        "messages, output, scores and metadata. Re-importing a log replaces it; a broken log "
        "imports nothing.",
    )
    inspect_logs.add_argument("logs", nargs="+", metavar="LOG", help=".eval/.json logs or folders")
    inspect_logs.add_argument("--suite", default="default", help="suite to add runs to (default)")
    store_args(inspect_logs)

    lmeval = sub.add_parser(
        "import-lmeval",
        help="import lm-evaluation-harness results (results_*.json, samples_*.jsonl)",
        description="Stream lm-eval output (written with --log_samples) into the store, one run "
        "per task of each results file. Re-importing replaces; a broken file imports nothing.",
    )
    lmeval.add_argument(
        "path", metavar="DIR", help="lm-eval --output_path folder or a results file"
    )
    lmeval.add_argument("--suite", default="default", help="suite to add runs to (default)")
    store_args(lmeval)

    serve = sub.add_parser(
        "serve",
        help="browse results in a web browser",
        description="Serve the leaderboard, runs, samples and raw requests and responses "
        "over HTTP. Opens the database read-only.",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)"
    )
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    store_args(serve)

    db = sub.add_parser(
        "db",
        help="upgrade the results database, or copy it to another",
        description="Look after the results database: bring its schema up to date, or copy "
        "it (SQLite and PostgreSQL either way) with every table verified.",
    )
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_upgrade = db_sub.add_parser(
        "upgrade",
        help="apply schema migrations to the database",
        description="Apply assay's schema migrations. `assay run` and `assay serve` do it "
        "themselves; read-only commands read an older store as it is.",
    )
    store_args(db_upgrade)
    db_copy = db_sub.add_parser(
        "copy",
        help="copy a database to another, verified table by table",
        description="Copy every table of SRC into DST in primary-key order, in batches, then "
        "check row counts and a content checksum of each table on both sides.",
    )
    db_copy.add_argument("src", metavar="SRC", help="database to copy: a SQLite path or a URL")
    db_copy.add_argument(
        "dst", metavar="DST", help="database to copy into (created if new): a SQLite path or a URL"
    )
    db_copy.add_argument(
        "--replace", action="store_true", help="empty DST first if it already holds results"
    )
    db_copy.add_argument(
        "--batch-size",
        type=int,
        default=500,
        help="rows read and written at a time (default 500)",
    )

    listing = sub.add_parser("benchmarks", help="list available benchmarks")
    listing.add_argument(
        "--data-dir", help="count each benchmark's samples per split in this local mirror"
    )
    sub.add_parser("models", help="list model providers")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from assay.display import visible
    from assay.errors import UserError

    try:
        module = importlib.import_module(COMMANDS[args.command])
        result: int = module.main(args)
        return result
    except UserError as exc:
        print(f"assay: error: {visible(exc)}", file=sys.stderr)
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
    except Exception as exc:
        return _last_resort(exc)


def _last_resort(exc: Exception) -> int:
    """An OS or database error the user can act on: one line, exit 2; a bug: one line saying
    so, exit 1, and the traceback with ASSAY_DEBUG=1."""
    from assay.cli.failures import bug_line, debugging, explain

    line = explain(exc)
    if line is not None:
        print(f"assay: error: {line}", file=sys.stderr)
        return 2
    if debugging():
        raise exc
    print(bug_line(exc), file=sys.stderr)
    return 1
