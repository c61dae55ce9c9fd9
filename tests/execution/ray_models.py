"""Models for the Ray tests, loaded by path (`tests/execution/ray_models.py:Name`) in the
driver and in every Ray worker. Both answer like `mock/oracle`.

- `CrashOnce?marker=M&flag=F`: the first worker process that is asked a prompt containing M
  writes its pid to F and dies at once (`os._exit`), as a killed worker would; with F present
  it answers normally.
- `Tracked?log=F&latency=S`: appends "+ pid" when a call starts and "-" when it ends to F (one
  short append each, atomic), so the test can count the calls in flight across processes.

File paths are given hex-encoded (`path_setting`): a model string holds no "/" after ".py:".
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from assay.models.base import Capabilities, Model, ModelSpec
from assay.models.mock import MockModel
from assay.requests import Request, Response


def path_setting(path: Path) -> str:
    return str(path).encode().hex()


def _path(spec: ModelSpec, key: str) -> Path:
    return Path(bytes.fromhex(spec.settings[key]).decode())


def _text(request: Request) -> str:
    return "\n".join(str(m["content"]) for m in request.messages or ()) or request.prompt or ""


class _Oracle(Model):
    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        self.oracle = MockModel(ModelSpec("mock", "oracle"))
        self.capabilities = Capabilities(chat=True, prompt_logprobs=True, concurrency=8)

    def identity(self) -> dict[str, Any]:
        return {"model": self.spec.label}


class CrashOnce(_Oracle):
    async def generate(self, request: Request) -> Response:
        flag = _path(self.spec, "flag")
        if self.spec.settings["marker"] in _text(request) and not flag.exists():
            flag.write_text(str(os.getpid()))
            os._exit(1)
        await asyncio.sleep(0.01)  # answers stream back before the crash
        return await self.oracle.generate(request)


class Tracked(_Oracle):
    async def generate(self, request: Request) -> Response:
        log = str(_path(self.spec, "log"))
        latency = float(self.spec.settings.get("latency", "0.05"))
        _append(log, f"+ {os.getpid()}\n")
        try:
            await asyncio.sleep(latency)
            return await self.oracle.generate(request)
        finally:
            _append(log, "-\n")


def _append(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
