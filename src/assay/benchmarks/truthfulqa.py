"""TruthfulQA: questions that some humans would answer falsely because of a misconception.

Paper: Lin, Hilton and Evans, "TruthfulQA: Measuring How Models Mimic Human Falsehoods"
(ACL 2022). License: Apache-2.0. Version: the original 817 questions (`v1`, as HELM and
lm-evaluation-harness use them).

- `truthfulqa` (`task=mc1`): MC1 as lettered multiple choice; the options of `mc1_targets`
  (one true) are shuffled with a seed derived from the question, since the file lists the true
  one first. Main metric: exact match on the letter.
- `truthfulqa:task=generation`: free answer. Main metric: ROUGE-L (stemmed F-measure) against
  the best matching true answer. The paper's fine-tuned GPT-judge is not reproduced here.

MC2 and choice-probability calibration need log-likelihoods and come with that prompt format.
Hub: `truthfulqa/truthful_qa` (configs `multiple_choice`, `generation`; split validation).
Mirror: `truthfulqa/v1_817q/mc_task.json` and `truthfulqa/v1_817q/TruthfulQA.csv`.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import orjson

from assay.benchmarks.base import DataContext, Loaded, Task, benchmark
from assay.benchmarks.loading import load_hub, read_csv, require_file
from assay.benchmarks.reformatted import choice_sample
from assay.errors import UserError
from assay.prompting.formats import Generate, MultipleChoice
from assay.samples import Sample

TASKS = ("mc1", "generation")


def shuffled(question: str, options: list[str], correct: int) -> tuple[list[str], int]:
    """Options in an order seeded by the question, and where the correct one went."""
    seed = int.from_bytes(hashlib.blake2b(question.encode(), digest_size=8).digest(), "big")
    order = list(range(len(options)))
    random.Random(seed).shuffle(order)
    return [options[i] for i in order], order.index(correct)


def _mc1_sample(question: str, options: list[str], labels: list[int], index: int) -> Sample:
    if labels.count(1) != 1:
        raise UserError(f"truthfulqa: question {index} has {labels.count(1)} true MC1 options")
    choices, correct = shuffled(question, options, labels.index(1))
    return choice_sample(f"mc1/{index}", question, choices, correct, split="validation")


def _load_mc1(data: DataContext) -> Loaded:
    local = data.local("truthfulqa", "v1_817q", "mc_task.json")
    if local is not None:
        rows: list[dict[str, Any]] = orjson.loads(require_file(local, "truthfulqa").read_bytes())
        return Loaded(
            [
                _mc1_sample(
                    r["question"], list(r["mc1_targets"]), list(r["mc1_targets"].values()), i
                )
                for i, r in enumerate(rows)
            ]
        )
    hub = load_hub("truthfulqa/truthful_qa", name="multiple_choice", split="validation")
    return Loaded(
        [
            _mc1_sample(
                r["question"],
                list(r["mc1_targets"]["choices"]),
                list(r["mc1_targets"]["labels"]),
                i,
            )
            for i, r in enumerate(hub)
        ]
    )


def _generation_sample(
    question: str, best: str, correct: list[str], incorrect: list[str], index: int
) -> Sample:
    references = [best.strip()] + [c.strip() for c in correct if c.strip() and c.strip() != best]
    return Sample(
        id=f"generation/{index}",
        input=question,
        references=references,
        metadata={"incorrect_answers": [c.strip() for c in incorrect if c.strip()]},
        split="validation",
    )


def _load_generation(data: DataContext) -> Loaded:
    local = data.local("truthfulqa", "v1_817q", "TruthfulQA.csv")
    if local is not None:
        return Loaded(
            [
                _generation_sample(
                    r["Question"],
                    r["Best Answer"],
                    r["Correct Answers"].split(";"),
                    r["Incorrect Answers"].split(";"),
                    i,
                )
                for i, r in enumerate(read_csv(require_file(local, "truthfulqa")))
            ]
        )
    hub = load_hub("truthfulqa/truthful_qa", name="generation", split="validation")
    return Loaded(
        [
            _generation_sample(
                r["question"], r["best_answer"], r["correct_answers"], r["incorrect_answers"], i
            )
            for i, r in enumerate(hub)
        ]
    )


@benchmark("truthfulqa", groups=("knowledge",))
def truthfulqa(task: str = "mc1") -> Task:
    """Questions built on common misconceptions: MC1 letters, or free generation."""
    if task not in TASKS:
        raise UserError(f"truthfulqa: task must be one of {', '.join(TASKS)}, not {task!r}")
    if task == "mc1":
        return Task(
            load=_load_mc1,
            prompt=MultipleChoice(instructions="Choose the true answer to each question."),
            metrics=["exact_match"],
            version="1",
        )
    return Task(
        load=_load_generation,
        prompt=Generate(
            instructions="Answer the question truthfully in one short sentence.",
            input_prefix="Q: ",
            output_prefix="\nA:",
            max_tokens=64,
            stop=("\n",),
            extract="first_line",
        ),
        metrics=["rouge_l", "rouge_1", "quasi_exact_match"],
        version="1",
    )
