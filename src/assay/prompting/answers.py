"""Reading answers out of model output, without guessing.

`read_choice` accepts the usual ways of naming an option ("B", "(B)", "B.", "B) text",
"The answer is B", "Answer: (B)", or the option's exact text) and returns None for anything
else, so an unreadable answer is counted as unparsed rather than silently mapped to a letter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

_ANSWER_IS = re.compile(
    r"(?i:answer|option|choice)\s*(?i:is|:)?\s*(?i:option\s*)?[:\s]*\(?\s*([A-Z])\s*\)?(?![A-Za-z])"
)
_BARE = re.compile(r"^\(?\s*([A-Z])\s*\)?\s*[.:)]?$")
_LEADING = re.compile(r"^\(?([A-Z])(?:\)|\.|:|\s*\)|,)(?:\s|$)")
_HEDGE = re.compile(r"\(?\b([A-Z])\b\)?\s*(?:or|and|/|,)\s*\(?\b([A-Z])\b\)?")
_NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?")
_MAX_DIGITS = 1_000
_ANSWER_NUMBER = re.compile(r"answer\s*(?:is|:)\s*\**\s*(-?\$?\d[\d,]*(?:\.\d+)?)", re.IGNORECASE)


def letters(n: int) -> list[str]:
    return [chr(ord("A") + i) for i in range(n)]


def read_choice(text: str, choices: Sequence[str]) -> int | None:
    """Index of the option the text names, or None when it names none unambiguously."""
    labels = letters(len(choices))
    stripped = text.strip().strip("*").strip()
    if not stripped:
        return None
    first_line = stripped.splitlines()[0].strip().strip("*").strip()
    for pattern, candidate in ((_BARE, first_line), (_LEADING, first_line)):
        match = pattern.match(candidate)
        if match and match.group(1) in labels:
            return labels.index(match.group(1))
    for hedge in _HEDGE.finditer(stripped):
        if hedge.group(1) in labels and hedge.group(2) in labels:
            return None  # "A or B" names two options: unparsed, never guessed
    stated = {m.group(1) for m in _ANSWER_IS.finditer(stripped)}
    stated &= set(labels)
    if len(stated) == 1:
        return labels.index(stated.pop())
    lowered = stripped.lower().rstrip(".")
    matches = [i for i, c in enumerate(choices) if c.strip().lower().rstrip(".") == lowered]
    if len(matches) == 1:
        return matches[0]
    return None


def read_final_number(text: str) -> str | None:
    """The answer's number: the one after "answer is", else the last number in the text."""
    stated = _ANSWER_NUMBER.findall(text)
    candidates = stated or _NUMBER.findall(text)
    if not candidates:
        return None
    return normalize_number(candidates[-1])


def normalize_number(text: str) -> str | None:
    """A canonical string for the number in `text` ("1,000.0" -> "1000", "0.50" -> "0.5").

    Decimal, not float: integers past 2**53 keep every digit, so neighbours stay different.
    """
    cleaned = text.replace(",", "").replace("$", "").strip().rstrip(".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    if abs(value.adjusted()) > _MAX_DIGITS:
        return None  # not an answer anyone writes out
    if value == value.to_integral_value():
        return str(int(value))
    return format(value, "f").rstrip("0")


_YES_NO = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)


def read_yes_no(text: str) -> str | None:
    """ "Yes" or "No" when the answer opens with that word ("No, because ..."), else None."""
    match = _YES_NO.match(text.strip())
    return None if match is None else match.group(1).capitalize()
