"""`assay db upgrade` and `assay db copy SRC DST`: look after the results store itself."""

from __future__ import annotations

import argparse
from pathlib import Path

from assay.checks import check_range
from assay.errors import UserError
from assay.store import migrate
from assay.store.db import Store, display_url, resolve_url


def main(args: argparse.Namespace) -> int:
    if args.db_command == "upgrade":
        return upgrade(args)
    return copy(args)


def upgrade(args: argparse.Namespace) -> int:
    url = resolve_url(args.db)
    reader = Store(url, readonly=True)  # refuses a missing store or another application's file
    try:
        with reader.connect() as conn:
            before = migrate.current_revision(conn)
    finally:
        reader.close()
    writer = Store(url)  # a writer upgrades the store it opens
    try:
        with writer.connect() as conn:
            after = migrate.current_revision(conn)
    finally:
        writer.close()
    if before == after:
        print(f"assay: {writer.location} is up to date (schema revision {after})")
    else:
        print(
            f"assay: upgraded {writer.location} from schema revision "
            f"{before or 'none (made before migrations)'} to {after}"
        )
    return 0


def copy(args: argparse.Namespace) -> int:
    from assay.store.copy import copy_store

    check_range("--batch-size", args.batch_size, at_least=1, at_most=100_000)
    src_url, dst_url = resolve_url(args.src), resolve_url(args.dst)
    source = Store(src_url, readonly=True)
    try:
        if _same(source, dst_url):
            raise UserError(
                f"SRC and DST are the same database ({source.location}): pass another DST"
            )
        target = Store(dst_url)
        try:
            checks = copy_store(
                source,
                target,
                replace=args.replace,
                batch_rows=args.batch_size,
                report=lambda check: print(check.line(), flush=True),
            )
        finally:
            target.close()
    finally:
        source.close()
    bad = [c.table for c in checks if not c.ok]
    if bad:
        raise UserError(
            f"the copy in {target.location} differs from {source.location} in {', '.join(bad)}"
            "; the source is untouched: copy again with --replace"
        )
    rows = sum(c.copied_rows for c in checks)
    print(f"assay: copied {rows} rows in {len(checks)} tables to {target.location}, verified")
    return 0


def _same(source: Store, dst_url: str) -> bool:
    """DST names SRC's file, or SRC's server database."""
    if source.path is not None:
        if not dst_url.startswith("sqlite:///"):
            return False
        return Path(dst_url.split("sqlite:///", 1)[1]).resolve() == source.path.resolve()
    return bool(source.location == display_url(dst_url))
