"""A real llama.cpp OpenAI-compatible server with SmolLM2, on 127.0.0.1, one thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.errors import UserError


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    pytest.importorskip("llama_cpp", reason="needs assay[llamacpp]")
    from assay.models.llamacpp import packaged_path

    return packaged_path("smollm2")


@pytest.fixture(scope="session")
def llama_server(smollm2_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from assay.models.local_server import llama_server as start

    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("wb") as out:
        try:
            with start(smollm2_path, alias="smollm2", log=out) as base_url:
                yield base_url
        except UserError as exc:
            pytest.fail(f"{exc}: {log.read_text()[-2000:]}")
