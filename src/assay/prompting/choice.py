"""Pick a multiple-choice format by name: letters in the output, or option log-likelihoods."""

from __future__ import annotations

from assay.errors import UserError
from assay.prompting.formats import MultipleChoice, PromptFormat
from assay.prompting.logprob import MultipleChoiceLogprob

CHOICE_FORMATS = ("multiple_choice", "multiple_choice_logprob")


def choice_format(kind: str, *, instructions: str, shots: int) -> PromptFormat:
    if kind == "multiple_choice":
        return MultipleChoice(instructions=instructions, shots=shots)
    if kind in ("multiple_choice_logprob", "logprob"):
        return MultipleChoiceLogprob(instructions=instructions, shots=shots)
    raise UserError(f"unknown format {kind!r}: use one of {', '.join(CHOICE_FORMATS)}")
