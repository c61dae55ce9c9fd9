"""The sample: one item of a benchmark."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

Role = Literal["system", "user", "assistant"]


class Message(TypedDict):
    role: Role
    content: str


@dataclass(slots=True)
class Sample:
    """One benchmark item.

    `input` is plain text or a list of chat messages. `references` are acceptable answers for
    generation metrics. For multiple choice, `choices` lists the options and `correct` is the
    index of the right one (its text is also the first reference).
    """

    id: str
    input: str | list[Message]
    references: list[str] = field(default_factory=list)
    choices: list[str] | None = None
    correct: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    split: str = "test"

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "input": self.input,
            "references": self.references,
            "choices": self.choices,
            "correct": self.correct,
            "metadata": self.metadata,
            "split": self.split,
        }

    @property
    def input_text(self) -> str:
        """The input as one string (the last user message for chat inputs)."""
        if isinstance(self.input, str):
            return self.input
        users = [m["content"] for m in self.input if m["role"] == "user"]
        return users[-1] if users else ""
