"""Mean win rate as HELM defines it.

In each column (a benchmark's main metric), a model's win rate is the share of the other models
with a value in that column that it beats, a tie counting half; lower-is-better columns are
reversed. A model's mean win rate averages its win rates over the columns where it has a value
and at least one other model does too; with no such column it has none.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

Table = Mapping[str, Mapping[str, float | None]]  # model -> column -> value


def column_win_rates(
    values: Mapping[str, float | None], *, higher_is_better: bool = True
) -> dict[str, float]:
    present = {m: v for m, v in values.items() if v is not None and v == v}  # drop None/NaN
    if len(present) < 2:
        return {}
    out: dict[str, float] = {}
    for model, value in present.items():
        wins = 0.0
        for other, other_value in present.items():
            if other == model:
                continue
            if value == other_value:
                wins += 0.5
            elif (value > other_value) == higher_is_better:
                wins += 1.0
        out[model] = wins / (len(present) - 1)
    return out


def mean_win_rates(
    table: Table, *, lower_is_better: frozenset[str] | set[str] = frozenset()
) -> dict[str, float | None]:
    columns = sorted({c for row in table.values() for c in row})
    per_model: dict[str, list[float]] = {m: [] for m in table}
    for column in columns:
        rates = column_win_rates(
            {m: row.get(column) for m, row in table.items()},
            higher_is_better=column not in lower_is_better,
        )
        for model, rate in rates.items():
            per_model[model].append(rate)
    return {m: (sum(r) / len(r) if r else None) for m, r in per_model.items()}


def mean_win_rate_array(
    values: NDArray[np.float64], higher_is_better: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """`mean_win_rates` vectorised over leading axes.

    `values`: (..., models, columns) with NaN for a missing cell; `higher_is_better`: (columns,).
    Returns (..., models): each model's mean win rate, NaN where it has none.
    """
    v = np.asarray(values, dtype=np.float64)
    sign = np.where(np.asarray(higher_is_better, dtype=bool), 1.0, -1.0)
    oriented = v * sign  # higher is better in every column now
    present = ~np.isnan(oriented)
    a = oriented[..., :, None, :]  # model i
    b = oriented[..., None, :, :]  # model j
    with np.errstate(invalid="ignore"):
        score = (a > b).astype(np.float64) + 0.5 * (a == b)
    both = present[..., :, None, :] & present[..., None, :, :]
    models = v.shape[-2]
    both &= ~np.eye(models, dtype=bool)[:, :, None]
    wins = np.where(both, score, 0.0).sum(axis=-2)  # (..., models, columns)
    others = both.sum(axis=-2)
    valid = present & (others >= 1)
    rates = np.where(valid, wins / np.maximum(others, 1), 0.0)
    counts = valid.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: NDArray[np.float64] = np.where(counts > 0, rates.sum(axis=-1) / counts, np.nan)
    return out


def ranks_from_scores(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    """Competition ranks (1 = best, ties share the best rank) along the last axis; NaN is last."""
    s = np.where(np.isnan(scores), -np.inf, scores)
    better = (s[..., None, :] > s[..., :, None]).sum(axis=-1)
    ranks: NDArray[np.float64] = better.astype(np.float64) + 1.0
    return ranks
