"""Pairwise judging: which of two models' answers to the same sample is better.

Each pair is judged twice, once with each answer shown first, so a judge that prefers a
position cannot decide the outcome: a model wins only when both orders pick it; a verdict that
flips with the order is a tie (and counted as `inconsistent`). If either order's verdict could
not be read, or the judge failed, the comparison is unparsed: counted, never scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from assay.metrics.judge import (
    DEFAULT_JUDGE_SETTINGS,
    JudgePrompt,
    JudgeSettings,
    Verdict,
    one_value,
    reference_block,
    verdict_line,
)
from assay.metrics.metric import Unparsed
from assay.requests import Request, Response

Order = Literal["ab", "ba"]  # "ab": A's answer shown first
Winner = Literal["a", "b", "tie"]
ORDERS: tuple[Order, Order] = ("ab", "ba")

_PAIRWISE = verdict_line("verdict", "1|2|tie")


def parse_pairwise(text: str) -> Verdict | Unparsed:
    """`VERDICT: 1`, `VERDICT: 2` or `VERDICT: TIE`, on a line of its own."""
    value = one_value(_PAIRWISE, text, "VERDICT")
    return value if isinstance(value, Unparsed) else {"preferred": value}


PAIRWISE = JudgePrompt(
    "pairwise",
    "You are an impartial judge comparing two AI assistants' responses to the same request.\n\n"
    "Request:\n<<<\n{request}\n>>>\n{reference}\n"
    "Response 1:\n<<<\n{first}\n>>>\n\nResponse 2:\n<<<\n{second}\n>>>\n\n"
    "Decide which response answers the request better: correct (agreeing with the reference "
    "answer where one is given), helpful, relevant and complete. Do not let the order of the "
    "responses or their length sway you. If neither is better, say TIE.\n\n"
    "Reply with exactly one line and nothing else: VERDICT: 1, VERDICT: 2 or VERDICT: TIE",
    parse_pairwise,
    max_tokens=16,
)


def pairwise_request(
    prompt: JudgePrompt,
    request: str,
    references: Sequence[str],
    answer_a: str,
    answer_b: str,
    order: Order,
    *,
    chat: bool = True,
    settings: JudgeSettings = DEFAULT_JUDGE_SETTINGS,
) -> Request:
    """The judge request for one order: `ab` shows A's answer as response 1."""
    first, second = (answer_a, answer_b) if order == "ab" else (answer_b, answer_a)
    text = prompt.render(
        {
            "request": request,
            "reference": reference_block(references),
            "first": first,
            "second": second,
        }
    )
    return Request(
        messages=[{"role": "user", "content": text}] if chat else None,
        prompt=None if chat else text,
        max_tokens=prompt.max_tokens,
        temperature=settings.temperature,
        seed=settings.seed,
    )


def read_order(prompt: JudgePrompt, response: Response, order: Order) -> Winner | Unparsed:
    """One order's verdict in terms of the models (a, b, tie), or why it has none."""
    if response.error is not None:
        return Unparsed(f"judge error: {response.error.kind}: {response.error.message}")
    verdict = prompt.parse(response.text)
    if isinstance(verdict, Unparsed):
        return verdict
    preferred = verdict["preferred"]
    if preferred == "tie":
        return "tie"
    shown_first_wins = preferred == "1"
    return "a" if shown_first_wins == (order == "ab") else "b"


@dataclass(frozen=True)
class Outcome:
    """A pair's result on one sample, from both orders' verdicts."""

    status: Literal["ok", "unparsed", "error"]
    winner: Winner | None = None
    inconsistent: bool = False  # the two orders disagreed (scored as a tie)
    reason: str = ""


def combine(ab: Winner | Unparsed, ba: Winner | Unparsed) -> Outcome:
    """Both orders agree: that result; they disagree: a tie; either unreadable: unparsed (a
    judge error anywhere makes it `error`)."""
    failed = [v for v in (ab, ba) if isinstance(v, Unparsed)]
    if failed:
        reasons = "; ".join(v.reason for v in failed)
        error = any(v.reason.startswith("judge error") for v in failed)
        return Outcome("error" if error else "unparsed", reason=reasons)
    assert not isinstance(ab, Unparsed) and not isinstance(ba, Unparsed)
    if ab == ba:
        return Outcome("ok", ab)
    return Outcome("ok", "tie", inconsistent=True)
