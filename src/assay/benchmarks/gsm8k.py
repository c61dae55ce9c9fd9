"""GSM8K: grade-school math word problems (Cobbe et al., 2021, "Training Verifiers to Solve Math
Word Problems").

Main metric: final-number exact match: the number after "The answer is" (else the last number)
in the output equals the reference. 5-shot chain-of-thought with worked solutions from the train
split by default; `shots=0` asks for step-by-step reasoning with no examples; `cot=false` shows
and asks for bare answers. License: MIT. Hub: `openai/gsm8k` (config `main`). Mirror:
`gsm8k/test.jsonl`, `gsm8k/train.jsonl` with fields question, answer ("... #### 18").
"""

from __future__ import annotations

import random
import re
from typing import Any

from assay.answers import normalize_number
from assay.benchmarks.base import DataContext, Loaded, Task, benchmark
from assay.benchmarks.loading import load_hub, read_jsonl, require_file
from assay.errors import UserError
from assay.prompting.formats import Generate
from assay.samples import Sample

_CALC = re.compile(r"<<[^>]*>>")
FEWSHOT_SEED = 1234


def _sample(row: dict[str, Any], split: str, index: int) -> Sample:
    solution, _, final = str(row["answer"]).rpartition("####")
    number = normalize_number(final) or final.strip()
    return Sample(
        id=f"{split}/{index}",
        input=str(row["question"]),
        references=[number],
        metadata={"solution": _CALC.sub("", solution).strip()},
        split=split,
    )


def _rows(data: DataContext, split: str) -> list[dict[str, Any]]:
    local = data.local("gsm8k", f"{split}.jsonl")
    if local is not None:
        return list(read_jsonl(require_file(local, "gsm8k")))
    return load_hub("openai/gsm8k", name="main", split=split)


def _cot_target(sample: Sample) -> str:
    reasoning = " ".join(sample.metadata["solution"].split("\n"))
    return f"{reasoning} The answer is {sample.references[0]}."


def _bare_target(sample: Sample) -> str:
    return f"The answer is {sample.references[0]}."


@benchmark("gsm8k", groups=("math", "reasoning"))
def gsm8k(shots: int = 5, cot: bool = True, split: str = "test") -> Task:
    """Grade-school math word problems; final-number exact match."""
    if not 0 <= shots <= 16:
        raise UserError("gsm8k: shots must be between 0 and 16")
    if split not in ("test", "train"):
        raise UserError(f"gsm8k: split must be test or train, not {split!r}")

    def load(data: DataContext) -> Loaded:
        samples = [_sample(r, split, i) for i, r in enumerate(_rows(data, split))]
        pool: list[Sample] = []
        if shots:
            train = [_sample(r, "train", i) for i, r in enumerate(_rows(data, "train"))]
            pool = random.Random(FEWSHOT_SEED).sample(train, shots)
        return Loaded(samples=samples, fewshot=lambda _sample: pool)

    if cot:
        instructions = (
            "Solve the math problem. Reason step by step, then finish with "
            '"The answer is N." where N is the final number.'
        )
    else:
        instructions = 'Solve the math problem. Answer with "The answer is N." only.'
    return Task(
        load=load,
        prompt=Generate(
            instructions=instructions,
            input_prefix="Question: ",
            output_prefix="\nAnswer:",
            shots=shots,
            max_tokens=256 if cot else 32,
            stop=("\n\nQuestion:",),
            extract="final_number",
            target=_cot_target if cot else _bare_target,
        ),
        metrics=["final_number_match"],
        version="1",
    )
