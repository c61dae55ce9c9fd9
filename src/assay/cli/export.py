"""`assay export`: a suite's leaderboard as markdown, CSV, JSON, LaTeX or parquet, or its runs
as Every Eval Ever documents (`--format eee`, see `assay.interop.eee_export`)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from assay.analysis.views import data_table
from assay.cli.leaderboard import load_board
from assay.cli.render import render, write_parquet
from assay.display import visible
from assay.errors import UserError
from assay.store.db import Store, resolve_url


def main(args: argparse.Namespace) -> int:
    if args.format == "eee":
        return export_eee(args)
    if args.format == "parquet" and not args.output:
        raise UserError("parquet is binary: pass --output FILE.parquet")
    if args.output:
        check_destination(Path(args.output))
        check_not_the_store(Path(args.output), resolve_url(args.db))
    board = load_board(args)
    for warning in board.warnings:
        print(f"assay: warning: {visible(warning)}", file=sys.stderr)
    if args.output:
        path = Path(args.output)
        check_destination(path)
        if args.format == "parquet":
            table = data_table(board, args.view)
            write_atomically(path, lambda tmp: write_parquet(table, tmp))
        else:
            text = render(board, args.format, args.view)
            write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        print(f"wrote {path}", file=sys.stderr)
    else:
        sys.stdout.write(render(board, args.format, args.view))
    return 0


def export_eee(args: argparse.Namespace) -> int:
    """Every run behind the suite's leaderboard (filters apply) as EEE files under --output."""
    from assay.interop.eee import load
    from assay.interop.eee_export import export_runs

    eee = load("export --format eee")
    if not args.output:
        raise UserError(
            "eee writes a folder of files: pass --output DIR (the datastore's data/ folder, "
            "e.g. -o data)"
        )
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise UserError(f"--output {str(out)!r} is a file: eee writes a folder; pass a folder path")
    if not out.parent.is_dir():
        raise UserError(f"folder {str(out.parent)!r} does not exist")
    if out.resolve().parent.name == "data":  # as every-eval-ever's own publisher refuses it
        raise UserError(
            f"--output {str(out)!r} is inside a data/ folder: files would land one level too "
            f"deep; pass the data/ folder itself ({str(out.parent)!r})"
        )
    board = load_board(args)
    for warning in board.warnings:
        print(f"assay: warning: {visible(warning)}", file=sys.stderr)
    run_ids = [board.cells[key].run_id for key in sorted(board.cells)]
    store = Store(resolve_url(args.db), readonly=True)
    with store.connect() as conn:
        written = export_runs(conn, eee, run_ids, out, args.suite)
    for item in written:
        print(f"wrote {item.aggregate} ({item.rows} instance rows)", file=sys.stderr)
    return 0


def check_destination(path: Path) -> None:
    """Only a regular file (new or to replace) in an existing folder: a folder, a pipe (which
    would wait for a reader forever) or a device is one line, before any work."""
    if path.is_dir():
        raise UserError(f"--output {str(path)!r} is a folder: pass a file path inside it")
    if path.exists() and not path.is_file():
        raise UserError(
            f"--output {str(path)!r} is not a regular file (a pipe, device or socket): pass a "
            "file path, or leave out --output to write to standard output"
        )
    if not path.parent.is_dir():
        raise UserError(f"folder {str(path.parent)!r} does not exist")


def check_not_the_store(path: Path, url: str) -> None:
    """Writing the leaderboard over the database it comes from would destroy every result."""
    if not url.startswith("sqlite:///"):
        return
    store = Path(url.removeprefix("sqlite:///"))
    if path.exists() and store.exists() and path.resolve() == store.resolve():
        raise UserError(
            f"--output {str(path)!r} is the results database itself: writing there would "
            "destroy it; pass another file name"
        )
    if path.resolve().name in {f"{store.resolve().name}{s}" for s in ("-wal", "-shm")}:
        raise UserError(f"--output {str(path)!r} is a file of the results database: pass another")


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Write beside the target and rename over it: a failure (a full disk, a read-only folder)
    leaves any earlier file at `path` as it was."""
    tmp: Path | None = None
    try:
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(handle)
        tmp = Path(name)
        write(tmp)
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise UserError(
            f"cannot write {str(path)!r}: {exc.strerror or exc}; pass an --output path in a "
            "folder you can write to, on a disk with space"
        ) from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def _mode_for(path: Path) -> int:
    """The replaced file's permissions, or the usual ones for a new file (0666 less umask)."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
