"""The `assay` command line. Sub-commands import their dependencies only when they run."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from assay import __version__

COMMANDS = {
    "run": "assay.cli.run",
    "leaderboard": "assay.cli.leaderboard",
    "benchmarks": "assay.cli.listing",
    "models": "assay.cli.listing",
    "compare": "assay.cli.compare",
    "pairwise": "assay.cli.pairwise",
    "export": "assay.cli.export",
    "import-helm": "assay.cli.import_helm",
    "import-inspect": "assay.cli.import_inspect",
    "import-lmeval": "assay.cli.import_lmeval",
    "import-eee": "assay.cli.import_eee",
    "serve": "assay.cli.serve",
    "db": "assay.cli.db",
    "annotate": "assay.cli.annotate",
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
        help="judge model for judged metrics (safety benchmarks, --rubric), e.g. "
        "llamacpp/smollm2; repeat it for a panel of judges; judges run at temperature 0 with "
        "a fixed seed",
    )
    run.add_argument(
        "--judge-temperature",
        type=float,
        default=0.0,
        help="judges' sampling temperature (default 0; part of the run spec)",
    )
    run.add_argument(
        "--judge-seed", type=int, default=0, help="seed sent with judge requests (default 0)"
    )
    run.add_argument(
        "--panel-aggregate",
        choices=["mean", "majority"],
        default="mean",
        help="how a panel's scores for a sample become one: their mean (default), or the "
        "value most judges gave (no majority: not scored, counted as split)",
    )
    run.add_argument(
        "--exclude-same-family-judges",
        action="store_true",
        help="leave judges of the judged model's own family out of its panel (see "
        "docs/metrics.md); without it they judge and are flagged",
    )
    run.add_argument(
        "--rubric",
        action="append",
        dest="rubrics",
        choices=["pass_fail", "1-5", "1-10"],
        help="also score every benchmark with this general judge rubric (repeatable): "
        "rubric_pass_fail, rubric_1_5 or rubric_1_10, with the reference answer where the "
        "benchmark has one; needs --judge",
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

    pairwise = sub.add_parser(
        "pairwise",
        help="judge models' stored answers two by two (both orders); Bradley-Terry ratings",
        description="For one benchmark of a suite, a judge model compares every pair of "
        "models' stored answers to the same samples, once in each order; a verdict that flips "
        "with the order is a tie. Prints each pair's wins, ties and losses and Bradley-Terry "
        "ratings with bootstrap CIs. Verdicts are stored; a rerun asks only what is missing.",
    )
    pairwise.add_argument("--suite", help=SUITE_HELP)
    pairwise.add_argument(
        "--benchmark", required=True, help="the benchmark (variant) whose runs to compare"
    )
    pairwise.add_argument(
        "--judge",
        action="append",
        required=True,
        dest="judges",
        metavar="MODEL",
        help="judge model, e.g. llamacpp/smollm2; repeat it for a panel of judges",
    )
    pairwise.add_argument(
        "--panel-aggregate",
        choices=["mean", "majority"],
        default="mean",
        help="a panel's result per comparison: the mean of its judges' scores (win 1, tie "
        "0.5, loss 0; default) or the result most of them gave (none: split, not scored)",
    )
    pairwise.add_argument(
        "--models", help="comma-separated model labels (default: every model with a run)"
    )
    pairwise.add_argument(
        "-n", "--limit", type=int, help="judge at most this many samples (seeded subsample)"
    )
    pairwise.add_argument("--seed", type=int, default=0, help="subsample and bootstrap seed")
    pairwise.add_argument(
        "--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)"
    )
    pairwise.add_argument(
        "--prior",
        type=float,
        default=1.0,
        help="virtual ties per pair that met, keeping ratings finite when a model wins every "
        "game (default 1; 0 for the plain maximum-likelihood fit)",
    )
    pairwise.add_argument(
        "--exclude-same-family",
        action="store_true",
        help="leave out the models of the judge's own family (else they are flagged)",
    )
    pairwise.add_argument(
        "--concurrency", type=int, help="judge requests in flight (default: the provider's)"
    )
    pairwise.add_argument(
        "--max-attempts", type=int, default=5, help="attempts per judge request (default 5)"
    )
    pairwise.add_argument(
        "--judge-temperature", type=float, default=0.0, help="judge's temperature (default 0)"
    )
    pairwise.add_argument(
        "--judge-seed", type=int, default=0, help="seed sent with judge requests (default 0)"
    )
    pairwise.add_argument("--format", choices=["table", "json"], default="table")
    store_args(pairwise)

    export = sub.add_parser(
        "export",
        help="write a suite's leaderboard to a file, or its runs as Every Eval Ever documents",
        description="Write the leaderboard as markdown, CSV, JSON, LaTeX or parquet; or, with "
        "--format eee, every run behind it in the Every Eval Ever schema (an aggregate JSON and "
        "instance-level JSONL per run) under the --output folder.",
    )
    export.add_argument(
        "--format",
        choices=["markdown", "csv", "json", "latex", "parquet", "eee"],
        required=True,
    )
    export.add_argument(
        "-o",
        "--output",
        help="file to write (default: standard output); for eee the datastore's data/ folder",
    )
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

    eee = sub.add_parser(
        "import-eee",
        help="import Every Eval Ever results (aggregate .json with its _samples.jsonl)",
        description="Stream Every Eval Ever documents into the store, one run per evaluation "
        "of each aggregate, from its instance-level rows. Re-importing replaces; a broken or "
        "foreign file imports nothing.",
    )
    eee.add_argument(
        "paths", nargs="+", metavar="PATH", help="aggregate .json files, _samples.jsonl or folders"
    )
    eee.add_argument("--suite", default="default", help="suite to add runs to (default)")
    store_args(eee)

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

    _annotate_args(sub, store_args)

    listing = sub.add_parser("benchmarks", help="list available benchmarks")
    listing.add_argument(
        "--data-dir", help="count each benchmark's samples per split in this local mirror"
    )
    sub.add_parser("models", help="list model providers")
    return parser


def _annotate_args(sub: Any, store_args: Callable[[argparse.ArgumentParser], None]) -> None:
    annotate = sub.add_parser(
        "annotate",
        help="human evaluation: rate responses in the browser or through files",
        description="Annotators rate responses on the benchmark's rubric, or pick the better "
        "of two blinded responses; ratings go to the store, and their agreement with each "
        "other and with the judges is reported. See docs/annotation.md.",
    )
    actions = annotate.add_subparsers(dest="annotate_command", metavar="ACTION", required=True)

    def selection(p: argparse.ArgumentParser) -> None:
        p.add_argument("--suite", help=SUITE_HELP)
        p.add_argument(
            "--benchmark",
            action="append",
            dest="benchmarks",
            help="benchmark to rate (repeatable; a bare name matches all its variants; "
            "default: every benchmark of the suite)",
        )
        p.add_argument(
            "-m", "--model", action="append", dest="models", help="only this model (repeatable)"
        )
        p.add_argument(
            "--pairwise",
            metavar="A,B",
            help="compare two models' responses to the same samples, model names hidden and "
            "the left/right order drawn from --seed",
        )
        p.add_argument(
            "--rubric",
            help="pass_fail, 1-5, 1-10, refusal or harmbench (default: the benchmark's own: "
            "its judge's rubric where it is judged, else pass_fail)",
        )
        p.add_argument(
            "--seed", type=int, default=0, help="seed of the pairwise left/right order (0)"
        )
        p.add_argument("-n", "--limit", type=int, help="at most this many samples per run")
        store_args(p)

    serve = actions.add_parser(
        "serve",
        help="rate in the browser; resumes at the first unrated item",
        description="Serve the annotation page for one annotator. Each rating is stored as "
        "it is given; stop at any time and run the same command again to carry on.",
    )
    serve.add_argument("--annotator", required=True, help="who is rating: a token such as alice")
    selection(serve)
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)"
    )
    serve.add_argument("--port", type=int, default=8001, help="port (default 8001)")
    serve.add_argument(
        "--no-browser", action="store_true", help="do not open the page in a web browser"
    )

    export = actions.add_parser(
        "export",
        help="write the items to rate to a CSV or JSONL file for outside annotators",
        description="Each row: a stable item id, the prompt, reference, response (or the two "
        "blinded responses), the question and allowed answers, and an empty rating.",
    )
    selection(export)
    export.add_argument("-o", "--output", required=True, help="file to write (.csv or .jsonl)")
    export.add_argument("--format", choices=["csv", "jsonl"], help="default: from the name")
    export.add_argument("--annotator", help="fill the annotator column with this token")

    imported = actions.add_parser(
        "import",
        help="read rated items back from a CSV or JSONL file",
        description="Checks every row first (known ids, allowed ratings, one row per item and "
        "annotator); any problem stops it with nothing imported. Rows with an empty rating "
        "are skipped. Importing the same file again changes nothing.",
    )
    imported.add_argument("file", metavar="FILE", help="a file written by `annotate export`")
    imported.add_argument("--format", choices=["csv", "jsonl"], help="default: from the name")
    imported.add_argument("--annotator", help="annotator for rows whose annotator column is empty")
    store_args(imported)

    agreement = actions.add_parser(
        "agreement",
        help="agreement between annotators and with each judge",
        description="Per benchmark and rubric: Cohen's kappa for each pair of annotators and "
        "each annotator with each judge, Krippendorff's alpha over all annotators.",
    )
    agreement.add_argument(
        "--benchmark", action="append", dest="benchmarks", help="only this benchmark"
    )
    agreement.add_argument("--format", choices=["table", "json"], default="table")
    store_args(agreement)


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
