"""Local servers that speak each provider's wire format, for testing the real SDKs offline.

Each stub runs a `ThreadingHTTPServer` on 127.0.0.1 (a free port) in a daemon thread. Requests to
a generation endpoint consume scripted `Reply`s in order (`stub.script(...)`); with none left the
stub answers successfully in the provider's own format. Every request is recorded in `calls`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; bytes/str -> sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (timeouts)
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


MALFORMED = b'{"id": "oops", "choices": [ {"broken'


class StubServer:
    """Base stub: subclasses implement `route` (and say which paths are generation calls)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                call = Call(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.monotonic(),
                )
                with stub._lock:
                    stub.calls.append(call)
                reply = stub.dispatch(call)
                if reply.delay:
                    time.sleep(min(reply.delay, 10.0))
                data = reply.encoded()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", reply.content_type)
                    self.send_header("content-length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(self, *replies: Reply) -> None:
        """Replies for the next generation calls, in order; then the default success."""
        with self._lock:
            self._script.extend(replies)

    def generation_calls(self) -> list[Call]:
        return [c for c in self.calls if self.is_generation(c)]

    def dispatch(self, call: Call) -> Reply:
        if self.is_generation(call):
            with self._lock:
                scripted = self._script.popleft() if self._script else None
            if scripted is not None:
                return scripted
        try:
            return self.route(call)
        except Exception as exc:  # a stub bug shows up as a 599 the test will notice
            return Reply(599, {"error": {"message": f"stub error: {exc!r}"}})

    def is_generation(self, call: Call) -> bool:
        raise NotImplementedError

    def route(self, call: Call) -> Reply:
        raise NotImplementedError


def prompt_words(messages: list[dict[str, Any]]) -> int:
    """A stand-in token count: words in every message."""
    total = 0
    for m in messages:
        content = m.get("content", "")
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        total += len(str(content).split())
    return total


def last_text(messages: list[dict[str, Any]]) -> str:
    content = messages[-1].get("content", "") if messages else ""
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)


def multipart_file(call: Call) -> bytes:
    """The file part of a multipart/form-data upload."""
    ctype = call.headers["content-type"]
    boundary = ctype.split("boundary=", 1)[1].strip('"').encode()
    for part in call.body.split(b"--" + boundary):
        head, sep, content = part.partition(b"\r\n\r\n")
        if sep and b'name="file"' in head:
            return content.removesuffix(b"\r\n")
    raise ValueError("no file part in the upload")
