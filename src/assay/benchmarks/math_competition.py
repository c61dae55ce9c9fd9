r"""MATH: competition mathematics (Hendrycks et al., "Measuring Mathematical Problem Solving With
the MATH Dataset", NeurIPS 2021 Datasets and Benchmarks).

12,500 problems (7,500 train, 5,000 test) from AMC, AIME and similar contests in seven subjects,
each with a level (1-5) and a worked solution whose final answer is in `\boxed{}`. Main metric:
`math_equiv`, the last boxed expression of the output equivalent to the reference after MATH
normalisation (see `assay.metrics.math_equivalence`). Chain of thought: 4-shot by default with
worked solutions from the train split (same subject and level filters, seeded); `shots=0` asks
for step-by-step reasoning with no examples. License: MIT. Version 1.

Data (none ships in shared/data): the hub, `EleutherAI/hendrycks_math` (one config per
subject) by default, or `hub=<owner/name>` for a single-config copy in the same layout (e.g.
`hendrycks/competition_math`), filtered by its `type` field; a mirror `math/test.jsonl` and
`math/train.jsonl` under --data-dir; or your own file, `math:file=problems.jsonl` (.jsonl, .json
or .csv), rows with `problem` and `solution` (its last box is the answer) or `answer`, optional
`type` or `subject`, `level` ("Level 3" or 3) and `id`/`unique_id`. Few-shot examples for a file
come from its other rows.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assay.answers import last_boxed
from assay.benchmarks.base import DataContext, Loaded, Task, benchmark
from assay.benchmarks.loading import load_hub, reader_for, require_file
from assay.errors import UserError
from assay.prompting.formats import Generate
from assay.samples import Sample

SUBJECTS = (
    "algebra",
    "counting_and_probability",
    "geometry",
    "intermediate_algebra",
    "number_theory",
    "prealgebra",
    "precalculus",
)
DEFAULT_HUB = "EleutherAI/hendrycks_math"
PER_SUBJECT_HUBS = frozenset({DEFAULT_HUB})  # hub copies with one config per subject
FEWSHOT_SEED = 1234
INSTRUCTIONS = (
    "Solve the math problem. Reason step by step, then put the final answer, simplified, "
    "in \\boxed{}."
)


def subject_key(kind: str) -> str:
    """ "Counting & Probability" -> "counting_and_probability"."""
    return "_".join(kind.strip().lower().replace("&", "and").split())


def _level(value: Any) -> int:
    """ "Level 3" or 3 -> 3; "Level ?" or nothing -> 0 (unknown)."""
    text = str(value if value is not None else "").strip().lower().removeprefix("level").strip()
    return int(text) if text.isdigit() else 0


def _sample(row: dict[str, Any], sample_id: str, split: str, where: str) -> Sample:
    problem = row.get("problem")
    solution = str(row.get("solution") or "").strip()
    answer = row.get("answer")
    if not problem or (not solution and answer in (None, "")):
        raise UserError(
            f"{where}: row {sample_id} needs 'problem' and 'solution' (with a \\boxed answer) "
            "or 'answer'"
        )
    reference = str(answer).strip() if answer not in (None, "") else last_boxed(solution)
    if not reference:
        raise UserError(
            f"{where}: row {sample_id}: its solution has no \\boxed{{}} answer; add an 'answer'"
        )
    kind = str(row.get("type") or row.get("subject") or "")
    return Sample(
        id=sample_id,
        input=str(problem).strip(),
        references=[reference],
        metadata={
            "solution": solution,
            "subject": subject_key(kind) if kind else "",
            "level": _level(row.get("level")),
        },
        split=split,
    )


def _target(sample: Sample) -> str:
    """A worked solution ending in the boxed answer (what few-shot examples and the oracle say)."""
    solution: str = sample.metadata["solution"]
    reference = sample.references[0]
    if solution and last_boxed(solution) == reference:
        return solution
    final = f"The final answer is $\\boxed{{{reference}}}$."
    return f"{solution}\n{final}" if solution else final


@benchmark("math", groups=("math", "reasoning"))
def math(
    subject: str = "all",
    level: int = 0,
    shots: int = 4,
    split: str = "test",
    file: str = "",
    hub: str = DEFAULT_HUB,
) -> Task:
    """Competition math (MATH); boxed-answer equivalence with chain of thought."""
    if subject != "all" and subject not in SUBJECTS:
        raise UserError(
            f"math: subject must be all or one of {', '.join(SUBJECTS)}, not {subject!r}"
        )
    if not 0 <= level <= 5:
        raise UserError("math: level must be 1 to 5, or 0 for all levels")
    if not 0 <= shots <= 8:
        raise UserError("math: shots must be between 0 and 8")
    if split not in ("test", "train"):
        raise UserError(f"math: split must be test or train, not {split!r}")

    def keep(sample: Sample) -> bool:
        return (subject == "all" or sample.metadata["subject"] == subject) and (
            level == 0 or sample.metadata["level"] == level
        )

    def read(data: DataContext, part: str) -> list[Sample]:
        if file:
            path = require_file(Path(file).expanduser(), "math")
            source = file
            samples = [
                _sample(r, str(r.get("unique_id") or r.get("id") or i), part, source)
                for i, r in enumerate(reader_for(path)(path))
            ]
        elif data.data_dir is not None:
            path = require_file(data.data_dir / "math" / f"{part}.jsonl", "math")
            source = str(path)
            samples = [
                _sample(r, f"{part}/{i}", part, source)
                for i, r in enumerate(reader_for(path)(path))
            ]
        elif hub in PER_SUBJECT_HUBS:
            source = hub
            samples = [
                _sample(r, f"{part}/{name}/{i}", part, source)
                for name in (SUBJECTS if subject == "all" else (subject,))
                for i, r in enumerate(load_hub(hub, name=name, split=part))
            ]
        else:
            source = hub
            samples = [
                _sample(r, f"{part}/{i}", part, source)
                for i, r in enumerate(load_hub(hub, split=part))
            ]
        chosen = [s for s in samples if keep(s)]
        if not chosen:
            raise UserError(
                f"math: no {part} problems in {source} match subject={subject}, "
                f"level={level or 'all'}"
            )
        return chosen

    def load(data: DataContext) -> Loaded:
        samples = read(data, split)
        if not shots:
            return Loaded(samples=samples)
        candidates = samples if file else read(data, "train")
        rng = random.Random(FEWSHOT_SEED)
        pool = rng.sample(candidates, min(shots + 1, len(candidates)))

        def fewshot(sample: Sample) -> Sequence[Sample]:
            return [p for p in pool if p.id != sample.id][:shots]  # never the sample itself

        return Loaded(samples=samples, fewshot=fewshot)

    return Task(
        load=load,
        prompt=Generate(
            instructions=INSTRUCTIONS,
            input_prefix="Problem: ",
            output_prefix="\nSolution:",
            shots=shots,
            max_tokens=1024,
            stop=("\n\nProblem:",),
            extract="boxed",
            target=_target,
        ),
        metrics=["math_equiv"],
        version="1",
    )
