"""`assay serve`: browse the store in a web browser (read-only; 127.0.0.1 unless --host)."""

from __future__ import annotations

import argparse
import sys

from assay.errors import UserError
from assay.store.db import Store, resolve_url


def main(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from assay.web.app import create_app
    except ImportError as exc:
        raise UserError(
            f"the viewer needs the web extra ({exc.name} is missing): pip install 'assay[web]'"
        ) from exc
    url = resolve_url(args.db)
    store = Store(url, readonly=True)  # says so clearly when there is no database there
    upgrade(url)
    app = create_app(store)
    host = "[" + args.host + "]" if ":" in args.host else args.host
    print(
        f"assay: serving {store.location} at http://{host}:{args.port}/ (Ctrl+C stops)",
        file=sys.stderr,
    )
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from exc
    return 0


def upgrade(url: str) -> None:
    """Add the columns and indexes a newer assay expects to a store an older one wrote, when we
    may write to it; the viewer itself only ever reads."""
    try:
        Store(url).close()
    except UserError as exc:
        print(f"assay: note: serving the store as it is ({exc})", file=sys.stderr)
