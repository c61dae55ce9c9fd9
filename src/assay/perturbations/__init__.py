"""Robustness and fairness perturbations of inputs, and running a task with them.

    from assay.perturbations import Lowercase, Typos, perturb
    task = perturb(resolve_task("mmlu"), [Typos(rate=0.05), Lowercase()])

or on the command line `assay run mmlu --perturb typos:rate=0.05 --perturb lowercase`.
"""

from __future__ import annotations

from assay.perturbations.base import REGISTRY, Perturbation, parse_perturbation
from assay.perturbations.fairness import Dialect, Gender, Names
from assay.perturbations.format import Perturbed, perturb, perturbed_sample
from assay.perturbations.robustness import (
    Contractions,
    Expansions,
    ExtraWhitespace,
    Lowercase,
    Typos,
)

__all__ = [
    "REGISTRY",
    "Contractions",
    "Dialect",
    "Expansions",
    "ExtraWhitespace",
    "Gender",
    "Lowercase",
    "Names",
    "Perturbation",
    "Perturbed",
    "Typos",
    "parse_perturbation",
    "perturb",
    "perturbed_sample",
]
