"""`assay leaderboard`: models ranked by mean win rate, with CIs, per benchmark or per group."""

from __future__ import annotations

import argparse
import sys

from assay.analysis.leaderboard import Leaderboard, leaderboard_from_store
from assay.analysis.model_info import ModelCatalog, ModelFilter
from assay.checks import check_range, check_seed
from assay.cli.render import render
from assay.display import visible
from assay.errors import UserError
from assay.store.db import Store, resolve_url
from assay.store.queries import default_suite, suite_names


def check_board_options(args: argparse.Namespace) -> None:
    check_seed("--seed", args.seed)
    check_range("--min-params", args.min_params, at_least=0)
    check_range("--max-params", args.max_params, at_least=0)
    low, high = args.min_params, args.max_params
    if low is not None and high is not None and low > high:
        raise UserError("--min-params is above --max-params: no model can match")


def load_board(args: argparse.Namespace) -> Leaderboard:
    check_board_options(args)
    store = Store(resolve_url(args.db), readonly=True)
    args.suite = pick_suite(store, args.suite)
    model_filter = ModelFilter(
        creator=args.creator,
        access=args.access,
        min_parameters=args.min_params,
        max_parameters=args.max_params,
        released_after=args.released_after,
        released_before=args.released_before,
    )
    board = leaderboard_from_store(
        store,
        args.suite,
        benchmarks=args.benchmarks,
        group=args.group,
        catalog=ModelCatalog.load(args.model_info),
        model_filter=model_filter,
        seed=args.seed,
    )
    if not board.cells:
        known = suite_names(store)
        if model_filter.active or args.benchmarks or args.group:
            raise UserError(f"no runs in suite {args.suite!r} match the filters")
        hint = f"suites here: {', '.join(known)}" if known else "run `assay run` first"
        raise UserError(f"suite {args.suite!r} has no finished runs in {store.location} ({hint})")
    return board


def pick_suite(store: Store, named: str | None) -> str:
    """The suite named on the command line, else `default`, else the most recently updated."""
    if named:
        return named
    found = default_suite(store, prefer="default")
    if found is None:
        raise UserError(f"{store.location} holds no suites yet: run `assay run` first")
    return found


def main(args: argparse.Namespace) -> int:
    board = load_board(args)
    for warning in board.warnings:
        print(f"assay: warning: {visible(warning)}", file=sys.stderr)
    sys.stdout.write(render(board, args.format, args.view))
    if args.format in ("table", "markdown"):  # † marks these cells; json carries them as data
        for note in board.notes:
            print(f"† {note}")
    return 0
