"""The `Perturbation` contract, its registry, spec parsing and the word-substitution helper.

A perturbation is a named transform of input text with typed parameters. It is deterministic:
its random choices come from a generator seeded by its own configuration (seed included) and
a key naming what is perturbed (the sample id), so the same sample is perturbed the same way in
every run, in any order, on any machine.
"""

from __future__ import annotations

import dataclasses
import random
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar, get_type_hints

from assay.errors import UserError
from assay.hashing import content_hash
from assay.plugins import defined_at, same_definition


@dataclasses.dataclass(frozen=True)
class Perturbation(ABC):
    name: ClassVar[str] = ""

    @abstractmethod
    def transform(self, text: str, rng: random.Random) -> str:
        """The perturbed text; all randomness comes from `rng`."""

    def config(self) -> dict[str, Any]:
        """Name and every parameter: part of the run spec, since it changes the results."""
        return {"name": self.name, **dataclasses.asdict(self)}

    def label(self) -> str:
        """`typos(rate=0.1)`: the name and the parameters that differ from their defaults."""
        changed = [
            f"{f.name}={getattr(self, f.name)}"
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != f.default
        ]
        return f"{self.name}({','.join(changed)})" if changed else self.name

    def apply(self, text: str, key: str) -> str:
        seed = int(content_hash({"perturbation": self.config(), "key": key}, 16), 16)
        return self.transform(text, random.Random(seed))


REGISTRY: dict[str, type[Perturbation]] = {}
P = TypeVar("P", bound=type[Perturbation])


def perturbation(name: str) -> Callable[[P], P]:
    """Register a Perturbation subclass under `name`."""

    def register(cls: P) -> P:
        taken = REGISTRY.get(name)
        if taken is not None and not same_definition(taken, cls):
            raise UserError(
                f"perturbation name {name!r} is taken: {defined_at(cls)} defines it and so "
                f"does {defined_at(taken)}; rename one"
            )
        cls.name = name
        REGISTRY[name] = cls
        return cls

    return register


def parse_perturbation(text: str) -> Perturbation:
    """`typos:rate=0.05,seed=1` -> Typos(rate=0.05, seed=1); mistakes are one-line UserErrors."""
    name, _, rest = text.strip().partition(":")
    cls = REGISTRY.get(name.strip())
    if cls is None:
        raise UserError(
            f"unknown perturbation {name!r}: use one of {', '.join(sorted(REGISTRY))} "
            "(e.g. --perturb typos:rate=0.05)"
        )
    hints = get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    args: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in fields:
            valid = ", ".join(sorted(fields)) or "none"
            raise UserError(
                f"perturbation {name}: {part!r} is not one of its parameters as key=value "
                f"(its parameters: {valid})"
            )
        kind = hints[key]
        try:
            args[key] = kind(value.strip())
        except ValueError:
            raise UserError(
                f"perturbation {name}: {key}={value!r} must be {kind.__name__}"
            ) from None
    return cls(**args)


def _cased(template: str, replacement: str) -> str:
    """Give `replacement` the case pattern of the text it replaces."""
    if template.isupper() and len(template) > 1:
        return replacement.upper()
    if template[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


_APOSTROPHES = "'’"


def _key(phrase: str) -> str:
    return re.sub(r"\s+", " ", phrase.lower()).replace("’", "'")


class WordMap:
    """Replace whole words and phrases (case-insensitively, keeping the original's case)."""

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self.mapping = {_key(k): v for k, v in mapping.items()}
        alternatives = sorted(self.mapping, key=len, reverse=True)
        parts = [
            r"\s+".join(re.escape(w).replace("'", f"[{_APOSTROPHES}]") for w in k.split(" "))
            for k in alternatives
        ]
        self.pattern = re.compile(
            rf"(?<![\w{_APOSTROPHES}])(?:{'|'.join(parts)})(?![\w{_APOSTROPHES}])", re.IGNORECASE
        )

    def sub(self, text: str, keep: Callable[[], bool] = lambda: True) -> str:
        """Replace each match for which `keep()` says so."""

        def swap(match: re.Match[str]) -> str:
            found = match.group(0)
            if not keep():
                return found
            return _cased(found, self.mapping[_key(found)])

        return self.pattern.sub(swap, text)


def check_rate(name: str, field: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise UserError(f"perturbation {name}: {field} must be between 0 and 1, not {value}")
