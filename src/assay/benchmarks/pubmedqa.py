"""PubMedQA: answer a biomedical research question yes, no or maybe from its abstract.

Paper: Jin et al., "PubMedQA: A Dataset for Biomedical Research Question Answering"
(EMNLP 2019). License: MIT. Version: PQA-L (expert-labelled), the standard 500-question test
split. Main metric: exact match on the letter of yes / no / maybe, as HELM scores it.
Hub: `qiaojin/PubMedQA` config `pqa_labeled` (all 1,000 labelled questions; its `train` split,
filtered to the test PMIDs when they are known). Mirror: `pubmedqa/ori_pqal.json` (PMID ->
QUESTION, CONTEXTS, final_decision) and `pubmedqa/test_ground_truth.json` (the test PMIDs).
"""

from __future__ import annotations

from typing import Any

import orjson

from assay.benchmarks.base import DataContext, Loaded, Task, benchmark
from assay.benchmarks.loading import load_hub, require_file
from assay.benchmarks.reformatted import choice_sample
from assay.errors import UserError
from assay.prompting.formats import MultipleChoice
from assay.samples import Sample

ANSWERS = ["yes", "no", "maybe"]


def _sample(pmid: str, question: str, contexts: list[str], decision: str) -> Sample:
    decision = decision.strip().lower()
    if decision not in ANSWERS:
        raise UserError(f"pubmedqa: PMID {pmid} has answer {decision!r}, not yes/no/maybe")
    text = "Context: " + " ".join(c.strip() for c in contexts) + f"\n{question.strip()}"
    return choice_sample(
        pmid, text, list(ANSWERS), ANSWERS.index(decision), metadata={"pmid": pmid}
    )


def _read_json(data: DataContext, name: str) -> Any:
    path = data.local("pubmedqa", name)
    assert path is not None
    try:
        return orjson.loads(require_file(path, "pubmedqa").read_bytes())
    except orjson.JSONDecodeError as exc:
        raise UserError(f"pubmedqa: {path} is not valid JSON ({exc})") from None


def _load(data: DataContext) -> Loaded:
    if data.data_dir is not None:
        every: dict[str, Any] = _read_json(data, "ori_pqal.json")
        test: dict[str, str] = _read_json(data, "test_ground_truth.json")
        return Loaded(
            [
                _sample(pmid, every[pmid]["QUESTION"], every[pmid]["CONTEXTS"], label)
                for pmid, label in test.items()
            ]
        )
    rows: list[dict[str, Any]] = load_hub("qiaojin/PubMedQA", name="pqa_labeled", split="train")
    return Loaded(
        [
            _sample(str(r["pubid"]), r["question"], r["context"]["contexts"], r["final_decision"])
            for r in rows
        ]
    )


@benchmark("pubmedqa", groups=("professional", "QA"))
def pubmedqa() -> Task:
    """Biomedical yes/no/maybe questions over abstracts; exact match on the letter."""
    return Task(
        load=_load,
        prompt=MultipleChoice(
            instructions=(
                "Answer the biomedical research question from the context: yes, no or maybe."
            )
        ),
        metrics=["exact_match"],
        version="1",
    )
