"""A real llama.cpp OpenAI-compatible server with SmolLM2, on 127.0.0.1, one thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.errors import UserError


def need_model_file(name: str) -> None:
    """Skip, saying how to install it, when a packaged GGUF file (`smollm2`, ...) is missing."""
    from assay.models.packaged import PACKAGED, package_dir

    packaged = PACKAGED[name]
    if package_dir(packaged.module) is None:
        pytest.skip(f"needs the {packaged.title} GGUF file: {packaged.install}")


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    pytest.importorskip("llama_cpp", reason="needs assay[llamacpp]")
    need_model_file("smollm2")
    from assay.models.packaged import packaged_path

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
