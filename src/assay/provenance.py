"""Where a run's numbers came from: software versions, git revision, data and prompt hashes.

Recorded for every run when it starts (the latest start wins, so a resumed run shows the
environment that finished it) and read back next to the run's dataset hash.
"""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from assay import __version__
from assay.hashing import content_hash

# Distributions whose versions can change a run's numbers; absent ones are left out.
PACKAGES = (
    "numpy",
    "sqlalchemy",
    "pydantic",
    "openai",
    "llama_cpp_python",
    "transformers",
    "torch",
    "tokenizers",
    "onnxruntime",
    "datasets",
)


@functools.cache
def git_revision(path: str | None = None) -> str | None:
    """The commit of the git checkout holding assay's source (with '-dirty' if modified)."""
    where = Path(path) if path else Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}-dirty" if dirty else head or None


@functools.cache
def package_versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def collect(spec: dict[str, Any]) -> dict[str, Any]:
    """Provenance for a run with this spec (see `assay.execution.runner.run_spec`)."""
    return {
        "assay_version": __version__,
        "git_revision": git_revision(),
        "python": sys.version.split()[0],
        "platform": platform.platform(terse=True),
        "packages": package_versions(),
        "benchmark_version": spec.get("benchmark_version"),
        "benchmark_definition": spec.get("definition"),
        "prompt_format_hash": content_hash(
            {"prompt": spec.get("prompt"), "chat": spec.get("chat")}
        ),
        "model_settings": spec.get("model"),
    }
