"""Pick a multiple-choice format by name: letters in the output, or option log-likelihoods."""

from __future__ import annotations

from collections.abc import Callable

from assay.errors import UserError
from assay.prompting.formats import MultipleChoice, PromptFormat
from assay.prompting.logprob import MultipleChoiceLogprob
from assay.samples import Sample

CHOICE_FORMATS = ("multiple_choice", "multiple_choice_logprob")


def choice_format(
    kind: str,
    *,
    instructions: str = "",
    shots: int = 0,
    instructions_for: Callable[[Sample], str] | None = None,
) -> PromptFormat:
    if kind == "multiple_choice":
        return MultipleChoice(
            instructions=instructions, instructions_for=instructions_for, shots=shots
        )
    if kind in ("multiple_choice_logprob", "logprob"):
        return MultipleChoiceLogprob(
            instructions=instructions, instructions_for=instructions_for, shots=shots
        )
    raise UserError(f"unknown format {kind!r}: use one of {', '.join(CHOICE_FORMATS)}")
