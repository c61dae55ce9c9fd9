"""MMLU: Measuring Massive Multitask Language Understanding (Hendrycks et al., ICLR 2021).

57 subjects of four-option questions; 5-shot by default with the subject's dev examples, as in
the paper and HELM. Main metric: exact match on the answer letter. License: MIT.
Hub: `cais/mmlu`. Mirror: `mmlu/test/<subject>_test.csv`, `mmlu/dev/<subject>_dev.csv` with
columns question, choice0..choice3, answer (0-3).
"""

from __future__ import annotations

from typing import Any

from assay.benchmarks.base import DataContext, Loaded, Task, benchmark
from assay.benchmarks.loading import load_hub, read_csv, require_file
from assay.errors import UserError
from assay.prompting.choice import choice_format
from assay.samples import Sample

SUBJECTS = (
    "abstract_algebra",
    "anatomy",
    "astronomy",
    "business_ethics",
    "clinical_knowledge",
    "college_biology",
    "college_chemistry",
    "college_computer_science",
    "college_mathematics",
    "college_medicine",
    "college_physics",
    "computer_security",
    "conceptual_physics",
    "econometrics",
    "electrical_engineering",
    "elementary_mathematics",
    "formal_logic",
    "global_facts",
    "high_school_biology",
    "high_school_chemistry",
    "high_school_computer_science",
    "high_school_european_history",
    "high_school_geography",
    "high_school_government_and_politics",
    "high_school_macroeconomics",
    "high_school_mathematics",
    "high_school_microeconomics",
    "high_school_physics",
    "high_school_psychology",
    "high_school_statistics",
    "high_school_us_history",
    "high_school_world_history",
    "human_aging",
    "human_sexuality",
    "international_law",
    "jurisprudence",
    "logical_fallacies",
    "machine_learning",
    "management",
    "marketing",
    "medical_genetics",
    "miscellaneous",
    "moral_disputes",
    "moral_scenarios",
    "nutrition",
    "philosophy",
    "prehistory",
    "professional_accounting",
    "professional_law",
    "professional_medicine",
    "professional_psychology",
    "public_relations",
    "security_studies",
    "sociology",
    "us_foreign_policy",
    "virology",
    "world_religions",
)


def _sample(row: dict[str, Any], subject: str, split: str, index: int) -> Sample:
    if "choices" in row:  # hub layout
        choices = [str(c) for c in row["choices"]]
    else:
        choices = [row[f"choice{i}"] for i in range(4)]
    answer = int(row["answer"])
    return Sample(
        id=f"{subject}/{split}/{index}",
        input=row["question"],
        references=[choices[answer]],
        choices=choices,
        correct=answer,
        metadata={"subject": subject},
        split=split,
    )


def _rows(data: DataContext, subject: str, split: str) -> list[dict[str, Any]]:
    local = data.local("mmlu", split, f"{subject}_{split}.csv")
    if local is not None:
        return list(read_csv(require_file(local, "mmlu")))
    return load_hub("cais/mmlu", name=subject, split=split)


def _load(subjects: list[str], split: str) -> Any:
    def load(data: DataContext) -> Loaded:
        samples = [
            _sample(row, subject, split, i)
            for subject in subjects
            for i, row in enumerate(_rows(data, subject, split))
        ]

        dev: dict[str, list[Sample]] = {}

        def fewshot(sample: Sample) -> list[Sample]:
            subject = sample.metadata["subject"]
            if subject not in dev:
                dev[subject] = [
                    _sample(r, subject, "dev", i) for i, r in enumerate(_rows(data, subject, "dev"))
                ]
            return dev[subject]

        return Loaded(samples=samples, fewshot=fewshot)

    return load


def mmlu_instructions(sample: Sample) -> str:
    """HELM's and the paper's header, naming the question's subject."""
    subject = str(sample.metadata["subject"]).replace("_", " ")
    return f"The following are multiple choice questions (with answers) about {subject}."


@benchmark("mmlu", groups=("knowledge", "reasoning"))
def mmlu(
    subject: str = "all", shots: int = 5, split: str = "test", format: str = "multiple_choice"
) -> Task:
    """Multiple-choice questions on 57 subjects; exact match on the letter."""
    if subject == "all":
        subjects = list(SUBJECTS)
    elif subject in SUBJECTS:
        subjects = [subject]
    else:
        close = [s for s in SUBJECTS if subject.lower() in s][:5]
        hint = f" (did you mean {', '.join(close)}?)" if close else " (see `assay benchmarks`)"
        raise UserError(f"mmlu has no subject {subject!r}{hint}")
    if split not in ("test", "dev"):
        raise UserError(f"mmlu: split must be test or dev, not {split!r}")
    if not 0 <= shots <= 5:
        raise UserError("mmlu: shots must be between 0 and 5 (the dev split has 5 per subject)")
    return Task(
        load=_load(subjects, split),
        prompt=choice_format(format, instructions_for=mmlu_instructions, shots=shots),
        metrics=["exact_match"],
        version="1",
    )
