from __future__ import annotations

import pytest

from assay.metrics.reference import (
    exact_match,
    f1,
    final_number_match,
    normalize_text,
    prefix_exact_match,
    quasi_exact_match,
    quasi_prefix_exact_match,
)


def test_normalize_follows_helm() -> None:
    assert normalize_text("  The Cat, an  apple & A dog! ") == "cat apple dog"
    # articles only as whole words
    assert normalize_text("Theory anthem") == "theory anthem"


def test_exact_match_strips_whitespace_only() -> None:
    assert exact_match(" Paris\n", ["Paris"]) == 1.0
    assert exact_match("paris", ["Paris"]) == 0.0
    assert exact_match(None, ["Paris"]) == 0.0


def test_quasi_exact_match() -> None:
    assert quasi_exact_match("the Paris.", ["paris"]) == 1.0
    assert quasi_exact_match("Paris, France", ["Paris"]) == 0.0
    assert quasi_exact_match("x", ["y", "X!"]) == 1.0


def test_f1_counts_repeated_tokens_as_a_bag() -> None:
    # prediction "a a b" vs gold "a b b": overlap {a:1, b:1} = 2 (articles are dropped, so use
    # other words)
    assert f1("cat cat dog", ["cat dog dog"]) == pytest.approx(2 / 3)
    assert f1("cat", ["dog"]) == 0.0
    assert f1("the cat sat", ["cat sat", "dog"]) == 1.0
    assert f1("", [""]) == 1.0


def test_final_number_match() -> None:
    assert final_number_match("1234", ["1,234"]) == 1.0
    assert final_number_match("18", ["18.0"]) == 1.0
    assert final_number_match("17", ["18"]) == 0.0
    assert final_number_match(None, ["18"]) == 0.0


# (prediction, gold, HELM's prefix_exact_match, HELM's quasi_prefix_exact_match), each worked
# out by hand from HELM's definitions: the prediction is stripped first, an empty one scores 0,
# then `pred.startswith(gold.strip())` and `normalize_text(pred).startswith(normalize_text(gold))`.
HELM_PREFIX_PAIRS = [
    ("Yes, Elmendorf", "Yes", 1, 1),  # HELM's own docstring example
    ("yes, elmendorf", "Yes", 0, 1),  # case only counts before normalising
    ("  Paris is the capital\n", " Paris", 1, 1),  # both sides stripped
    ("Par", "Paris", 0, 0),  # a prefix of the gold is not enough
    ("Yesterday", "Yes", 1, 1),  # characters, not words
    ("The Paris", "Paris", 0, 1),  # the article goes only when normalised
    ("Paris!", "paris.", 0, 1),
    ("", "", 0, 0),  # an empty prediction scores 0 even against an empty gold
    ("   ", "", 0, 0),  # empty once stripped
    ("anything", "", 1, 1),  # every text starts with the empty string
    ("!!!", "?", 0, 1),  # both normalise to ""
    ("B", "A", 0, 1),  # "A" is an article: it normalises to "", so any answer matches
    ("Boston", "New York", 0, 0),
]


@pytest.mark.parametrize(("prediction", "gold", "prefix", "quasi"), HELM_PREFIX_PAIRS)
def test_prefix_metrics_equal_helm_on_hand_checked_pairs(
    prediction: str, gold: str, prefix: int, quasi: int
) -> None:
    assert prefix_exact_match(prediction, [gold]) == prefix
    assert quasi_prefix_exact_match(prediction, [gold]) == quasi


def test_prefix_metrics_take_the_best_reference_and_score_unread_answers_zero() -> None:
    assert prefix_exact_match("New York City", ["Boston", "New York"]) == 1.0
    assert quasi_prefix_exact_match("new-york city", ["Boston", "New York"]) == 0.0
    assert quasi_prefix_exact_match("newyork city", ["Boston", "New York"]) == 0.0
    assert quasi_prefix_exact_match("new york, city", ["Boston", "New-York"]) == 0.0
    assert quasi_prefix_exact_match("new york, city", ["Boston", "New York!"]) == 1.0
    assert prefix_exact_match(None, [""]) == 0.0
    assert quasi_prefix_exact_match(None, ["x"]) == 0.0
    assert prefix_exact_match("x", []) == 0.0


def test_prefix_metrics_are_named_in_the_registry() -> None:
    from assay.metrics.registry import get_metric

    assert get_metric("prefix_exact_match") is prefix_exact_match
    assert get_metric("quasi_prefix_exact_match") is quasi_prefix_exact_match


@pytest.mark.parametrize("big", [2**53, 2**63, 10**30, -(2**60)])
def test_final_number_match_is_exact_past_float_precision(big: int) -> None:
    assert final_number_match(str(big + 1), [str(big)]) == 0.0
    assert final_number_match(f"{big:,}", [str(big)]) == 1.0
    assert final_number_match(f"{big}.00", [str(big)]) == 1.0
    assert final_number_match(f"{big}.5", [f"{big}.50"]) == 1.0
    assert final_number_match(f"{big}.5", [f"{big}.51"]) == 0.0


def test_final_number_match_decimals_and_non_numbers() -> None:
    assert final_number_match("0.1", ["0.10"]) == 1.0
    assert final_number_match("0.1", ["0.1000000000000000001"]) == 0.0
    assert final_number_match("1e3", ["1000"]) == 1.0
    assert final_number_match("nan", ["nan"]) == 0.0
    assert final_number_match("1e999999999", ["1e999999999"]) == 0.0
