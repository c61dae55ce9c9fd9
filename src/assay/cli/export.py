"""`assay export`: a suite's leaderboard as markdown, CSV, JSON, LaTeX or parquet."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assay.analysis.views import data_table
from assay.cli.leaderboard import load_board
from assay.cli.render import render, write_parquet
from assay.display import visible
from assay.errors import UserError


def main(args: argparse.Namespace) -> int:
    if args.format == "parquet" and not args.output:
        raise UserError("parquet is binary: pass --output FILE.parquet")
    board = load_board(args)
    for warning in board.warnings:
        print(f"assay: warning: {visible(warning)}", file=sys.stderr)
    if args.output:
        path = Path(args.output)
        if not path.parent.exists():
            raise UserError(f"folder {str(path.parent)!r} does not exist")
        if args.format == "parquet":
            write_parquet(data_table(board, args.view), path)
        else:
            path.write_text(render(board, args.format, args.view))
        print(f"wrote {path}", file=sys.stderr)
    else:
        sys.stdout.write(render(board, args.format, args.view))
    return 0
