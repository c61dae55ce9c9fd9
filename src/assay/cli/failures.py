"""The last resort of the command line: an OS or database error that escaped as a library
exception (a full disk, a file the user may not write, a store another program holds) becomes
one line the user can act on. Anything else is a bug in assay, said so in one line too, with
the way to see its traceback (ASSAY_DEBUG=1)."""

from __future__ import annotations

import errno
import os
from typing import Any

DEBUG_ENV = "ASSAY_DEBUG"

_OS_HINTS = {
    errno.ENOSPC: "free some disk space and run the same command again",
    errno.EDQUOT: "free some disk space and run the same command again",
    errno.EACCES: "check its permissions or use another path",
    errno.EPERM: "check its permissions or use another path",
    errno.EROFS: "the file system is read-only: use another path",
    errno.EISDIR: "it is a folder: pass a file path",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ENOENT: "check the path",
    errno.EMFILE: "too many open files: raise the limit (ulimit -n) or lower --concurrency",
    errno.ENAMETOOLONG: "use a shorter path",
}

_SQLITE_HINTS = (
    (
        "database is locked",
        "it is busy: another program (perhaps another `assay run`) is "
        "writing to it; wait for it to finish and run the same command again",
    ),
    (
        "readonly database",
        "it is read-only: make the file and its folder writable or pass another --db",
    ),
    (
        "unable to open database file",
        "check that the file and its folder exist and that you may "
        "write to them, or pass another --db",
    ),
    (
        "database or disk is full",
        "the disk is full: free some space and run the same command "
        "again; finished samples are stored",
    ),
    (
        "disk i/o error",
        "the disk failed to read or write: check it, then run the same command again",
    ),
    ("file is not a database", "it is not an assay database: pass another --db"),
    ("malformed", "the database file is damaged: restore it from a copy or pass another --db"),
)


def debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def explain(exc: BaseException) -> str | None:
    """One line for an error the user can act on, or None when it is a bug."""
    database = _database_error(exc)
    if database is not None:
        return database
    if isinstance(exc, OSError) and exc.errno is not None:
        return _os_error(exc)
    return None


def bug_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:300]
    return (
        f"assay: internal error: {type(exc).__name__}{': ' + text if text else ''} (a bug in "
        f"assay: run with {DEBUG_ENV}=1 for the traceback and report it)"
    )


def _os_error(exc: OSError) -> str:
    what = exc.strerror or str(exc)
    where = f" {str(exc.filename)!r}" if exc.filename is not None else ""
    hint = _OS_HINTS.get(exc.errno or 0)
    return f"cannot use{where}: {what}" + (f"; {hint}" if hint else "")


def _database_error(exc: BaseException) -> str | None:
    try:
        import sqlalchemy as sa
    except ImportError:  # pragma: no cover - sqlalchemy is a core dependency
        return None
    if not isinstance(exc, sa.exc.DBAPIError):
        return None
    original: Any = exc.orig
    message = " ".join(str(original).split())
    lowered = message.lower()
    for fragment, hint in _SQLITE_HINTS:
        if fragment in lowered:
            return f"database error ({message}): {hint}"
    if isinstance(exc, sa.exc.OperationalError):  # a lost connection, a server shutting down
        return (
            f"database error ({message[:300]}): check the database and run the same command again"
        )
    return None
