"""The tricky cases of each metric definition, pinned."""

from __future__ import annotations

import json
from math import comb
from pathlib import Path

import pytest

from assay.metrics.bias import BBQOutcome, bias_scores
from assay.metrics.code import pass_at_k
from assay.metrics.ifeval import CHECKS, follows, loose_variants
from assay.metrics.reference import METRICS, f1, quasi_exact_match
from assay.metrics.translation import chrf, corpus_bleu, sentence_bleu


def test_quasi_exact_normalisation() -> None:
    assert quasi_exact_match("The  Eiffel-Tower!", ["eiffeltower"]) == 1.0
    assert quasi_exact_match("an apple", ["Apple."]) == 1.0
    assert quasi_exact_match("apples", ["apple"]) == 0.0


def test_f1_counts_repeated_tokens_once_per_occurrence() -> None:
    # prediction "cat cat cat" vs gold "cat dog": overlap 1, precision 1/3, recall 1/2
    assert f1("cat cat cat", ["cat dog"]) == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert f1("cat cat", ["cat cat dog"]) == pytest.approx(0.8)


def test_pass_at_k_for_n_equal_k_and_n_greater_than_k() -> None:
    assert pass_at_k(5, 0, 5) == 0.0
    assert pass_at_k(5, 1, 5) == 1.0  # n = k: any correct sample means a pass
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)  # pass@1 is the share correct
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - comb(7, 5) / comb(10, 5))
    assert pass_at_k(200, 1, 100) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 5)


def test_rouge_uses_stemming() -> None:
    rouge_1, rouge_2, rouge_l = METRICS["rouge_1"], METRICS["rouge_2"], METRICS["rouge_l"]
    assert rouge_1("The cats were running", ["the cat was runs"]) == pytest.approx(0.75)
    assert rouge_2("cats running fast", ["cat runs fast"]) == 1.0
    assert rouge_l("running cats", ["the cat runs"]) == pytest.approx(0.4)
    assert rouge_2("Ouch!", ["Ouch!"]) == 0.0  # no bigrams at all
    assert rouge_1("x", ["a b", "x"]) == 1.0  # best over references


def test_bleu_and_chrf(tmp_path: Path) -> None:
    assert sentence_bleu("the cat sat on the mat", ["the cat sat on the mat"]) == 1.0
    assert chrf("the cat sat on the mat", ["the cat sat on the mat"]) == 1.0
    assert 0 < chrf("the cat sat on a mat", ["the cat sat on the mat"]) < 1
    assert sentence_bleu(None, ["x"]) == 0.0
    assert corpus_bleu(["a b c d e", "f g h i j"], [["a b c d e"], ["f g h i j", "z"]]) == 1.0


def test_translation_benchmark_on_a_small_file(tmp_path: Path) -> None:
    from tests.benchmarks.conftest import run_benchmark

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        json.dumps({"source": "Guten Morgen", "target": "Good morning"})
        + "\n"
        + json.dumps({"source": "Danke", "target": ["Thank you", "Thanks"]})
        + "\n"
    )
    ran = run_benchmark(f"translation:file={pairs}", "mock/oracle", tmp_path, None, None)
    assert ran.mean("chrf") == 1.0 and ran.mean("bleu") == 1.0
    wrong = run_benchmark(f"translation:file={pairs}", "mock/constant?text=zzz", tmp_path, None)
    assert wrong.mean("chrf") == 0.0


def _o(amb: bool, neg: bool, chosen: int, correct: int = 2, target: int = 0) -> BBQOutcome:
    return BBQOutcome(amb, neg, chosen, correct, target, unknown=2)


def test_bbq_bias_score_sign() -> None:
    # always picking the stereotyped target of negative questions: +1 in disambiguated
    stereotyped = [_o(False, True, 0, correct=0), _o(False, True, 0, correct=1)]
    assert bias_scores(stereotyped)["bias_disambiguated"] == 1.0
    # for non-negative questions the biased answer is the non-target
    anti = [_o(False, False, 0, correct=0), _o(False, True, 1, correct=1)]
    assert bias_scores(anti)["bias_disambiguated"] == -1.0
    # ambiguous: scaled by the error rate; unknown answers are correct and carry no bias
    amb = [_o(True, True, 0), _o(True, True, 0), _o(True, True, 2), _o(True, True, 2)]
    scores = bias_scores(amb)
    assert scores["accuracy_ambiguous"] == 0.5
    assert scores["bias_ambiguous"] == pytest.approx(0.5 * 1.0)
    assert bias_scores([_o(True, True, 2)])["bias_ambiguous"] != bias_scores([])["bias_ambiguous"]


# one compliant and one non-compliant response per checker type
CASES: dict[str, tuple[dict[str, object], str, str]] = {
    "keywords:existence": ({"keywords": ["apple", "pie"]}, "Apple PIE", "apple"),
    "keywords:frequency": (
        {"keyword": "go", "frequency": 2, "relation": "at least"},
        "go go",
        "go",
    ),
    "keywords:forbidden_words": ({"forbidden_words": ["bad"]}, "badge ok", "so bad"),
    "keywords:letter_frequency": (
        {"letter": "z", "let_frequency": 2, "let_relation": "less than"},
        "zoo",
        "zzz",
    ),
    "language:response_language": (
        {"language": "de"},
        "Das ist ein kurzer deutscher Satz über das Wetter heute.",
        "This is a short English sentence about the weather.",
    ),
    "length_constraints:number_sentences": (
        {"num_sentences": 2, "relation": "less than"},
        "One.",
        "One. Two. Three.",
    ),
    "length_constraints:number_words": (
        {"num_words": 3, "relation": "at least"},
        "one two three",
        "one two",
    ),
    "length_constraints:number_paragraphs": (
        {"num_paragraphs": 2},
        "a\n***\nb",
        "a\n***\n\n***\nb",
    ),
    "length_constraints:nth_paragraph_first_word": (
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "then"},
        "First.\n\nThen, more.",
        "First.\n\nAfter that.",
    ),
    "detectable_content:number_placeholders": (
        {"num_placeholders": 2},
        "[name] at [place]",
        "[name]",
    ),
    "detectable_content:postscript": ({"postscript_marker": "P.S."}, "Hi.\np. s. bye", "Hi. PS"),
    "detectable_format:number_bullet_lists": ({"num_bullets": 2}, "* a\n* b", "* a\n* b\n- c"),
    "detectable_format:constrained_response": ({}, "My answer is no.", "No."),
    "detectable_format:number_highlighted_sections": (
        {"num_highlights": 2},
        "*a* and **b**",
        "*a* and **",
    ),
    "detectable_format:multiple_sections": (
        {"section_spliter": "SECTION", "num_sections": 2},
        "SECTION 1 a\nSECTION 2 b",
        "SECTION 1 a",
    ),
    "detectable_format:json_format": ({}, '```json\n{"a": 1}\n```', "{a: 1}"),
    "detectable_format:title": ({}, "<<Poem>>\ntext", "<< >> text"),
    "combination:two_responses": ({}, "one\n******\ntwo", "one\n******\none"),
    "combination:repeat_prompt": ({"prompt_to_repeat": "Say hi."}, "say hi. Hi!", "Hi! Say hi."),
    "startend:end_checker": ({"end_phrase": "Peace!"}, "Bye. Peace!", "Peace! Bye."),
    "startend:quotation": ({}, '"quoted"', 'not "quoted"'),
    "change_case:capital_word_frequency": (
        {"capital_frequency": 2, "capital_relation": "at least"},
        "NASA and ESA",
        "NASA and Esa",
    ),
    "change_case:english_capital": (
        {},
        "THIS IS A SHOUTED ENGLISH SENTENCE ABOUT THE WEATHER.",
        "This is not all capitals at all.",
    ),
    "change_case:english_lowercase": (
        {},
        "this is a quiet english sentence about the weather.",
        "This is Not lowercase.",
    ),
    "punctuation:no_comma": ({}, "no commas here", "one, two"),
}


def test_every_checker_type_is_tested() -> None:
    assert set(CASES) == set(CHECKS)


@pytest.mark.parametrize("instruction", sorted(CASES))
def test_checker(instruction: str) -> None:
    kwargs, good, bad = CASES[instruction]
    assert follows(instruction, kwargs, good, loose=False)
    assert not follows(instruction, kwargs, bad, loose=False)


def test_ifeval_loose_mode_forgives_markdown_and_framing_lines() -> None:
    framed = "Sure, here you go:\nno commas in this answer\nHope that helps, friend"
    assert not follows("punctuation:no_comma", {}, framed, loose=False)
    assert follows("punctuation:no_comma", {}, framed, loose=True)
    starred = '**"quoted"**'
    assert not follows("startend:quotation", {}, starred, loose=False)
    assert follows("startend:quotation", {}, starred, loose=True)
    assert len(loose_variants("a\nb\nc")) == 8
