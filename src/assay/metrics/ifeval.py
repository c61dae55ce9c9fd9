"""IFEval: verifiable instructions, checked by rules written from the paper's definitions.

Zhou et al., "Instruction-Following Evaluation for Large Language Models" (2023). Each prompt
carries one to three instructions (25 types, table 1 of the paper). An instruction is followed
*strictly* when its check passes on the response as given, and *loosely* when it passes on any
of the eight variants made by optionally removing markdown `*` emphasis, the first line and the
last line (section 2.2). Prompt-level accuracy: all of a prompt's instructions followed.
Instruction-level accuracy: the share of all instructions followed, pooled over prompts (the
per-sample value here is a prompt's share; `instruction_level` pools them for a run).

The benchmark passes the instructions as the single reference, a JSON object
`{"instructions": [{"id": "punctuation:no_comma", "kwargs": {}}, ...]}`.
Language checks use `langdetect` (`pip install 'assay[metrics]'`).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from assay.errors import UserError
from assay.metrics.metric import Metric

Check = Callable[..., bool]
CHECKS: dict[str, Check] = {}


def check(instruction_id: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        CHECKS[instruction_id] = fn
        return fn

    return register


def compare(count: int, relation: str, target: int) -> bool:
    if relation == "at least":
        return count >= target
    if relation == "less than":
        return count < target
    raise UserError(f"ifeval: unknown relation {relation!r} (use 'at least' or 'less than')")


def _language(text: str) -> str | None:
    try:
        from langdetect import DetectorFactory, detect
        from langdetect.lang_detect_exception import (
            LangDetectException,
        )
    except ImportError:
        raise UserError(
            "IFEval language checks need langdetect: pip install 'assay[metrics]'"
        ) from None
    DetectorFactory.seed = 0
    try:
        return str(detect(text))
    except LangDetectException:
        return None


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def _sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+|\n+", text.strip())
    return [p for p in parts if re.search(r"\w", p)]


# -- keywords ---------------------------------------------------------------------------------
@check("keywords:existence")
def keywords_existence(response: str, keywords: Sequence[str]) -> bool:
    return all(re.search(re.escape(k), response, re.IGNORECASE) for k in keywords)


@check("keywords:frequency")
def keywords_frequency(response: str, keyword: str, frequency: int, relation: str) -> bool:
    count = len(re.findall(re.escape(keyword), response, re.IGNORECASE))
    return compare(count, relation, frequency)


@check("keywords:forbidden_words")
def keywords_forbidden(response: str, forbidden_words: Sequence[str]) -> bool:
    return not any(
        re.search(rf"\b{re.escape(w)}\b", response, re.IGNORECASE) for w in forbidden_words
    )


@check("keywords:letter_frequency")
def letter_frequency(response: str, letter: str, let_frequency: int, let_relation: str) -> bool:
    return compare(response.lower().count(letter.lower()), let_relation, let_frequency)


# -- language ---------------------------------------------------------------------------------
@check("language:response_language")
def response_language(response: str, language: str) -> bool:
    return _language(response) == language


# -- length -----------------------------------------------------------------------------------
@check("length_constraints:number_sentences")
def number_sentences(response: str, num_sentences: int, relation: str) -> bool:
    return compare(len(_sentences(response)), relation, num_sentences)


@check("length_constraints:number_words")
def number_words(response: str, num_words: int, relation: str) -> bool:
    return compare(len(_words(response)), relation, num_words)


@check("length_constraints:number_paragraphs")
def number_paragraphs(response: str, num_paragraphs: int) -> bool:
    """Paragraphs are separated by the markdown divider ***; none may be empty."""
    parts = [p.strip() for p in re.split(r"\s?\*\*\*\s?", response)]
    if parts and not parts[0]:
        parts = parts[1:]
    if parts and not parts[-1]:
        parts = parts[:-1]
    return all(parts) and len(parts) == num_paragraphs


@check("length_constraints:nth_paragraph_first_word")
def nth_paragraph_first_word(
    response: str, num_paragraphs: int, nth_paragraph: int, first_word: str
) -> bool:
    """Paragraphs are separated by blank lines; the nth starts with `first_word`."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", response) if p.strip()]
    if len(paragraphs) != num_paragraphs or not 1 <= nth_paragraph <= len(paragraphs):
        return False
    words = paragraphs[nth_paragraph - 1].split()
    first = re.sub(r"[^\w]", "", words[0]).lower() if words else ""
    return first == first_word.lower()


# -- content ----------------------------------------------------------------------------------
@check("detectable_content:number_placeholders")
def number_placeholders(response: str, num_placeholders: int) -> bool:
    return len(re.findall(r"\[[^\[\]]*\]", response)) >= num_placeholders


@check("detectable_content:postscript")
def postscript(response: str, postscript_marker: str) -> bool:
    """A line starts with the marker, letters matched loosely ("P.S." = "p. s.")."""
    letters = [re.escape(c) for c in postscript_marker.lower() if not c.isspace()]
    pattern = r"\s?".join(letters)
    return re.search(rf"^\s*{pattern}", response.lower(), re.MULTILINE) is not None


# -- format -----------------------------------------------------------------------------------
@check("detectable_format:number_bullet_lists")
def number_bullet_lists(response: str, num_bullets: int) -> bool:
    """Exactly `num_bullets` markdown bullets ("* item" or "- item")."""
    bullets = re.findall(r"^\s*(?:\*[^*\n]|-\s).*$", response, re.MULTILINE)
    return len(bullets) == num_bullets


@check("detectable_format:constrained_response")
def constrained_response(response: str) -> bool:
    options = ("My answer is yes.", "My answer is no.", "My answer is maybe.")
    return any(option in response.strip() for option in options)


@check("detectable_format:number_highlighted_sections")
def number_highlighted_sections(response: str, num_highlights: int) -> bool:
    """At least n non-empty *highlighted* (or **bold**) spans."""
    single = [m for m in re.findall(r"(?<!\*)\*([^\n*]+)\*(?!\*)", response) if m.strip()]
    double = [m for m in re.findall(r"\*\*([^\n*]+)\*\*", response) if m.strip()]
    return len(single) + len(double) >= num_highlights


@check("detectable_format:multiple_sections")
def multiple_sections(response: str, section_spliter: str, num_sections: int) -> bool:
    """At least n sections, each starting with the splitter and its number ("SECTION 1")."""
    found = re.findall(rf"\b{re.escape(section_spliter)}\s*\d+", response)
    return len(found) >= num_sections


@check("detectable_format:json_format")
def json_format(response: str) -> bool:
    text = response.strip()
    text = re.sub(r"^```(?:json|JSON|Json)?\s*", "", text)
    text = re.sub(r"\s*```$", "", text).strip()
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@check("detectable_format:title")
def title(response: str) -> bool:
    return any(t.strip() for t in re.findall(r"<<([^\n]+?)>>", response))


# -- combination ------------------------------------------------------------------------------
@check("combination:two_responses")
def two_responses(response: str) -> bool:
    """Two different, non-empty responses separated by six asterisks."""
    parts = [p.strip() for p in response.split("******")]
    if parts and not parts[0]:
        parts = parts[1:]
    if parts and not parts[-1]:
        parts = parts[:-1]
    return len(parts) == 2 and all(parts) and parts[0] != parts[1]


@check("combination:repeat_prompt")
def repeat_prompt(response: str, prompt_to_repeat: str) -> bool:
    return response.strip().lower().startswith(prompt_to_repeat.strip().lower())


# -- start and end ----------------------------------------------------------------------------
@check("startend:end_checker")
def end_checker(response: str, end_phrase: str) -> bool:
    return response.strip().strip('"').lower().endswith(end_phrase.strip().lower())


@check("startend:quotation")
def quotation(response: str) -> bool:
    text = response.strip()
    return len(text) > 1 and text.startswith('"') and text.endswith('"')


# -- case -------------------------------------------------------------------------------------
@check("change_case:capital_word_frequency")
def capital_word_frequency(response: str, capital_frequency: int, capital_relation: str) -> bool:
    capitals = [w for w in re.findall(r"\b[^\W\d_]+\b", response) if w.isupper()]
    return compare(len(capitals), capital_relation, capital_frequency)


@check("change_case:english_capital")
def english_capital(response: str) -> bool:
    return response.isupper() and _language(response) == "en"


@check("change_case:english_lowercase")
def english_lowercase(response: str) -> bool:
    return response.islower() and _language(response) == "en"


# -- punctuation ------------------------------------------------------------------------------
@check("punctuation:no_comma")
def no_comma(response: str) -> bool:
    return "," not in response


# -- scoring ----------------------------------------------------------------------------------
def loose_variants(response: str) -> list[str]:
    """The response with every combination of: `*` removed, first line, last line dropped."""
    lines = response.split("\n")
    bases = [
        response,
        "\n".join(lines[1:]).strip(),
        "\n".join(lines[:-1]).strip(),
        "\n".join(lines[1:-1]).strip(),
    ]
    variants = []
    for base, strip_stars in itertools.product(bases, (False, True)):
        variants.append(base.replace("*", "") if strip_stars else base)
    return variants


def follows(instruction_id: str, kwargs: dict[str, Any], response: str, loose: bool) -> bool:
    fn = CHECKS.get(instruction_id)
    if fn is None:
        raise UserError(f"ifeval: no checker for instruction {instruction_id!r}")
    arguments = {k: v for k, v in kwargs.items() if v is not None}
    candidates = loose_variants(response) if loose else [response]
    return any(c.strip() and fn(c, **arguments) for c in candidates)


@lru_cache(maxsize=4096)
def _results(response: str, spec: str, loose: bool) -> tuple[bool, ...]:
    try:
        instructions = json.loads(spec)["instructions"]
    except (ValueError, KeyError, TypeError):
        raise UserError("ifeval: the reference is not an IFEval instruction list") from None
    return tuple(follows(i["id"], i.get("kwargs") or {}, response, loose) for i in instructions)


def _metric(level: str, loose: bool) -> Callable[[str | None, Sequence[str]], float]:
    def score(answer: str | None, references: Sequence[str]) -> float:
        if answer is None or not references:
            return 0.0
        results = _results(answer, references[0], loose)
        if not results:
            return 1.0
        if level == "prompt":
            return float(all(results))
        return sum(results) / len(results)

    score.__name__ = f"ifeval_{level}_{'loose' if loose else 'strict'}"
    return score


def instruction_level(
    answers: Iterable[str | None], references: Iterable[Sequence[str]], loose: bool
) -> float:
    """The paper's instruction-level accuracy for a run: followed / all instructions."""
    followed = total = 0
    for answer, refs in zip(answers, references, strict=True):
        n = len(json.loads(refs[0])["instructions"])
        total += n
        if answer is not None:
            followed += sum(_results(answer, refs[0], loose))
    return followed / total if total else float("nan")


def ifeval_run_metrics(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """The run-level hook: instruction-level accuracy pooled over all of a run's instructions
    (the paper's definition), strict and loose; the per-sample means weight prompts equally."""
    answers = [r["prediction"] for r in rows]
    references = [r["references"] for r in rows]
    return {
        "ifeval_instruction_strict_pooled": instruction_level(answers, references, loose=False),
        "ifeval_instruction_loose_pooled": instruction_level(answers, references, loose=True),
    }


IFEVAL_METRICS = {
    "ifeval_prompt_strict": _metric("prompt", False),
    "ifeval_prompt_loose": _metric("prompt", True),
    "ifeval_instruction_strict": _metric("instruction", False),
    "ifeval_instruction_loose": _metric("instruction", True),
}


# What `ifeval_run_metrics` reports.
IFEVAL_RUN_METRICS = tuple(
    Metric(f"ifeval_instruction_{mode}_pooled", aggregation="run") for mode in ("strict", "loose")
)
