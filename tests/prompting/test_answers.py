from __future__ import annotations

import pytest

from assay.answers import read_choice, read_final_number, read_yes_no

CHOICES = ["Paris", "Berlin", "Rome", "Madrid"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("B", 1),
        ("(B)", 1),
        ("B.", 1),
        (" b ", None),  # lower-case letters are words, not labels
        ("B) Berlin", 1),
        ("The answer is B", 1),
        ("The answer is (C).", 2),
        ("Answer: D", 3),
        ("The answer is a dog", None),  # a lower-case article is not option A
        ("ANSWER IS C", 2),
        ("**A**", 0),
        ("Berlin", 1),
        ("rome.", 2),
        ("I think it is Paris because it is the capital", None),
        ("A lesion of the nerve", None),  # an article is not a label
        ("E", None),  # not one of four options
        ("", None),
        ("The answer is A or B", None),
        ("B. Options A and C are wrong", 1),  # two answers: unparsed, never guessed
    ],
)
def test_read_choice(text: str, expected: int | None) -> None:
    assert read_choice(text, CHOICES) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("She makes 9 * 2 = 18 dollars. The answer is 18.", "18"),
        ("The answer is $1,234.", "1234"),
        ("First 3, then 4, finally 12", "12"),
        ("The answer is 18. Then 20 more words 7", "18"),
        ("x = -3.50", "-3.5"),
        ("no number here", None),
        ("The answer is 5.0", "5"),
    ],
)
def test_read_final_number(text: str, expected: str | None) -> None:
    assert read_final_number(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes", "Yes"),
        ("no.", "No"),
        ("No, the passage says otherwise", "No"),
        ("**Yes**", "Yes"),
        ("Nope", None),  # not the word itself
        ("Not really", None),
        ("I think yes", None),  # does not open with the answer: unparsed, never guessed
        ("", None),
    ],
)
def test_read_yes_no(text: str, expected: str | None) -> None:
    assert read_yes_no(text) == expected
