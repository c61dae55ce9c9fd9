"""What a metric is: a named, typed object that knows which way is better and what values it
takes, so nothing downstream guesses (the runner's worst case over perturbations, the
leaderboard's ranking, the analysis's choice of confidence interval).

A per-sample metric scores one answer against the references (`aggregation="mean"`: the run's
figure is the mean over samples). A run-level metric is computed from all of a run's rows by a
run-level hook (`aggregation="run"`: corpus BLEU, BBQ's bias scores, ECE); its object describes
the number, the hook computes it. A judged metric needs model calls (`JudgedMetric`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal, Protocol, runtime_checkable

from assay.requests import Request, Response
from assay.samples import Sample

ScoreFn = Callable[[str | None, Sequence[str]], float]
ExplainFn = Callable[[str | None, Sequence[str]], dict[str, Any]]
Aggregation = Literal["mean", "run"]


class Direction(Enum):
    """Which way is better."""

    HIGHER = "higher"
    LOWER = "lower"
    ZERO = "zero"  # closer to 0 is better, either sign (a signed bias score)
    NONE = "none"  # descriptive, not a score (a count, a mean confidence)


class Values(Enum):
    """The values a metric may take; `BINARY` ones get a binomial (Wilson) interval."""

    BINARY = "binary"  # 0 or 1 per sample
    UNIT = "unit"  # anywhere in [0, 1]
    SIGNED_UNIT = "signed_unit"  # anywhere in [-1, 1]
    COUNT = "count"  # a non-negative whole number
    UNBOUNDED = "unbounded"

    def allows(self, value: float) -> bool:
        if math.isnan(value):
            return True  # "no value" (nothing to score) is allowed for every metric
        if self is Values.BINARY:
            return value in (0.0, 1.0)
        if self is Values.UNIT:
            return 0.0 <= value <= 1.0
        if self is Values.SIGNED_UNIT:
            return -1.0 <= value <= 1.0
        if self is Values.COUNT:
            return value >= 0 and float(value).is_integer()
        return True


@dataclass(frozen=True)
class Metric:
    """A metric: call it like its score function, `metric(answer, references) -> float`."""

    name: str
    direction: Direction = Direction.HIGHER
    values: Values = Values.UNIT
    aggregation: Aggregation = "mean"
    fn: ScoreFn | None = None  # None for a run-level metric (its hook computes it)
    # per answer, what the metric saw (pass@k: each program's sandbox result), stored in the
    # sample's metadata
    explain: ExplainFn | None = None
    needs: str | None = None  # the optional module it imports on first use (assay[metrics])
    description: str = ""

    def __post_init__(self) -> None:
        if (self.fn is None) != (self.aggregation == "run"):
            raise ValueError(
                f"metric {self.name!r}: a per-sample metric has a score function, "
                "a run-level one has none"
            )

    def __call__(self, answer: str | None, references: Sequence[str]) -> float:
        if self.fn is None:
            raise TypeError(f"{self.name} is a run-level metric: its run hook computes it")
        return self.fn(answer, references)

    @property
    def binary(self) -> bool:
        """Whether every per-sample value is 0 or 1 (a proportion: Wilson interval)."""
        return self.values is Values.BINARY

    @property
    def higher_is_better(self) -> bool | None:
        """True or False, or None when neither (closer to zero, or not a score)."""
        if self.direction is Direction.HIGHER:
            return True
        if self.direction is Direction.LOWER:
            return False
        return None

    @property
    def judged(self) -> bool:
        """Whether it needs model calls; only `JudgedMetric`s do."""
        return False

    def worst(self, values: Sequence[float]) -> float:
        """The worst of several values of this metric (an answer and its perturbed variants)."""
        if self.direction is Direction.LOWER:
            return max(values)
        if self.direction is Direction.ZERO:
            return max(values, key=abs)
        return min(values)


def metric(
    name: str,
    *,
    direction: Direction | Literal["higher", "lower", "zero"] = Direction.HIGHER,
    values: Values | Literal["binary", "unit", "signed_unit", "count", "unbounded"] = Values.UNIT,
    needs: str | None = None,
    description: str = "",
    register: bool = True,
) -> Callable[[ScoreFn], Metric]:
    """Declare a per-sample metric from its score function and register it under `name`, so
    benchmarks (Python or YAML) can name it::

        @metric("contains_answer", values="binary")
        def contains_answer(answer: str | None, references: Sequence[str]) -> float: ...
    """

    def declare(fn: ScoreFn) -> Metric:
        declared = Metric(
            name=name,
            direction=Direction(direction),
            values=Values(values),
            fn=fn,
            explain=getattr(fn, "explain", None),
            needs=needs,
            description=description or (fn.__doc__ or "").strip().split("\n")[0],
        )
        if not register:
            return declared
        from assay.metrics.registry import register as add  # the registry imports this module

        return add(declared)

    return declare


@dataclass(frozen=True)
class Unparsed:
    """A judge's verdict that could not be read, or a judge call that failed: recorded and
    counted, never scored (never averaged in as 0)."""

    reason: str


@runtime_checkable
class JudgedMetric(Protocol):
    """A metric scored by model calls (LLM-as-judge), in two steps: the requests to send for an
    answer, then a score from the judge's responses. `assay.metrics.judge.JudgeMetric` is the
    built-in kind; the runner sends the requests through the `--judge` model's executor."""

    name: str
    direction: Direction
    values: Values

    @property
    def judged(self) -> bool: ...

    def requests(self, sample: Sample, response: Response) -> list[Request]: ...

    def score(
        self, sample: Sample, response: Response, judge_responses: Sequence[Response]
    ) -> float | Unparsed: ...
