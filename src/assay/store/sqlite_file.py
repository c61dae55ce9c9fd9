"""Is this path a SQLite store assay may open? Checked before SQLAlchemy touches it, so a folder,
a corrupt file, another application's database or a read-only place is one clear line, and
assay never adds its tables to a database that is not its own."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from assay.errors import UserError
from assay.store import schema

SQLITE_HEADER = b"SQLite format 3\x00"
# The table and row every assay store has had since its first schema.
MARKER_TABLE = "meta"
MARKER_KEY = "schema_version"
ASSAY_TABLES = frozenset(schema.metadata.tables) | {"provider_batches", "alembic_version"}


@dataclass(frozen=True)
class SqliteFile:
    path: Path
    writable: bool  # the file and its folder take writes (WAL adds files beside it)


def check_sqlite_path(path: Path, *, readonly: bool) -> SqliteFile:
    """Refuse, in one line with a fix, anything at `path` that is not an assay store (or, when
    writing, an empty place for a new one)."""
    shown = str(path)
    if path.is_dir():
        raise UserError(
            f"--db {shown!r} is a folder, not a database file: pass a file path such as "
            f"{str(path / 'assay.db')!r}"
        )
    folder = path.parent
    if not path.exists():
        if readonly:
            raise UserError(f"no results database at {shown!r}: run `assay run` first or pass --db")
        if not folder.is_dir():
            raise UserError(
                f"cannot create the database {shown!r}: folder {str(folder)!r} does not exist"
            )
        if not os.access(folder, os.W_OK | os.X_OK):
            raise UserError(
                f"cannot create the database {shown!r}: folder {str(folder)!r} is read-only; "
                "pass a --db path in a folder you can write to"
            )
        return SqliteFile(path, writable=True)
    if not path.is_file():
        raise UserError(
            f"--db {shown!r} is not a regular file (a device, pipe or socket): pass a database "
            "file path"
        )
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise UserError(
            f"cannot read the database {shown!r}: {exc.strerror}; check its permissions or "
            "pass another --db"
        ) from exc
    writable = os.access(path, os.W_OK) and os.access(folder, os.W_OK | os.X_OK)
    live_log = Path(f"{path}-wal").exists()  # a new store's first pages may be only there
    if not header and not live_log:  # an empty file: a new store, when we may write
        if readonly:
            raise UserError(f"{shown!r} is empty, with no assay results: run `assay run` first")
        if not writable:
            raise _read_only(path)
        return SqliteFile(path, writable=True)
    if header != SQLITE_HEADER and not (live_log and not header):
        raise UserError(
            f"{shown!r} is not a SQLite database (its contents are something else): pass an "
            "assay results database, or a new file name, with --db"
        )
    tables = _tables(path)
    if not _has_marker(path) and not _being_created(path, tables):
        if tables:
            listed = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
            raise UserError(
                f"{shown!r} is another application's SQLite database (tables: {listed}), not an "
                "assay store; assay will not add its tables to it: pass a new file with --db"
            )
        if readonly:
            raise UserError(f"{shown!r} has no assay results yet: run `assay run` first")
    if not readonly and not writable:
        raise _read_only(path)
    return SqliteFile(path, writable=writable)


def _read_only(path: Path) -> UserError:
    where = "file" if not os.access(path, os.W_OK) else f"folder {str(path.parent)!r}"
    return UserError(
        f"the database {str(path)!r} is read-only (its {where} cannot be written): make it "
        "writable or pass another --db; leaderboard, compare, export and serve can still read it"
    )


def file_uri(path: Path) -> str:
    """A read-only sqlite3 URI for the file that writes nothing beside it: with a live write-ahead
    log (a -wal file) a plain read-only open, which reads the log too; without one everything is
    in the file itself, read as immutable (a WAL reader would otherwise create -wal and -shm)."""
    quoted = str(path.resolve()).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    live = Path(f"{path}-wal").exists()
    return f"file:{quoted}?" + ("mode=ro" if live else "immutable=1")


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(file_uri(path), uri=True, timeout=10)


def _tables(path: Path) -> set[str]:
    try:
        with closing(_connect(path)) as conn:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):
            raise busy(path) from exc
        raise _corrupt(path, exc) from exc
    except sqlite3.DatabaseError as exc:
        raise _corrupt(path, exc) from exc
    return {str(r[0]) for r in rows if not str(r[0]).startswith("sqlite_")}


def _has_marker(path: Path) -> bool:
    try:
        with closing(_connect(path)) as conn:
            row = conn.execute(
                f"SELECT value FROM {MARKER_TABLE} WHERE key = ?", (MARKER_KEY,)
            ).fetchone()
    except sqlite3.DatabaseError:
        return False
    return row is not None


def _being_created(path: Path, tables: set[str]) -> bool:
    """An assay store another process is creating right now: SQLite commits each CREATE TABLE
    on its own, so its tables can exist a moment before the marker row does."""
    if not tables or MARKER_TABLE not in tables or not tables <= ASSAY_TABLES:
        return False
    try:
        with closing(_connect(path)) as conn:
            columns = {str(r[1]) for r in conn.execute(f"PRAGMA table_info({MARKER_TABLE})")}
    except sqlite3.DatabaseError:
        return False
    return columns == {"key", "value"}


def busy(path: Path | str) -> UserError:
    return UserError(
        f"the database {str(path)!r} is busy: another program (perhaps another `assay run`) is "
        "writing to it; wait for it to finish and run the same command again, or pass another --db"
    )


def _corrupt(path: Path, exc: Exception) -> UserError:
    return UserError(
        f"cannot read {str(path)!r} as a SQLite database ({exc}): it is damaged or not a "
        "database; pass an assay results database, or a new file name, with --db"
    )
