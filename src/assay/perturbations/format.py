"""Running a task with perturbed inputs: a prompt format that asks every question several ways.

`Perturbed` wraps a task's own format. For each sample it builds the original requests and then
the same requests for each perturbed copy of the sample (only the input is perturbed: few-shot
examples, choices and references stay as they are), so the store keeps every perturbed input as
its own request, in the order of the spec's `perturbations` list. Reading gives the original
answer plus one variant per perturbation (scored as `<metric>_<perturbation>`) and names them in
`worst_of`, so the runner also scores `<metric>_worst`: per sample, the worst over the original
and its perturbations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from assay.benchmarks.base import Task
from assay.errors import UserError
from assay.perturbations.base import Perturbation
from assay.prompting.formats import Prediction, PromptFormat
from assay.requests import Request, Response
from assay.samples import Message, Sample


def perturbed_sample(sample: Sample, perturbation: Perturbation) -> Sample:
    """The sample with its input (text, or each user message) perturbed, keyed by its id."""
    if isinstance(sample.input, str):
        return dataclasses.replace(sample, input=perturbation.apply(sample.input, sample.id))
    messages: list[Message] = [
        {
            "role": m["role"],
            "content": perturbation.apply(m["content"], f"{sample.id}/{i}")
            if m["role"] == "user"
            else m["content"],
        }
        for i, m in enumerate(sample.input)
    ]
    return dataclasses.replace(sample, input=messages)


class Perturbed(PromptFormat):
    def __init__(self, inner: PromptFormat, perturbations: Sequence[Perturbation]) -> None:
        if not perturbations:
            raise UserError("perturb: give at least one perturbation")
        names = [p.name for p in perturbations]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise UserError(f"perturb: {', '.join(repeated)} given more than once")
        self.inner = inner
        self.perturbations = tuple(perturbations)
        self.kind = inner.kind
        self.shots = inner.shots

    def config(self) -> dict[str, Any]:
        return {**self.inner.config(), "perturbations": [p.config() for p in self.perturbations]}

    def build(self, sample: Sample, shots: Sequence[Sample], chat: bool) -> list[Request]:
        requests = self.inner.build(sample, shots, chat)
        per = len(requests)
        for perturbation in self.perturbations:
            more = self.inner.build(perturbed_sample(sample, perturbation), shots, chat)
            if len(more) != per:
                raise ValueError(f"{perturbation.name} changed the number of requests")
            requests += more
        return requests

    def read(self, sample: Sample, responses: Sequence[Response]) -> Prediction:
        per = len(responses) // (1 + len(self.perturbations))
        original = self.inner.read(sample, responses[:per])
        variants = dict(original.variants)
        for i, perturbation in enumerate(self.perturbations, start=1):
            answer = self.inner.read(
                perturbed_sample(sample, perturbation), responses[i * per : (i + 1) * per]
            )
            variants[perturbation.name] = answer.answer
        return dataclasses.replace(
            original, variants=variants, worst_of=tuple(p.name for p in self.perturbations)
        )

    def references(self, sample: Sample) -> list[str]:
        return self.inner.references(sample)


def perturb(task: Task, perturbations: Sequence[Perturbation]) -> Task:
    """The task asked with each perturbation too: a separate run (its spec includes them) named
    like a variant, `mmlu:perturb=typos+lowercase`, so it sits beside the plain run."""
    labels = "+".join(p.label() for p in perturbations)
    separator = "," if ":" in task.name else ":"
    return dataclasses.replace(
        task,
        prompt=Perturbed(task.prompt, perturbations),
        name=f"{task.name}{separator}perturb={labels}",
    )
