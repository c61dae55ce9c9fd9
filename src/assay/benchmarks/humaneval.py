"""HumanEval: write the body of a Python function from its signature and docstring.

Paper: Chen et al., "Evaluating Large Language Models Trained on Code" (2021). License: MIT.
Version: the 164 problems of openai/human-eval. Main metric: pass@1, with pass@k for every k
up to `samples` (the unbiased estimator; k in 5, 10, 20, 100). Programs run in
`assay.sandbox` (bubblewrap: own user, read-only system, no network, limits; docs/sandbox.md).
Hub: `openai/openai_humaneval` (task_id, prompt, canonical_solution, test, entry_point).
Mirror: `humaneval/HumanEval.jsonl.gz`.

Completion models continue the prompt (stopped at the next top-level statement); chat models
are asked for the whole function in a ```python block, and the prompt is prepended when their
code does not define the function itself. `samples=n` sends n requests per problem with seeds
0..n-1 (temperature 0.8 unless given), so any provider can be sampled n times and each
completion is cached and stored on its own.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from assay.benchmarks.base import DataContext, Loaded, Task, benchmark
from assay.benchmarks.loading import load_hub, require_file
from assay.errors import UserError
from assay.prompting.formats import Prediction, PromptFormat
from assay.requests import Oracle, Request, Response
from assay.samples import Sample

STOP = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#")
_BLOCK = re.compile(r"```(?:python|py)?[^\n]*\n(.*?)(?:```|$)", re.DOTALL)
PASS_KS = (5, 10, 20, 100)


def _read_gz_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with gzip.open(path, "rb") as f:
            for line in f:
                if line.strip():
                    yield orjson.loads(line)
    except (OSError, orjson.JSONDecodeError) as exc:
        raise UserError(f"cannot read {str(path)!r}: {exc}") from None


def _sample(row: dict[str, Any]) -> Sample:
    entry = str(row["entry_point"])
    return Sample(
        id=str(row["task_id"]),
        input=str(row["prompt"]),
        references=[f"{row['test']}\n\ncheck({entry})\n"],
        metadata={"entry_point": entry, "canonical_solution": str(row["canonical_solution"])},
    )


def _load(data: DataContext) -> Loaded:
    local = data.local("humaneval", "HumanEval.jsonl.gz")
    if local is not None:
        rows = list(_read_gz_jsonl(require_file(local, "humaneval")))
    else:
        rows = load_hub("openai/openai_humaneval", split="test")
    return Loaded([_sample(r) for r in rows])


def code_from_chat(text: str) -> str:
    """The code in a chat answer: its fenced blocks joined, else the whole text."""
    blocks = _BLOCK.findall(text)
    return "\n".join(blocks) if blocks else text


@dataclass
class CodeCompletion(PromptFormat):
    """Asks for a function's body `samples` times; the answer is a JSON list of programs."""

    samples: int = 1
    temperature: float = 0.0
    max_tokens: int = 512
    chat_instructions: str = (
        "Complete the following Python function. Reply with the complete function, "
        "including its signature, in one ```python code block."
    )
    kind: str = "code_completion"

    def config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "samples": self.samples,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "chat_instructions": self.chat_instructions,
            "stop": list(STOP),
        }

    def build(self, sample: Sample, shots: Sequence[Sample], chat: bool) -> list[Request]:
        prompt = sample.input_text
        solution = sample.metadata["canonical_solution"]
        if chat:
            oracle = Oracle(answer=f"```python\n{prompt}{solution}```")
            message = f"{self.chat_instructions}\n\n```python\n{prompt}```"
            return [
                Request(
                    messages=[{"role": "user", "content": message}],
                    max_tokens=self.max_tokens,
                    temperature=self.temperature,
                    seed=seed,
                    oracle=oracle,
                )
                for seed in range(self.samples)
            ]
        return [
            Request(
                prompt=prompt,
                max_tokens=self.max_tokens,
                temperature=self.temperature,
                stop=list(STOP),
                seed=seed,
                oracle=Oracle(answer=solution),
            )
            for seed in range(self.samples)
        ]

    @staticmethod
    def program(sample: Sample, text: str) -> str:
        """The prompt (its imports and helpers) then the model's function, or its body."""
        code = code_from_chat(text)
        entry = re.escape(sample.metadata["entry_point"])
        if re.search(rf"^\s*def\s+{entry}\s*\(", code, re.MULTILINE):
            return f"{sample.input_text}\n{code}"  # a docstring-only body is valid Python
        return sample.input_text + code

    def read(self, sample: Sample, responses: Sequence[Response]) -> Prediction:
        texts = [t for r in responses for t in (r.completions or [r.text])]
        programs = [self.program(sample, t) for t in texts]
        answer = orjson.dumps(programs).decode()
        return Prediction(answer=answer, text="\n\n# ----\n\n".join(texts))

    def references(self, sample: Sample) -> list[str]:
        return sample.references


@benchmark("humaneval", groups=("code",))
def humaneval(samples: int = 1, temperature: float = -1.0) -> Task:
    """Python functions from docstrings, run against unit tests in a sandbox; pass@1."""
    if not 1 <= samples <= 200:
        raise UserError("humaneval: samples must be between 1 and 200")
    if temperature < 0:
        temperature = 0.0 if samples == 1 else 0.8
    metrics = ["pass@1"] + [f"pass@{k}" for k in PASS_KS if k <= samples]
    return Task(
        load=_load,
        prompt=CodeCompletion(samples=samples, temperature=temperature),
        metrics=metrics,
        version="1",
    )
