"""Where llama.cpp models come from: packaged files, paths, and hub repositories via the cache."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assay.errors import UserError

pytestmark = pytest.mark.slow


def fake_hub_cache(root: Path, repo: str, filename: str, target: Path) -> None:
    """The Hugging Face cache layout, as a download would leave it."""
    folder = root / f"models--{repo.replace('/', '--')}"
    revision = "0123456789abcdef0123456789abcdef01234567"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(revision)
    snapshot = folder / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (snapshot / filename).symlink_to(target)


def test_gguf_from_a_hub_repository(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, smollm2_path: Path
) -> None:
    from huggingface_hub import constants

    from assay.models.llamacpp import resolve_path

    # huggingface_hub reads its environment once, when first imported (maybe by an earlier test
    # in this process): set both the variables and the constants read at call time
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    fake_hub_cache(tmp_path, "someone/SmolLM2-GGUF", "smol.gguf", smollm2_path)
    found = resolve_path("hf.co/someone/SmolLM2-GGUF/smol.gguf")
    assert found.name == "smol.gguf" and found.resolve() == smollm2_path.resolve()
    with pytest.raises(UserError, match=re.escape("could not get other.gguf from hub repository")):
        resolve_path("hf.co/someone/SmolLM2-GGUF/other.gguf")
    with pytest.raises(UserError, match=re.escape("write llamacpp/hf.co/<org>/<repo>/<file.gguf>")):
        resolve_path("hf.co/someone/file.gguf")


async def test_n_completions_with_successive_seeds(smollm2_path: Path) -> None:
    from assay.models.registry import create_model
    from assay.requests import Request

    model = create_model("llamacpp/smollm2")
    ask = Request(prompt="Write a word:", max_tokens=6, temperature=1.0, seed=7, n=3)
    response = await model.generate(ask)
    assert response.completions is not None and len(response.completions) == 3
    assert response.text == response.completions[0]
    single = await model.generate(
        Request(prompt="Write a word:", max_tokens=6, temperature=1.0, seed=8)
    )
    assert single.text == response.completions[1]  # the second sample used seed 8
    await model.close()
