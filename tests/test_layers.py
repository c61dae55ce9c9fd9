"""The package's layers depend one way only (see docs/design.md): metrics never call providers
(judges return requests; the executor calls models), answer reading is shared rather than
prompting and metrics importing each other, providers know nothing of persistence, the viewer
only reads, the store knows nothing above it. An AST scan of every import, nested and
type-only ones included, names the file and line that crosses a layer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import assay

PACKAGE = Path(assay.__file__).parent
NEVER = {
    "metrics": ["assay.models", "assay.prompting", "assay.execution", "assay.store"],
    "prompting": ["assay.metrics", "assay.models", "assay.store"],
    "models": ["assay.store", "assay.execution", "assay.metrics", "assay.web"],
    "web": ["assay.execution", "assay.models"],
    "store": ["assay.execution", "assay.web", "assay.analysis", "assay.cli", "assay.models"],
    "benchmarks": ["assay.models", "assay.store", "assay.execution"],
    "analysis": ["assay.models", "assay.execution", "assay.web", "assay.cli"],
}


def imported(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("layer", sorted(NEVER))
def test_no_layer_imports_what_it_must_not(layer: str) -> None:
    crossings = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: imports {name}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for line, name in imported(path)
        if any(name == banned or name.startswith(banned + ".") for banned in NEVER[layer])
    ]
    assert not crossings, "\n".join(crossings)


def test_the_scan_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from assay.models.registry import create_model\n")
    assert imported(module) == [(2, "assay.models.registry")]
