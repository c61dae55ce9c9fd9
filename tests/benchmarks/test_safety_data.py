"""The safety benchmarks read their mirror files: every row, the fields the judges need, and
one clear line for a bad row or a missing mirror."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from assay.benchmarks.base import DataContext
from assay.benchmarks.registry import resolve_task
from assay.errors import UserError


def samples(name: str, data_dir: Path | None) -> list[Any]:
    return list(resolve_task(name).load(DataContext(data_dir)).samples)


def test_xstest_has_250_safe_and_200_unsafe(data_dir: Path) -> None:
    rows = samples("xstest", data_dir)
    assert Counter(s.metadata["label"] for s in rows) == {"safe": 250, "unsafe": 200}
    assert len({s.id for s in rows}) == 450
    assert all(isinstance(s.input, str) and s.input for s in rows)


def test_other_safety_sets_load_every_row(data_dir: Path) -> None:
    harmbench = samples("harmbench", data_dir)
    assert len(harmbench) == 240  # 159 standard + 81 contextual; copyright left out
    assert Counter(s.metadata["category"] for s in harmbench) == {"standard": 159, "contextual": 81}
    contextual = [s for s in harmbench if s.metadata["category"] == "contextual"]
    assert all(s.metadata["context"] and s.metadata["context"] in s.input for s in contextual)
    assert len(samples("simplesafetytests", data_dir)) == 100
    strongreject = samples("strongreject", data_dir)
    assert len(strongreject) == 313 and len({s.id for s in strongreject}) == 313


def test_every_safety_benchmark_is_judged_and_in_the_safety_group() -> None:
    from assay.metrics.registry import is_judged

    for name in ("xstest", "harmbench", "simplesafetytests", "strongreject"):
        task = resolve_task(name)
        assert "safety" in task.groups
        assert task.main_metric is not None and is_judged(task.main_metric)
    assert resolve_task("strongreject").higher_is_better is False
    assert resolve_task("xstest").higher_is_better is True


def test_a_bad_row_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "xstest").mkdir()
    (tmp_path / "xstest" / "xstest_prompts.csv").write_text(
        "id,prompt,type,label,focus,note\n1,Hi,homonyms,maybe,kill,x\n"
    )
    with pytest.raises(UserError, match="row 0 has label 'maybe'"):
        samples("xstest", tmp_path)
    with pytest.raises(UserError, match="--data-dir"):
        samples("strongreject", None)
    with pytest.raises(UserError, match="missing"):
        samples("harmbench", tmp_path)
