"""Mean win rate pinned to HELM's definition on small hand-made tables."""

from __future__ import annotations

import numpy as np
import pytest

from assay.analysis.winrate import mean_win_rate_array, mean_win_rates, ranks_from_scores


def test_ties_count_half() -> None:
    table = {"a": {"x": 0.5}, "b": {"x": 0.5}, "c": {"x": 0.1}}
    assert mean_win_rates(table) == {"a": 0.75, "b": 0.75, "c": 0.0}


def test_missing_cells_are_skipped_not_counted_as_losses() -> None:
    table = {
        "a": {"x": 0.9, "y": 0.2},
        "b": {"x": 0.5, "y": None},
        "c": {"x": 0.1, "y": 0.4},
    }
    # a: x beats b,c -> 1.0; y loses to c -> 0.0  => 0.5
    # b: x beats c -> 0.5; y missing, skipped    => 0.5
    # c: x -> 0.0; y beats a -> 1.0              => 0.5
    assert mean_win_rates(table) == {"a": 0.5, "b": 0.5, "c": 0.5}


def test_column_with_a_single_value_counts_for_nobody() -> None:
    table = {"a": {"x": 1.0, "y": 0.3}, "b": {"x": 0.0, "y": None}}
    assert mean_win_rates(table) == {"a": 1.0, "b": 0.0}
    assert mean_win_rates({"a": {"y": 1.0}, "b": {"y": None}}) == {"a": None, "b": None}


def test_lower_is_better_columns_are_reversed() -> None:
    table = {"a": {"err": 0.1, "acc": 0.2}, "b": {"err": 0.3, "acc": 0.9}}
    assert mean_win_rates(table, lower_is_better={"err"}) == {"a": 0.5, "b": 0.5}
    assert mean_win_rates(table) == {"a": 0.0, "b": 1.0}


def test_vectorised_version_agrees_with_the_reference_on_random_tables() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        values = np.round(rng.random((6, 5)), 1)  # rounding makes ties common
        values[rng.random((6, 5)) < 0.25] = np.nan
        hib = rng.random(5) < 0.6
        table = {
            f"m{i}": {
                f"c{j}": (None if np.isnan(values[i, j]) else float(values[i, j])) for j in range(5)
            }
            for i in range(6)
        }
        ref = mean_win_rates(table, lower_is_better={f"c{j}" for j in range(5) if not hib[j]})
        got = mean_win_rate_array(values, hib)
        for i in range(6):
            expected = ref[f"m{i}"]
            if expected is None:
                assert np.isnan(got[i])
            else:
                assert got[i] == pytest.approx(expected)
    batch = rng.random((3, 4, 2))
    stacked = mean_win_rate_array(batch, np.array([True, False]))
    for k in range(3):
        assert stacked[k] == pytest.approx(mean_win_rate_array(batch[k], np.array([True, False])))


def test_ranks_share_ties_and_put_missing_last() -> None:
    got = ranks_from_scores(np.array([0.5, 0.9, 0.5, np.nan]))
    assert got.tolist() == [2.0, 1.0, 2.0, 4.0]
