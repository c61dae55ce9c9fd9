r"""MATH answers: the last \boxed{} is read, and equivalent answers match after normalisation."""

from __future__ import annotations

import pytest

from assay.metrics import math_equivalence
from assay.metrics.math_equivalence import extract_answer, is_equiv, last_boxed, normalize_answer
from assay.metrics.reference import METRICS
from assay.prompting.formats import EXTRACTORS

# predicted, reference: pairs that denote the same answer
EQUIVALENT = [
    (r"\frac{1}{2}", r"\dfrac{1}{2}"),
    (r"\tfrac12", r"\frac{1}{2}"),
    (r"\frac12", r"\frac{1}{2}"),
    (r"\frac1{2}", r"\frac{1}{2}"),
    ("0.5", r"\frac{1}{2}"),
    (".5", "0.5"),
    ("1/2", r"\frac12"),
    (r"\frac{2}{4}", "0.5"),
    ("-0.25", r"-\frac{1}{4}"),
    (r"-\frac{1}{2}", r"\frac{-1}{2}"),
    ("x = 5", "5"),
    (r"\theta=30^\circ", "30"),
    (r"30^{\circ}", "30"),
    (r"5\text{ cm}^2", "5"),
    ("12 inches", "12"),
    ("6 square units", "6"),
    (r"\$18.90", "18.90"),
    ("$18.90$", "18.90"),
    (r"50\%", "50"),
    (r"10,\!000", "10000"),
    ("1,000", "1000"),
    ("3.0", "3"),
    ("5.", "5"),
    (r"\text{Monday}", "Monday"),
    (r"\textbf{(C)}", "C"),
    (r"\left( 3, \frac{\pi}{2} \right)", r"(3,\frac{\pi}{2})"),
    (r"\sqrt2", r"\sqrt{2}"),
    (r"3 \sqrt 3", r"3\sqrt{3}"),
    (r"\frac{\sqrt3}{2}", r"\dfrac{\sqrt{3}}{2}"),
    (r"x \leq 3", r"x\le 3"),
    (r"\{1,\ 2\}", r"\{1, 2\}"),
    (r"[-2, 5)", r"[-2,5)"),
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix}1\\2\end{pmatrix}"),
    (r"2\frac{1}{2}", "2.5"),  # a digit before \frac is a mixed number
    (r"\boxed{7}", "7"),  # a raw solution is read through its box
    ("x^{2}+1", "x^{2}  +  1"),
]

# pairs that must not match
DIFFERENT = [
    ("0.333", r"\frac13"),  # an approximation is not the exact answer
    ("5", "6"),
    ("-3", "3"),
    ("2m", "2"),  # a variable is not a unit
    ("(1,2)", "(2,1)"),  # order matters in tuples
    (r"\frac{1}{2}x", "x/2"),  # no algebra on expressions with variables
    (r"2\frac12", "1"),
    ("", "0"),
    ("x", "y"),
    (r"\text{A}", "B"),
    (r"\frac{1}{0}", r"\frac{2}{0}"),
]

# sympy is optional: with it, variable-free expressions that are the same number match
SAME_NUMBER = [
    (r"2\sqrt{2}", r"\sqrt{8}"),
    (r"\frac{\sqrt{2}}{2}", r"\frac{1}{\sqrt2}"),
    ("2^{10}", "1024"),
    (r"\sqrt[3]{8}", "2"),
    ("3", r"\sqrt{9}"),
    (r"\frac{\pi}{4}", r"\frac14\pi"),
    (r"1+\sqrt{3}", r"\sqrt{3}+1"),
    (r"(10^{100})^{10}", "10^{1000}"),
]
NOT_SAME_NUMBER = [
    ("6.283185307", r"2\pi"),  # ten digits of 2pi are not 2pi
    (r"\sqrt{2}", "1.41421356"),
    ("10^{1000}", "10^{999}"),  # huge numbers compare relatively, not as overflowed floats
    (r"\frac{1}{0}+1", r"\frac{1}{0}"),  # no number at all
    ("9^{9^{9}}", "1"),  # refused (too big to evaluate), never hangs
]


@pytest.mark.parametrize(("predicted", "reference"), EQUIVALENT)
def test_equivalent_answers_match(predicted: str, reference: str) -> None:
    assert is_equiv(predicted, reference), (
        normalize_answer(predicted),
        normalize_answer(reference),
    )
    assert is_equiv(reference, predicted)


@pytest.mark.parametrize(("predicted", "reference"), DIFFERENT + NOT_SAME_NUMBER)
def test_different_answers_do_not_match(predicted: str, reference: str) -> None:
    assert not is_equiv(predicted, reference)
    assert not is_equiv(reference, predicted)


@pytest.mark.parametrize(("predicted", "reference"), SAME_NUMBER)
def test_sympy_accepts_the_same_number(predicted: str, reference: str) -> None:
    pytest.importorskip("sympy", reason="needs assay[math]")
    assert is_equiv(predicted, reference)


def test_without_sympy_only_rationals_are_compared_as_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(math_equivalence, "_sympy", lambda: None)
    assert not is_equiv(r"2\sqrt{2}", r"\sqrt{8}")
    assert is_equiv("0.75", r"\frac{3}{4}")  # exact rationals need no sympy
    assert is_equiv(r"2\frac{1}{4}", "2.25")


def test_normalisation_canonical_forms() -> None:
    assert normalize_answer(r"\dfrac12") == r"\frac{1}{2}"
    assert normalize_answer(r"\frac{\sqrt3}2") == r"\frac{\sqrt{3}}{2}"
    assert normalize_answer("3/4") == r"\frac{3}{4}"
    assert normalize_answer(r"y = \left[ 1, 2 \right]") == "[1,2]"
    assert normalize_answer(r"\text{ Evelyn }") == "Evelyn"
    assert normalize_answer(r"x = 1, y = 2") == "x=1,y=2"  # two equations are kept whole


def test_last_boxed_reads_nested_braces_and_the_last_box() -> None:
    assert last_boxed(r"so $\boxed{\frac{\sqrt{3}}{2}}$.") == r"\frac{\sqrt{3}}{2}"
    assert last_boxed(r"first \boxed{1}, then \boxed{2}") == "2"
    assert last_boxed(r"a set $\boxed{\{1, 2\}}$") == r"\{1, 2\}"  # escaped braces are text
    assert last_boxed(r"\fbox{4} is it") == "4"
    assert last_boxed(r"$\boxed 5$") == "5"
    assert last_boxed(r"\boxed{3} but then \boxed{\frac{1") == "3"  # a cut-off box is skipped
    assert last_boxed("no box here") is None
    assert last_boxed(r"\boxedx{1}") is None  # another command, not a box


def test_extract_answer_falls_back_to_the_answer_is() -> None:
    assert extract_answer(r"Hence $x=2$, so the answer is $\frac{1}{2}$.") == r"\frac{1}{2}"
    assert extract_answer("The final answer is 3.5. I hope it is correct.") == "3.5"
    assert extract_answer(r"The answer is 3, I think, but \boxed{4}") == "4"  # a box wins
    assert extract_answer("The answer is: **42**") == "42"
    assert extract_answer("I am not sure.") is None
    assert extract_answer(r"I put it in \boxed{}.") is None  # an empty box is no answer
    assert EXTRACTORS["boxed"] is extract_answer


def test_metric_is_registered_and_scores_best_reference() -> None:
    metric = METRICS["math_equiv"]
    assert metric(r"\frac{3}{4}", ["0.7", "0.75"]) == 1.0
    assert metric("0.7", [r"\frac34"]) == 0.0
    assert metric(None, ["1"]) == 0.0
    assert metric("1", []) == 0.0
