"""Run a local OpenAI-compatible server for the length of a `with` block.

`llama_server(path)` starts llama-cpp-python's server on a free 127.0.0.1 port, waits until it
answers `/v1/models` (bounded), yields its base URL and stops it afterwards. The tests, the
benches and users who want a real server without managing one use it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from assay.errors import UserError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_ready(base_url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise UserError(f"the server for {base_url} exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise UserError(f"the server for {base_url} did not answer within {timeout:g}s")
        time.sleep(0.3)


@contextmanager
def serve(
    command: Sequence[str], port: int, *, timeout: float = 120.0, log: IO[bytes] | None = None
) -> Iterator[str]:
    """Run `command` (which must listen on 127.0.0.1:`port`) and yield its `/v1` base URL."""
    out = log if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen(list(command), stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_ready(base_url, proc, timeout)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextmanager
def llama_server(
    model_path: Path,
    *,
    alias: str,
    threads: int = 1,
    n_ctx: int = 4096,
    logits_all: bool = False,
    timeout: float = 120.0,
    log: IO[bytes] | None = None,
) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server for one GGUF file, on one thread."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path),
        "--model_alias",
        alias,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_threads",
        str(threads),
        "--n_ctx",
        str(n_ctx),
    ]
    if logits_all:
        command += ["--logits_all", "true"]
    with serve(command, port, timeout=timeout, log=log) as base_url:
        yield base_url
