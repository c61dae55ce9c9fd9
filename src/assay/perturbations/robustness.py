"""Robustness perturbations: the same question written differently, its meaning unchanged.

- `typos:rate=0.05`: each ASCII letter, with probability `rate`, becomes a neighbouring key on a
  QWERTY keyboard (case kept).
- `lowercase`: the whole input in lower case.
- `contractions` / `expansions`: "do not" <-> "don't" and similar, from one table (ours).
- `whitespace:max_extra=2`: each space becomes 1 to 1 + `max_extra` spaces.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from assay.errors import UserError
from assay.perturbations.base import Perturbation, WordMap, check_rate, perturbation

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _keyboard_neighbours() -> dict[str, str]:
    """Keys touching each letter on a staggered QWERTY layout (same row, and the row above at
    the same and next column, the row below at the previous and same column)."""
    out: dict[str, str] = {}
    for r, row in enumerate(_ROWS):
        for c, key in enumerate(row):
            near = [(r, c - 1), (r, c + 1), (r - 1, c), (r - 1, c + 1), (r + 1, c - 1), (r + 1, c)]
            out[key] = "".join(
                _ROWS[i][j] for i, j in near if 0 <= i < len(_ROWS) and 0 <= j < len(_ROWS[i])
            )
    return out


NEIGHBOURS = _keyboard_neighbours()


@perturbation("typos")
@dataclass(frozen=True)
class Typos(Perturbation):
    rate: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        check_rate(self.name, "rate", self.rate)

    def transform(self, text: str, rng: random.Random) -> str:
        chars = list(text)
        for i, char in enumerate(chars):
            near = NEIGHBOURS.get(char.lower())
            if near and rng.random() < self.rate:
                typo = rng.choice(near)
                chars[i] = typo.upper() if char.isupper() else typo
        return "".join(chars)


@perturbation("lowercase")
@dataclass(frozen=True)
class Lowercase(Perturbation):
    def transform(self, text: str, rng: random.Random) -> str:
        return text.lower()


# Expanded form -> contraction. Each contraction has one expansion here, so the table reads
# both ways ("it's" expands to "it is", never "it has").
CONTRACTIONS = {
    "are not": "aren't",
    "cannot": "can't",
    "could not": "couldn't",
    "did not": "didn't",
    "does not": "doesn't",
    "do not": "don't",
    "had not": "hadn't",
    "has not": "hasn't",
    "have not": "haven't",
    "he is": "he's",
    "I am": "I'm",
    "I have": "I've",
    "I will": "I'll",
    "is not": "isn't",
    "it is": "it's",
    "let us": "let's",
    "must not": "mustn't",
    "she is": "she's",
    "should not": "shouldn't",
    "that is": "that's",
    "there is": "there's",
    "they are": "they're",
    "they have": "they've",
    "they will": "they'll",
    "was not": "wasn't",
    "we are": "we're",
    "we have": "we've",
    "we will": "we'll",
    "were not": "weren't",
    "what is": "what's",
    "who is": "who's",
    "will not": "won't",
    "would not": "wouldn't",
    "you are": "you're",
    "you have": "you've",
    "you will": "you'll",
}
# Negations first, so "we will not" becomes "we won't", not "we'll not".
_CONTRACT_NOT = WordMap({k: v for k, v in CONTRACTIONS.items() if v.endswith("n't")})
_CONTRACT = WordMap({k: v for k, v in CONTRACTIONS.items() if not v.endswith("n't")})
_EXPAND = WordMap({short: long for long, short in CONTRACTIONS.items()})


@perturbation("contractions")
@dataclass(frozen=True)
class Contractions(Perturbation):
    def transform(self, text: str, rng: random.Random) -> str:
        return _CONTRACT.sub(_CONTRACT_NOT.sub(text))


@perturbation("expansions")
@dataclass(frozen=True)
class Expansions(Perturbation):
    def transform(self, text: str, rng: random.Random) -> str:
        return _EXPAND.sub(text)


@perturbation("whitespace")
@dataclass(frozen=True)
class ExtraWhitespace(Perturbation):
    max_extra: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_extra < 1:
            raise UserError(
                f"perturbation whitespace: max_extra must be at least 1, not {self.max_extra}"
            )

    def transform(self, text: str, rng: random.Random) -> str:
        return re.sub(" ", lambda _m: " " * rng.randint(1, 1 + self.max_extra), text)
