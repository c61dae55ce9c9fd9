"""Multiple choice by log-likelihood (HELM's "separate" method).

Each option is scored as the continuation of the question: one log-likelihood request per
option, nothing generated. The answer is the option with the highest total log-probability; the
`length_normalized` variant divides by the option's token count, so long options are not
penalised for their length. The answer's confidence (for calibration) is the softmax of the
options' total log-likelihoods at the chosen option. The prompt is plain text for every model:
the question, then "Answer:", with worked examples answered by their correct option's text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from assay.answers import letters
from assay.prompting.formats import Prediction, PromptFormat
from assay.requests import Oracle, Request, Response
from assay.samples import Sample


@dataclass
class MultipleChoiceLogprob(PromptFormat):
    instructions: str = ""
    instructions_for: Callable[[Sample], str] | None = None
    shots: int = 0
    separator: str = "\n\n"
    kind: str = "multiple_choice_logprob"

    def config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "instructions": self.instructions,
            "instructions_for": getattr(self.instructions_for, "__qualname__", None),
            "shots": self.shots,
        }

    @staticmethod
    def _question(sample: Sample) -> str:
        return f"Question: {sample.input_text}\nAnswer:"

    def context(self, sample: Sample, shots: Sequence[Sample]) -> str:
        instructions = self.instructions_for(sample) if self.instructions_for else self.instructions
        parts = [instructions + self.separator] if instructions else []
        for shot in shots:
            answer = (shot.choices or [""])[shot.correct or 0]
            parts.append(f"{self._question(shot)} {answer}{self.separator}")
        parts.append(self._question(sample))
        return "".join(parts)

    def build(self, sample: Sample, shots: Sequence[Sample], chat: bool) -> list[Request]:
        context = self.context(sample, shots)
        choices = sample.choices or []
        correct = choices[sample.correct or 0] if choices else ""
        return [
            Request(
                prompt=context,
                continuation=f" {choice}",
                max_tokens=0,
                oracle=Oracle(answer=f" {correct}", labels=tuple(f" {c}" for c in choices)),
            )
            for choice in choices
        ]

    def read(self, sample: Sample, responses: Sequence[Response]) -> Prediction:
        labels = letters(len(sample.choices or []))
        scores = [r.loglikelihood for r in responses]
        lengths = [max(1, r.continuation_tokens or 1) for r in responses]
        text = "  ".join(
            f"{label}: {score:.3f} ({n} tok)" if score is not None else f"{label}: ?"
            for label, score, n in zip(labels, scores, lengths, strict=True)
        )
        if not scores or any(s is None for s in scores):
            return Prediction(answer=None, text=text, variants={"length_normalized": None})
        raw = [float(s) for s in scores if s is not None]
        best = max(range(len(raw)), key=raw.__getitem__)
        normalized = [s / n for s, n in zip(raw, lengths, strict=True)]
        best_norm = max(range(len(raw)), key=normalized.__getitem__)
        # softmax over the options' log-likelihoods, at the chosen one (which is the largest)
        confidence = 1.0 / sum(math.exp(r - raw[best]) for r in raw)
        return Prediction(
            answer=labels[best],
            text=text,
            variants={"length_normalized": labels[best_norm]},
            confidence=confidence,
        )

    def references(self, sample: Sample) -> list[str]:
        return [letters(len(sample.choices or []))[sample.correct or 0]]
