"""Pairwise verdicts: strict reading, each order mapped back to the models, and both orders
combined (agreement wins, a flip is a tie, anything unread is not scored)."""

from __future__ import annotations

import pytest

from assay.metrics.metric import Unparsed
from assay.metrics.pairwise import (
    PAIRWISE,
    Outcome,
    combine,
    pairwise_request,
    parse_pairwise,
    read_order,
)
from assay.requests import ErrorInfo, Response


@pytest.mark.parametrize(
    ("text", "preferred"),
    [("VERDICT: 1", "1"), ("verdict: 2.", "2"), ("VERDICT: TIE", "tie"), ("Hmm.\nVERDICT: 1", "1")],
)
def test_pairwise_verdicts_read(text: str, preferred: str) -> None:
    assert parse_pairwise(text) == {"preferred": preferred}


@pytest.mark.parametrize(
    "text",
    ["1", "VERDICT: 3", "VERDICT: A", "VERDICT: 1\nVERDICT: 2", "Response 1 is better", ""],
)
def test_pairwise_garbage_is_unparsed(text: str) -> None:
    assert isinstance(parse_pairwise(text), Unparsed)


def test_each_order_maps_the_shown_position_back_to_the_model() -> None:
    def read(text: str, order: str) -> object:
        return read_order(PAIRWISE, Response(text=text), order)  # type: ignore[arg-type]

    assert read("VERDICT: 1", "ab") == "a" and read("VERDICT: 2", "ab") == "b"
    assert read("VERDICT: 1", "ba") == "b" and read("VERDICT: 2", "ba") == "a"
    assert read("VERDICT: TIE", "ba") == "tie"
    failed = read_order(PAIRWISE, Response(error=ErrorInfo("server", "down", True, 500)), "ab")
    assert isinstance(failed, Unparsed) and failed.reason.startswith("judge error")


def test_both_orders_combined() -> None:
    assert combine("a", "a") == Outcome("ok", "a")
    assert combine("b", "b") == Outcome("ok", "b")
    assert combine("tie", "tie") == Outcome("ok", "tie")
    # a judge that always picks the first position says a, then b: the order decided, a tie
    assert combine("a", "b") == Outcome("ok", "tie", inconsistent=True)
    assert combine("tie", "a") == Outcome("ok", "tie", inconsistent=True)
    unread = combine("a", Unparsed("no 'VERDICT' line"))
    assert unread.status == "unparsed" and unread.winner is None
    failed = combine(Unparsed("judge error: server: down"), Unparsed("no 'VERDICT' line"))
    assert failed.status == "error" and failed.winner is None


def test_the_request_swaps_the_answers_and_carries_the_reference() -> None:
    ab = pairwise_request(PAIRWISE, "2+2?", ["4"], "four", "five", "ab")
    ba = pairwise_request(PAIRWISE, "2+2?", ["4"], "four", "five", "ba")
    assert ab.messages is not None and ba.messages is not None
    first, second = ab.messages[0]["content"], ba.messages[0]["content"]
    assert first.index("four") < first.index("five") and second.index("five") < second.index("four")
    assert "Reference answer:\n<<<\n4\n>>>" in first
    assert ab.temperature == 0 and ab.seed == 0
    bare = pairwise_request(PAIRWISE, "Write a poem", [], "x", "y", "ab", chat=False)
    assert bare.prompt is not None and "Reference answer" not in bare.prompt
