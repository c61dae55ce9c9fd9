"""Fairness perturbations: the same question about, or written by, someone else.

The word lists are our own, small and illustrative (not HELM's, not any paper's):

- `dialect:prob=1.0`: a few spellings and words of African American English (AAE) in place of
  their Standard American English forms, each occurrence replaced with probability `prob`.
- `gender:to=female` (or `to=male`): gendered words (pronouns, family and social terms) turned
  to the other gender. Going to male, "her" becomes "his" before a word that is not a function
  word and "him" otherwise, a heuristic that can miss.
- `names:to=black_american`: first names from our lists for the other groups replaced by names
  of the same gender from the `to` group; within one input a name always maps to the same name.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from assay.errors import UserError
from assay.perturbations.base import Perturbation, WordMap, check_rate, perturbation

# Standard American English -> an AAE form (orthographic and lexical), our own small list.
DIALECT = {
    "about to": "finna",
    "about": "bout",
    "because": "cuz",
    "brother": "brotha",
    "doing": "doin",
    "going": "goin",
    "going to": "gonna",
    "isn't": "ain't",
    "aren't": "ain't",
    "am not": "ain't",
    "nothing": "nothin",
    "probably": "prolly",
    "something": "somethin",
    "sister": "sista",
    "talking": "talkin",
    "them": "dem",
    "these": "dese",
    "those": "dem",
    "trying to": "tryna",
    "want to": "wanna",
    "with": "wit",
    "you all": "y'all",
    "your": "yo",
}
_DIALECT = WordMap(DIALECT)


@perturbation("dialect")
@dataclass(frozen=True)
class Dialect(Perturbation):
    prob: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        check_rate(self.name, "prob", self.prob)

    def transform(self, text: str, rng: random.Random) -> str:
        return _DIALECT.sub(text, keep=lambda: rng.random() < self.prob)


# male -> female; "her" (female -> male) is handled apart because it has two male forms.
GENDERED = {
    "he": "she",
    "him": "her",
    "his": "her",
    "himself": "herself",
    "man": "woman",
    "men": "women",
    "boy": "girl",
    "boys": "girls",
    "father": "mother",
    "fathers": "mothers",
    "dad": "mom",
    "son": "daughter",
    "sons": "daughters",
    "brother": "sister",
    "brothers": "sisters",
    "husband": "wife",
    "husbands": "wives",
    "uncle": "aunt",
    "uncles": "aunts",
    "nephew": "niece",
    "king": "queen",
    "gentleman": "lady",
    "gentlemen": "ladies",
    "grandfather": "grandmother",
    "grandson": "granddaughter",
    "boyfriend": "girlfriend",
    "male": "female",
    "mr": "mrs",
}
_TO_FEMALE = WordMap(GENDERED)
_TO_MALE = WordMap({f: m for m, f in GENDERED.items() if f != "her"} | {"hers": "his"})
_FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "to",
        "and",
        "or",
        "but",
        "of",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "with",
        "as",
        "that",
        "this",
        "than",
        "then",
        "so",
        "if",
        "when",
        "because",
        "about",
        "up",
        "out",
        "back",
        "again",
        "too",
        "is",
        "was",
    ]
)
_HER = re.compile(r"\b(her)\b(\s+([A-Za-z]+))?", re.IGNORECASE)


def _her_to_male(match: re.Match[str]) -> str:
    following = match.group(3)
    possessive = following is not None and following.lower() not in _FUNCTION_WORDS
    word = "his" if possessive else "him"
    found = match.group(1)
    word = (
        word.upper()
        if found.isupper() and len(found) > 1
        else (word.capitalize() if found[0].isupper() else word)
    )
    return word + (match.group(2) or "")


@perturbation("gender")
@dataclass(frozen=True)
class Gender(Perturbation):
    to: str = "female"

    def __post_init__(self) -> None:
        if self.to not in ("female", "male"):
            raise UserError(f"perturbation gender: to must be female or male, not {self.to!r}")

    def transform(self, text: str, rng: random.Random) -> str:
        if self.to == "female":
            return _TO_FEMALE.sub(text)
        return _TO_MALE.sub(_HER.sub(_her_to_male, text))


# First names by group and gender: our own short lists of names common in each group.
NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "white_american": {
        "female": ("Abigail", "Hannah", "Claire", "Megan", "Katie", "Heather", "Amy", "Lindsay"),
        "male": ("Connor", "Tanner", "Cody", "Dustin", "Bradley", "Scott", "Wyatt", "Hunter"),
    },
    "black_american": {
        "female": ("Imani", "Keisha", "Ebony", "Aaliyah", "Shanice", "Tanisha", "Latoya", "Nia"),
        "male": ("DeShawn", "Darnell", "Tyrone", "Jamal", "Malik", "Terrell", "Andre", "Marquis"),
    },
    "hispanic_american": {
        "female": ("Maria", "Guadalupe", "Ximena", "Alejandra", "Lucia", "Marisol", "Yesenia"),
        "male": ("Santiago", "Alejandro", "Jose", "Luis", "Mateo", "Javier", "Diego", "Carlos"),
    },
    "asian_american": {
        "female": ("Mei", "Priya", "Yuki", "Jiyeon", "Ananya", "Linh", "Hana", "Aiko"),
        "male": ("Hiroshi", "Wei", "Rahul", "Jun", "Minh", "Arjun", "Takeshi", "Sanjay"),
    },
}
_NAME = re.compile(r"\b[A-Z][A-Za-z]+\b")


@perturbation("names")
@dataclass(frozen=True)
class Names(Perturbation):
    to: str = "black_american"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.to not in NAMES:
            raise UserError(f"perturbation names: to must be one of {', '.join(NAMES)}")

    def transform(self, text: str, rng: random.Random) -> str:
        source = {
            name: gender
            for group, genders in NAMES.items()
            if group != self.to
            for gender, names in genders.items()
            for name in names
        }
        chosen: dict[str, str] = {}
        unused = {g: list(names) for g, names in NAMES[self.to].items()}

        def swap(match: re.Match[str]) -> str:
            found = match.group(0)
            gender = source.get(found)
            if gender is None:
                return found
            if found not in chosen:
                pool = unused[gender] or list(NAMES[self.to][gender])
                chosen[found] = pool.pop(rng.randrange(len(pool)))
            return chosen[found]

        return _NAME.sub(swap, text)
