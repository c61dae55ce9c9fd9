r"""MATH-style final answers: reading `\boxed{...}` and deciding whether two answers are equal.

Hendrycks et al., "Measuring Mathematical Problem Solving With the MATH Dataset" (NeurIPS 2021)
score a solution by the last boxed expression, compared with the reference after normalising
LaTeX that does not change the answer. This module follows that idea (as HELM and
lm-evaluation-harness do) with its own rules:

- extraction: the content of the last complete `\boxed{...}` or `\fbox{...}` (balanced braces,
  escaped `\{ \}` skipped; `\boxed 5` too); without a box, the last "answer is X";
- normalisation: drop spacing commands (`\! \, \; \:`, `\quad`), `\left`/`\right`, degrees,
  dollar and percent signs, trailing units (`\text{ cm}`, `5 inches`), `\text{}`-style
  wrappers, a trailing period, a leading `x =`, and whitespace; `\dfrac`/`\tfrac` become
  `\frac`; `\frac12`, `\sqrt2` gain braces; `a/b` becomes `\frac{a}{b}`; `.5` becomes `0.5`;
- then equal strings, or equal exact rationals (`0.5` = `\frac12` = `1/2` = `\frac{2}{4}`;
  `1,000` = `1000`; a digit before `\frac` is a mixed number, `2\frac12` = 2.5);
- then, when sympy is installed (`pip install 'assay[math]'`), equal numbers for variable-free
  expressions of numbers, `\frac`, `\sqrt`, `\pi`, `^` and `+ - * /` (`\frac{\sqrt2}{2}` =
  `\frac{1}{\sqrt{2}}`), to a relative tolerance of 1e-9.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction
from functools import cache
from typing import Any

from assay.answers import brace_group as _group
from assay.answers import extract_answer, last_boxed

_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_SPACING = re.compile(r"(?<!\\)\\[!,;:> ]|\\q?quad(?![A-Za-z])")
_LEFT_RIGHT = re.compile(r"\\(?:left|right|big|Big|bigg|Bigg)(?![A-Za-z])")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree(?![A-Za-z])")
_WRAPPERS = ("text", "textbf", "textit", "textrm", "mbox", "mathrm", "mathbf", "mathit")
_UNIT_WORDS = (
    "units?|cm|mm|km|meters?|metres?|centimeters?|kilometers?|inch(?:es)?|feet|foot|ft|"
    "yards?|miles?|degrees?|dollars?|cents?|seconds?|minutes?|hours?|days?|weeks?|months?|"
    "years?|mph|pounds?|ounces?|grams?|kilograms?|liters?|litres?|gallons?|percent|points?"
)
_TEXT_UNIT = re.compile(
    r"(?<=\S)\s*\\(?:text|mbox|mathrm)\{\s*(?:[A-Za-z]+\s*)+\}(?:\^\s*\{?\s*[23]\s*\}?)?$"
)
_WORD_UNIT = re.compile(
    rf"(?<=[\d}}])\s+(?:square\s+|cubic\s+|sq\.?\s+)?(?:{_UNIT_WORDS})(?:\^\s*\{{?[23]\}}?)?\.?$"
)
_ASSIGNMENT = re.compile(r"^\s*(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?\w+\}?)?\s*=(?!=)")
_CHOICE = re.compile(r"^\(([A-E])\)$")
_SLASH = re.compile(r"^(-?\d+)/(\d+)$")
_NUMBER = r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|[+-]?\.\d+"
_PLAIN = re.compile(rf"^(?:{_NUMBER})$")
_FRAC = re.compile(rf"^([+-]?)\\frac\{{({_NUMBER})\}}\{{({_NUMBER})\}}$")
_MIXED = re.compile(r"^([+-]?)(\d+)\\frac\{(\d+)\}\{(\d+)\}$")
_RATIO = re.compile(r"^([+-]?\d+)/([+-]?\d+)$")


__all__ = ["extract_answer", "is_equiv", "last_boxed", "math_equiv", "normalize_answer"]


def _argument(text: str, start: int) -> tuple[str, int] | None:
    r"""One macro argument at `start`: a brace group, a command (`\pi`) or a single character."""
    while start < len(text) and text[start] == " ":
        start += 1
    if start >= len(text):
        return None
    if text[start] == "{":
        return _group(text, start)
    if text[start] == "\\":
        command = re.match(r"\\[A-Za-z]+|\\.", text[start:])
        if command:
            return command.group(0), start + len(command.group(0))
    if text[start] in "}^_":
        return None
    return text[start], start + 1


def _unwrap(text: str) -> str:
    r"""`\text{abc}` (and \mbox, \mathrm, ...) become their content."""
    pattern = re.compile(rf"\\(?:{'|'.join(_WRAPPERS)})\s*(?=\{{)")
    while True:
        match = pattern.search(text)
        if match is None:
            return text
        group = _group(text, match.end())
        if group is None:
            return text[: match.start()] + text[match.end() :]
        text = text[: match.start()] + group[0] + text[group[1] :]


def _brace_macro(text: str, name: str, arity: int) -> str:
    r"""Brace every argument of `\name`: `\frac12` -> `\frac{1}{2}`, `\sqrt2` -> `\sqrt{2}`."""
    token = "\\" + name
    out: list[str] = []
    i = 0
    while (found := text.find(token, i)) >= 0:
        position = found + len(token)
        out.append(text[i:position])
        i = position
        if position < len(text) and text[position].isalpha():
            continue  # another command that starts the same way
        if name == "sqrt" and text.startswith("[", position) and "]" in text[position:]:
            close = text.index("]", position)  # \sqrt[3]{x}: keep the index as it is
            out.append(text[position : close + 1])
            position = close + 1
        for _ in range(arity):
            argument = _argument(text, position)
            if argument is None:
                break
            out.append("{" + _brace_macro(argument[0], name, arity) + "}")
            position = argument[1]
        i = position
    out.append(text[i:])
    return "".join(out)


def normalize_answer(text: str) -> str:
    """The canonical string form of a MATH answer (see the module docstring)."""
    s = text.strip()
    if _BOX.search(s):
        s = last_boxed(s) or s
    s = s.replace("\n", " ")
    s = _SPACING.sub(" ", s).replace("~", " ")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = _LEFT_RIGHT.sub("", s)
    s = _DEGREES.sub("", s)
    s = s.replace("\\$", "").replace("$", "")
    s = s.replace("\\%", "").replace("%", "")
    s = s.strip().rstrip(".").strip()
    previous = None
    while previous != s:  # "5 \text{ cm}^2", then "5 square units."
        previous = s
        s = _TEXT_UNIT.sub("", s).strip()
        s = _WORD_UNIT.sub("", s).strip().rstrip(".").strip()
    s = _unwrap(s)
    if s.count("=") == 1 and _ASSIGNMENT.match(s):
        s = s.split("=", 1)[1]
    s = re.sub(r"\\leq?(?![A-Za-z])", r"\\le ", s)
    s = re.sub(r"\\geq?(?![A-Za-z])", r"\\ge ", s)
    s = re.sub(r"\\neq?(?![A-Za-z])", r"\\ne ", s)
    s = s.replace("\\varnothing", "\\emptyset")
    s = _brace_macro(s, "frac", 2)
    s = _brace_macro(s, "sqrt", 1)
    s = "".join(s.split())
    s = s.rstrip(".")
    s = re.sub(r"(^|[{(\[,=+\-])\.(\d)", r"\g<1>0.\2", s)
    choice = _CHOICE.match(s)
    if choice:
        s = choice.group(1)
    slash = _SLASH.match(s)
    if slash:
        s = f"\\frac{{{slash.group(1)}}}{{{slash.group(2)}}}"
    return s


def _number(text: str) -> Fraction | None:
    return Fraction(text.replace(",", "")) if _PLAIN.match(text) else None


def as_fraction(normal: str) -> Fraction | None:
    """The exact rational a normalised answer denotes, if it is a plain rational number."""
    try:
        if _PLAIN.match(normal):
            return _number(normal)
        frac = _FRAC.match(normal)
        if frac:
            top, bottom = _number(frac.group(2)), _number(frac.group(3))
            if top is None or not bottom:
                return None
            value = top / bottom
            return -value if frac.group(1) == "-" else value
        mixed = _MIXED.match(normal)
        if mixed and int(mixed.group(4)):
            value = int(mixed.group(2)) + Fraction(int(mixed.group(3)), int(mixed.group(4)))
            return -value if mixed.group(1) == "-" else value
        ratio = _RATIO.match(normal)
        if ratio and int(ratio.group(2)):
            return Fraction(int(ratio.group(1)), int(ratio.group(2)))
    except (ValueError, ZeroDivisionError):
        return None
    return None


# The sympy path reads only variable-free arithmetic; anything else is left to string equality.
_SYMPY_ALLOWED = re.compile(
    r"^(?:[\d.+\-*/^(){}\[\]]|\\(?:frac|sqrt|pi|cdot|times|div)(?![A-Za-z]))+$"
)


def _to_python(normal: str) -> str | None:
    r"""Arithmetic LaTeX (numbers, \frac, \sqrt, \pi, ^) as a Python expression, or None."""
    if len(normal) > 200 or not _SYMPY_ALLOWED.match(normal):
        return None
    s = re.sub(r"(\d)(?=\\frac)", r"\1+", normal)  # mixed number: 2\frac{1}{2} = 2 + 1/2
    s = re.sub(r"\\sqrt\[([^\]]+)\]", r"\\root{\1}", s)
    for _ in range(50):
        frac, root = s.find("\\frac"), s.find("\\root")
        if frac < 0 and root < 0:
            break
        at, name = (frac, "frac") if root < 0 or 0 <= frac < root else (root, "root")
        first = _group(s, at + len(name) + 1)
        second = _group(s, first[1]) if first else None
        if first is None or second is None:
            return None
        if name == "frac":
            replacement = f"(({first[0]})/({second[0]}))"
        else:
            replacement = f"(({second[0]})**(1/({first[0]})))"
        s = s[:at] + replacement + s[second[1] :]
    else:
        return None
    s = s.replace("\\sqrt", "sqrt").replace("\\pi", "pi")
    s = s.replace("\\cdot", "*").replace("\\times", "*").replace("\\div", "/")
    s = s.replace("{", "(").replace("}", ")").replace("[", "(").replace("]", ")")
    s = s.replace("^", "**")
    s = re.sub(r"(?:(?<=[\d)])|(?<=pi))(?=\(|sqrt|pi)", "*", s)  # implicit products: 2sqrt(2), 2pi
    return re.sub(r"(?:(?<=\))|(?<=pi))(?=\d)", "*", s)


@cache
def _sympy() -> Any:
    try:
        import sympy
    except ImportError:
        return None
    return sympy


def _sympy_expression(normal: str) -> Any:
    """The exact sympy number a normalised answer denotes (decimals as rationals), or None."""
    sympy = _sympy()
    expression = _to_python(normal)
    if sympy is None or expression is None:
        return None
    from sympy.parsing.sympy_parser import (
        parse_expr,
        rationalize,
        standard_transformations,
    )

    try:
        parsed = parse_expr(
            expression,
            local_dict={"sqrt": sympy.sqrt, "pi": sympy.pi},
            transformations=(*standard_transformations, rationalize),
            evaluate=False,
        )
        for power in parsed.atoms(sympy.Pow):
            exponent = power.exp.evalf(15)
            if not exponent.is_number or abs(complex(exponent)) > 1000:
                return None  # 9^9^9 would take forever: not an answer anyway
        return parsed if parsed.is_number else None
    except Exception:  # unparsable, malformed, overflow: not a number
        return None


def _same_number(left: str, right: str) -> bool:
    """Both sides are arithmetic that sympy evaluates to the same number (to 50 digits)."""
    a, b = _sympy_expression(left), _sympy_expression(right)
    if a is None or b is None:
        return False
    sympy = _sympy()
    try:
        if not (a.evalf(30).is_finite and b.evalf(30).is_finite):
            return False  # 1/0 is no number, whatever it is compared with
        difference = sympy.Abs(a - b).evalf(60)
        scale = sympy.Max(1, sympy.Abs(a)).evalf(60)
        return bool(difference <= scale * sympy.Float("1e-45", 60))
    except Exception:  # zoo, nan, division by zero: no number to compare
        return False


def is_equiv(predicted: str | None, reference: str | None) -> bool:
    """Whether two MATH answers denote the same thing, after normalisation."""
    if predicted is None or reference is None:
        return False
    left, right = normalize_answer(predicted), normalize_answer(reference)
    if not left or not right:
        return False
    if left == right:
        return True
    left_value, right_value = as_fraction(left), as_fraction(right)
    if left_value is not None and right_value is not None:
        return left_value == right_value
    return _same_number(left, right)


def math_equiv(answer: str | None, references: Sequence[str]) -> float:
    """1 when the answer is equivalent to any reference (MATH normalisation), else 0."""
    if answer is None:
        return 0.0
    return float(any(is_equiv(answer, reference) for reference in references))
