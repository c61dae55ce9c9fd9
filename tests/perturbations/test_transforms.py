"""Each perturbation's behaviour, its determinism under seeds, and spec parsing."""

from __future__ import annotations

import re

import pytest

from assay.errors import UserError
from assay.perturbations import (
    REGISTRY,
    Contractions,
    Dialect,
    Expansions,
    ExtraWhitespace,
    Gender,
    Lowercase,
    Names,
    Typos,
    parse_perturbation,
)
from assay.perturbations.fairness import NAMES
from assay.perturbations.robustness import NEIGHBOURS

TEXT = (
    "The quick brown fox does not jump over the lazy dog; it is tired because Hannah "
    "and Connor were talking about something with their brother all afternoon."
)


def test_same_seed_and_key_give_the_same_text_others_differ() -> None:
    for p in (Typos(rate=0.2), ExtraWhitespace(), Dialect(prob=0.5), Names()):
        assert p.apply(TEXT, "s1") == p.apply(TEXT, "s1")
    typos = Typos(rate=0.2)
    assert typos.apply(TEXT, "s1") != typos.apply(TEXT, "s2")
    assert typos.apply(TEXT, "s1") != Typos(rate=0.2, seed=1).apply(TEXT, "s1")
    assert typos.apply(TEXT, "s1") != TEXT


def test_typos_replace_letters_with_keyboard_neighbours_at_the_rate() -> None:
    assert Typos(rate=0.0).apply(TEXT, "k") == TEXT
    every = Typos(rate=1.0).apply(TEXT, "k")
    assert len(every) == len(TEXT)
    for before, after in zip(TEXT, every, strict=True):
        if before.isalpha():
            assert after.lower() in NEIGHBOURS[before.lower()]
            assert after.isupper() == before.isupper()
        else:
            assert after == before
    long_text = "abcdefghijklmnopqrstuvwxyz" * 400
    changed = sum(
        a != b for a, b in zip(long_text, Typos(rate=0.1).apply(long_text, "k"), strict=True)
    )
    assert 0.08 * len(long_text) < changed < 0.12 * len(long_text)
    assert NEIGHBOURS["a"] == "sqwz" and set(NEIGHBOURS["g"]) == set("fhtybv")


def test_lowercase() -> None:
    assert Lowercase().apply("Who Wrote HAMLET?", "k") == "who wrote hamlet?"


def test_contractions_and_expansions_keep_case_and_read_both_ways() -> None:
    text = "Do not go; it is late, I am sure we will not. DO NOT cannot"
    contracted = Contractions().apply(text, "k")
    assert contracted == "Don't go; it's late, I'm sure we won't. DON'T can't"
    assert (
        Expansions().apply(contracted, "k")
        == "Do not go; it is late, I am sure we will not. DO NOT cannot"
    )
    assert Expansions().apply("She doesn’t know", "k") == "She does not know"
    # whole words only: "donate" holds "do no" and "isnotable" holds "is not"
    assert Contractions().apply("donate isnotable", "k") == "donate isnotable"


def test_extra_whitespace_only_widens_spaces() -> None:
    out = ExtraWhitespace(max_extra=2).apply(TEXT, "k")
    assert re.sub(" +", " ", out) == TEXT
    runs = [len(m) for m in re.findall(" +", out)]
    assert max(runs) <= 3 and max(runs) > 1
    with pytest.raises(UserError):
        ExtraWhitespace(max_extra=0)


def test_dialect_maps_words_and_phrases_at_the_probability() -> None:
    text = "I am going to talk about your brother because you all want to know something."
    assert (
        Dialect().apply(text, "k")
        == "I am gonna talk bout yo brotha cuz y'all wanna know somethin."
    )
    assert Dialect(prob=0.0).apply(text, "k") == text
    assert Dialect().apply("With Them", "k") == "Wit Dem"


def test_gender_swaps_terms_both_ways() -> None:
    text = "He told his wife that the king saw him with his brother."
    assert Gender().apply(text, "k") == "She told her wife that the queen saw her with her sister."
    female = "She gave her book to her. Her mother thanked her and the girls."
    assert Gender(to="male").apply(female, "k") == (
        "He gave his book to him. His father thanked him and the boys."
    )
    with pytest.raises(UserError):
        Gender(to="other")


def test_names_swap_to_the_target_group_keeping_gender_and_consistency() -> None:
    text = "Hannah met Connor. Later Hannah called Maria, and Keisha stayed home."
    out = Names(to="asian_american").apply(text, "k")
    words = re.findall(r"[A-Z][A-Za-z]+", out)
    first, second, later, third, fourth = words[0], words[1], words[3], words[4], words[5]
    female, male = NAMES["asian_american"]["female"], NAMES["asian_american"]["male"]
    assert first in female and second in male and third in female and fourth in female
    assert later == first  # the same person keeps one new name
    assert len({first, third, fourth}) == 3  # different people get different names
    assert words[2] == "Later"  # not a listed name: unchanged
    # names already in the target group stay
    assert Names(to="white_american").apply("Hannah and Connor", "k") == "Hannah and Connor"


def test_parse_specs_and_reject_mistakes_in_one_line() -> None:
    assert parse_perturbation("typos:rate=0.1,seed=3") == Typos(rate=0.1, seed=3)
    assert parse_perturbation("lowercase") == Lowercase()
    assert parse_perturbation("gender:to=male") == Gender(to="male")
    assert Typos(rate=0.1).config() == {"name": "typos", "rate": 0.1, "seed": 0}
    assert Typos(rate=0.1).label() == "typos(rate=0.1)" and Lowercase().label() == "lowercase"
    assert set(REGISTRY) == {
        "typos",
        "lowercase",
        "contractions",
        "expansions",
        "whitespace",
        "dialect",
        "gender",
        "names",
    }
    for bad, says in [
        ("tyops", "unknown perturbation"),
        ("typos:speed=2", "not one of its parameters"),
        ("typos:rate", "not one of its parameters"),
        ("typos:rate=lots", "must be float"),
        ("typos:rate=1.5", "between 0 and 1"),
        ("names:to=martians", "to must be one of"),
    ]:
        with pytest.raises(UserError, match=says):
            parse_perturbation(bad)
