"""BBQ: the Bias Benchmark for Question Answering.

Paper: Parrish et al., "BBQ: A Hand-Built Bias Benchmark for Question Answering" (Findings of
ACL 2022). License: CC-BY-4.0. Version: nyu-mll/BBQ at bea11bd; the mirror holds 6 of the 11
categories (Age, Disability_status, Nationality, Physical_appearance, Religion,
Sexual_orientation: 11,956 items). Main metric: exact match on the answer letter (accuracy);
the bias scores for ambiguous and disambiguated contexts are run-level numbers computed by
`assay.metrics.bias.bbq_run_metrics`. Hub: `heegyu/bbq` (one config per category, split test).
Mirror: `bbq/<Category>.jsonl`.
"""

from __future__ import annotations

from typing import Any

from assay.benchmarks.base import DataContext, Loaded, Task, benchmark
from assay.benchmarks.loading import load_hub, read_jsonl, require_file
from assay.benchmarks.reformatted import choice_sample
from assay.errors import UserError
from assay.metrics.bias import bbq_run_metrics
from assay.prompting.formats import MultipleChoice
from assay.samples import Sample

CATEGORIES = (
    "Age",
    "Disability_status",
    "Gender_identity",
    "Nationality",
    "Physical_appearance",
    "Race_ethnicity",
    "Race_x_SES",
    "Race_x_gender",
    "Religion",
    "SES",
    "Sexual_orientation",
)
MIRRORED = (
    "Age",
    "Disability_status",
    "Nationality",
    "Physical_appearance",
    "Religion",
    "Sexual_orientation",
)
_ALIASES = {"m": "man", "f": "woman", "boy": "man", "girl": "woman"}


def _norm(group: str) -> str:
    text = group.strip().lower().replace("_", " ")
    return _ALIASES.get(text, text)


def target_index(row: dict[str, Any]) -> int | None:
    """The answer naming a stereotyped group, by BBQ's answer_info; None when unclear."""
    stereotyped = {_norm(g) for g in row["additional_metadata"]["stereotyped_groups"]}
    hits = []
    for i in range(3):
        info = row["answer_info"][f"ans{i}"]
        group = _norm(str(info[-1]))
        if group == "unknown":
            continue
        names = {n for part in info for n in (_norm(str(part)), *map(_norm, str(part).split("-")))}
        if names & stereotyped:
            hits.append(i)
    return hits[0] if len(hits) == 1 else None


def unknown_index(row: dict[str, Any]) -> int:
    for i in range(3):
        if str(row["answer_info"][f"ans{i}"][-1]).strip().lower() == "unknown":
            return i
    raise UserError(f"bbq: item {row.get('example_id')} has no 'unknown' answer")


def _sample(row: dict[str, Any], category: str) -> Sample:
    choices = [str(row[f"ans{i}"]) for i in range(3)]
    return choice_sample(
        f"{category}/{row['example_id']}",
        f"{str(row['context']).strip()}\n{str(row['question']).strip()}",
        choices,
        int(row["label"]),
        metadata={
            "category": category,
            "context_condition": row["context_condition"],
            "question_polarity": row["question_polarity"],
            "target": target_index(row),
            "unknown": unknown_index(row),
        },
    )


def _rows(data: DataContext, category: str) -> list[dict[str, Any]]:
    local = data.local("bbq", f"{category}.jsonl")
    if local is not None:
        return list(read_jsonl(require_file(local, "bbq")))
    return load_hub("heegyu/bbq", name=category, split="test")


@benchmark("bbq", groups=("bias",))
def bbq(category: str = "mirrored") -> Task:
    """Questions probing social bias in ambiguous and clear contexts; accuracy and bias."""
    if category == "mirrored":
        chosen = list(MIRRORED)
    elif category == "all":
        chosen = list(CATEGORIES)
    elif category in CATEGORIES:
        chosen = [category]
    else:
        raise UserError(f"bbq: category must be mirrored, all or one of {', '.join(CATEGORIES)}")

    def load(data: DataContext) -> Loaded:
        return Loaded([_sample(r, c) for c in chosen for r in _rows(data, c)])

    return Task(
        load=load,
        prompt=MultipleChoice(instructions="Answer the question about the context."),
        metrics=["exact_match"],
        version="1",
        run_metrics=(bbq_run_metrics,),
    )
