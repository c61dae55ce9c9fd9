"""Prompt formats turn a sample (plus few-shot examples) into requests and read the answers.

Chat models get messages (instructions first, few-shot examples as user/assistant turns);
completion models get one plain-text prompt with the same content. The format's `config()` is
part of the run's spec hash, so changing a prompt makes a new run rather than a silent mix.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from assay.answers import (
    extract_answer,
    letters,
    read_choice,
    read_final_number,
    read_yes_no,
)
from assay.requests import Oracle, Request, Response
from assay.samples import Message, Sample

EXTRACTORS: dict[str, Callable[[str], str | None]] = {
    "text": lambda text: text.strip(),
    "first_line": lambda text: (text.strip().splitlines() or [""])[0].strip(),
    "final_number": read_final_number,
    "yes_no": read_yes_no,
    "boxed": extract_answer,  # MATH: the last \boxed{...}, else "the answer is X"
}


@dataclass(slots=True)
class Prediction:
    """The answer read from a sample's responses; `answer` is None when it was unreadable.

    `variants` holds answers chosen by other rules (e.g. length-normalised log-likelihood); each
    is scored with every metric under the name `<metric>_<variant>`. `worst_of` names the
    variants that answer a perturbed input: the runner also scores `<metric>_worst`, the worst
    of the answer and those variants. `confidence` is the probability the model gave `answer`
    where the format can tell (for calibration).
    """

    answer: str | None
    text: str
    variants: dict[str, str | None] = field(default_factory=dict)
    worst_of: tuple[str, ...] = ()
    confidence: float | None = None

    @property
    def parsed(self) -> bool:
        return self.answer is not None


class PromptFormat(ABC):
    kind: str = ""
    shots: int = 0
    # the format asks for log-likelihoods (the model must score prompts)
    needs_prompt_logprobs: bool = False

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """Everything that shapes the prompt; hashed into the run spec."""

    @abstractmethod
    def build(self, sample: Sample, shots: Sequence[Sample], chat: bool) -> list[Request]:
        """The requests for one sample."""

    @abstractmethod
    def read(self, sample: Sample, responses: Sequence[Response]) -> Prediction:
        """The answer in the responses."""

    @abstractmethod
    def references(self, sample: Sample) -> list[str]:
        """What the metrics compare the answer with."""

    def scores(
        self, sample: Sample, responses: Sequence[Response]
    ) -> tuple[dict[str, float], dict[str, Any]] | None:
        """Scores a format computes itself (lm-eval tasks score with lm-eval's own code), and
        details for the sample's metadata; None (the default): the task's metrics score."""
        return None


def _assemble(
    instructions: str,
    turns: Sequence[tuple[str, str]],
    final: str,
    chat: bool,
    separator: str,
    system: str | None,
) -> tuple[list[Message] | None, str | None]:
    """Lay out instructions, worked examples and the question as messages or one text."""
    if chat:
        messages: list[Message] = []
        if system:
            messages.append({"role": "system", "content": system})
        pending = instructions
        for user, assistant in turns:
            content = f"{pending}\n\n{user}" if pending else user
            messages.append({"role": "user", "content": content})
            messages.append({"role": "assistant", "content": assistant})
            pending = ""
        content = f"{pending}\n\n{final}" if pending else final
        messages.append({"role": "user", "content": content})
        return messages, None
    parts = [f"{system}\n\n"] if system else []
    if instructions:
        parts.append(instructions + separator)
    for user, assistant in turns:
        parts.append(f"{user} {assistant}{separator}")
    parts.append(final)
    return None, "".join(parts)


@dataclass
class Generate(PromptFormat):
    """Free-text generation; `extract` picks the answer out of the output."""

    instructions: str = ""
    input_prefix: str = ""
    output_prefix: str = ""
    chat_instructions: str = ""
    system: str | None = None
    shots: int = 0
    max_tokens: int = 256
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    extract: str = "text"
    separator: str = "\n\n"
    target: Callable[[Sample], str] | None = None
    kind: str = "generate"

    def config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "instructions": self.instructions,
            "chat_instructions": self.chat_instructions,
            "input_prefix": self.input_prefix,
            "output_prefix": self.output_prefix,
            "system": self.system,
            "shots": self.shots,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stop": list(self.stop),
            "extract": self.extract,
        }

    def _target(self, sample: Sample) -> str:
        if self.target is not None:
            return self.target(sample)
        return sample.references[0] if sample.references else ""

    def _question(self, sample: Sample) -> str:
        return f"{self.input_prefix}{sample.input_text}{self.output_prefix}".rstrip(" ")

    def build(self, sample: Sample, shots: Sequence[Sample], chat: bool) -> list[Request]:
        oracle = Oracle(answer=self._target(sample))
        if not isinstance(sample.input, str) and chat and not shots:
            messages: list[Message] = list(sample.input)
            return [self._request(messages, None, oracle)]
        instructions = self.instructions
        if chat and self.chat_instructions:
            instructions = f"{instructions}\n{self.chat_instructions}".strip()
        turns = [(self._question(s), self._target(s)) for s in shots]
        messages_or_none, prompt = _assemble(
            instructions, turns, self._question(sample), chat, self.separator, self.system
        )
        return [self._request(messages_or_none, prompt, oracle)]

    def _request(
        self, messages: list[Message] | None, prompt: str | None, oracle: Oracle
    ) -> Request:
        return Request(
            messages=messages,
            prompt=prompt,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            stop=list(self.stop) or None,
            oracle=oracle,
        )

    def read(self, sample: Sample, responses: Sequence[Response]) -> Prediction:
        text = responses[0].text if responses else ""
        return Prediction(answer=EXTRACTORS[self.extract](text), text=text)

    def references(self, sample: Sample) -> list[str]:
        return sample.references


@dataclass
class MultipleChoice(PromptFormat):
    """Options labelled A, B, C, ...; the model answers with a letter."""

    instructions: str = ""
    # Per-sample instructions (e.g. MMLU names each question's subject); overrides the above.
    instructions_for: Callable[[Sample], str] | None = None
    chat_instructions: str = "Answer with the letter of the correct option only."
    system: str | None = None
    shots: int = 0
    max_tokens: int = 16
    separator: str = "\n\n"
    kind: str = "multiple_choice"

    def config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "instructions": self.instructions,
            "instructions_for": getattr(self.instructions_for, "__qualname__", None),
            "chat_instructions": self.chat_instructions,
            "system": self.system,
            "shots": self.shots,
            "max_tokens": self.max_tokens,
        }

    @staticmethod
    def question(sample: Sample) -> str:
        options = "\n".join(
            f"{label}. {choice}"
            for label, choice in zip(
                letters(len(sample.choices or [])), sample.choices or [], strict=True
            )
        )
        return f"Question: {sample.input_text}\n{options}\nAnswer:"

    @staticmethod
    def answer_letter(sample: Sample) -> str:
        return letters(len(sample.choices or []))[sample.correct or 0]

    def build(self, sample: Sample, shots: Sequence[Sample], chat: bool) -> list[Request]:
        instructions = self.instructions_for(sample) if self.instructions_for else self.instructions
        if chat and self.chat_instructions:
            instructions = f"{instructions}\n{self.chat_instructions}".strip()
        turns = [(self.question(s), self.answer_letter(s)) for s in shots]
        messages, prompt = _assemble(
            instructions, turns, self.question(sample), chat, self.separator, self.system
        )
        oracle = Oracle(
            answer=self.answer_letter(sample), labels=tuple(letters(len(sample.choices or [])))
        )
        return [
            Request(
                messages=messages,
                prompt=prompt,
                max_tokens=self.max_tokens,
                temperature=0.0,
                stop=None if chat else ["\n"],
                oracle=oracle,
            )
        ]

    def read(self, sample: Sample, responses: Sequence[Response]) -> Prediction:
        text = responses[0].text if responses else ""
        index = read_choice(text, sample.choices or [])
        label = None if index is None else letters(len(sample.choices or []))[index]
        return Prediction(answer=label, text=text)

    def references(self, sample: Sample) -> list[str]:
        return [self.answer_letter(sample)]
