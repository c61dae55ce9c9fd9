"""`assay serve`: browse the store in a web browser (read-only; 127.0.0.1 unless --host)."""

from __future__ import annotations

import argparse
import errno
import socket
import sys

from assay.checks import check_range
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
    check_range("--port", args.port, at_least=1, at_most=65535)
    url = resolve_url(args.db)
    store = Store(url, readonly=True)  # says so clearly when there is no database there
    upgrade(url)
    app = create_app(store)
    listener = bind(args.host, args.port)  # a busy port is one line, before "serving at"
    host = "[" + args.host + "]" if ":" in args.host else args.host
    print(
        f"assay: serving {store.location} at http://{host}:{args.port}/ (Ctrl+C stops)",
        file=sys.stderr,
    )
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    with listener:
        server.run(sockets=[listener])
    return 0


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or a `UserError` saying why there cannot be one."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise UserError(
            f"cannot listen on {host!r}: not an address of this machine ({reason}); use "
            "--host 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)"
        ) from None
    family, kind, proto, _, address = infos[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(128)
    except OSError as exc:
        listener.close()
        hint = (
            "another program is using it: pick another --port"
            if exc.errno == errno.EADDRINUSE
            else "pick another --host or --port"
        )
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}; {hint}") from None
    listener.setblocking(False)
    return listener


def upgrade(url: str) -> None:
    """Add the columns and indexes a newer assay expects to a store an older one wrote, when we
    may write to it; the viewer itself only ever reads."""
    try:
        Store(url).close()
    except UserError as exc:
        print(f"assay: note: serving the store as it is ({exc})", file=sys.stderr)
