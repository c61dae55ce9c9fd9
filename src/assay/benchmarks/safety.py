"""HELM's safety benchmarks, scored by a judge model (`assay run ... --judge MODEL`).

Each sends the prompt as it is (no instructions around it) and asks the judge about the
answer with the benchmark's default judge prompt (see `assay.metrics.judge` and
docs/metrics.md): the refusal judge for XSTest and SimpleSafetyTests, a HarmBench-style
classifier prompt for HarmBench, and StrongREJECT's rubric for StrongREJECT. The prompts are
harmful by design. Data is read from the mirror (`--data-dir`, laid out like shared/data);
none of them is loaded from the hub.

- XSTest (Röttger et al., NAACL 2024; CC-BY-4.0): 250 safe prompts that merely look unsafe,
  where refusing is the failure, and 200 unsafe contrast prompts, where complying is.
  Main metric `xstest_appropriate`; `refused` is the refusal rate (see it per `label`).
- HarmBench (Mazeika et al., ICML 2024; MIT): the text test split's standard and contextual
  behaviors (240; the 80 copyright behaviors need HarmBench's hashing classifier, not built).
  Main metric `harmbench_harmful` (attack success without an attack: lower is better).
- SimpleSafetyTests (Vidgen et al., 2023; CC-BY-4.0): 100 clearly harmful prompts in 5 harm
  areas. Main metric `harmful_compliance` (lower is better).
- StrongREJECT (Souly et al., 2024; MIT): 313 forbidden prompts. Main metric
  `strongreject_score` in [0, 1] (lower is better).
"""

from __future__ import annotations

from pathlib import Path

from assay.benchmarks.base import DataContext, Loaded, Task, benchmark
from assay.benchmarks.loading import read_csv, require_file
from assay.errors import UserError
from assay.prompting.formats import Generate
from assay.samples import Sample

GROUPS = ("safety",)
MAX_TOKENS = 256


def _prompt() -> Generate:
    """The prompt as the model's whole input; its full answer goes to the judge."""
    return Generate(max_tokens=MAX_TOKENS)


def _file(data: DataContext, name: str, *parts: str) -> Path:
    path = data.local(*parts)
    if path is None:
        raise UserError(
            f"{name}: its data is read from the mirror only: pass --data-dir (laid out like "
            "shared/data)"
        )
    return require_file(path, name)


def _text(value: object, name: str, index: int, column: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise UserError(f"{name}: row {index} has an empty {column}")
    return text


def _load_xstest(data: DataContext) -> Loaded:
    rows = read_csv(_file(data, "xstest", "xstest", "xstest_prompts.csv"))
    samples = []
    for i, row in enumerate(rows):
        label = str(row.get("label") or "").strip()
        if label not in ("safe", "unsafe"):
            raise UserError(f"xstest: row {i} has label {label!r}, not safe/unsafe")
        samples.append(
            Sample(
                id=f"xstest/{row['id']}",
                input=_text(row.get("prompt"), "xstest", i, "prompt"),
                metadata={
                    "label": label,
                    "type": str(row.get("type") or ""),
                    "focus": str(row.get("focus") or ""),
                },
            )
        )
    return Loaded(samples)


def _load_harmbench(data: DataContext) -> Loaded:
    path = _file(data, "harmbench", "harmbench", "harmbench_behaviors_text_test.csv")
    samples = []
    for i, row in enumerate(read_csv(path)):
        category = str(row.get("FunctionalCategory") or "").strip()
        if category == "copyright":
            continue  # scored by HarmBench's hashing classifier, which is not built
        behavior = _text(row.get("Behavior"), "harmbench", i, "Behavior")
        context = str(row.get("ContextString") or "").strip()
        samples.append(
            Sample(
                id=f"harmbench/{_text(row.get('BehaviorID'), 'harmbench', i, 'BehaviorID')}",
                input=f"{context}\n\n---\n\n{behavior}" if context else behavior,
                metadata={
                    "behavior": behavior,
                    "context": context,
                    "category": category,
                    "semantic_category": str(row.get("SemanticCategory") or ""),
                },
            )
        )
    return Loaded(samples)


def _load_sst(data: DataContext) -> Loaded:
    path = _file(
        data, "simplesafetytests", "simplesafetytests", "SimpleSafetyTests - test cases.csv"
    )
    return Loaded(
        [
            Sample(
                id=_text(row.get("id"), "simplesafetytests", i, "id"),
                input=_text(row.get("prompts_final"), "simplesafetytests", i, "prompts_final"),
                metadata={
                    "harm_area": str(row.get("harm_area") or ""),
                    "category": str(row.get("category") or ""),
                },
            )
            for i, row in enumerate(read_csv(path))
        ]
    )


def _load_strongreject(data: DataContext) -> Loaded:
    path = _file(data, "strongreject", "strongreject", "strongreject_dataset.csv")
    return Loaded(
        [
            Sample(
                id=f"strongreject/{i}",
                input=_text(row.get("forbidden_prompt"), "strongreject", i, "forbidden_prompt"),
                metadata={
                    "category": str(row.get("category") or ""),
                    "source": str(row.get("source") or ""),
                },
            )
            for i, row in enumerate(read_csv(path))
        ]
    )


@benchmark("xstest", groups=GROUPS)
def xstest() -> Task:
    """Exaggerated safety: comply with 250 safe prompts, refuse 200 unsafe ones (judged)."""
    return Task(
        load=_load_xstest,
        prompt=_prompt(),
        metrics=["xstest_appropriate", "refused"],
        version="1",
    )


@benchmark("harmbench", groups=GROUPS)
def harmbench() -> Task:
    """HarmBench's standard and contextual behaviors; share of harmful answers (judged)."""
    return Task(load=_load_harmbench, prompt=_prompt(), metrics=["harmbench_harmful"], version="1")


@benchmark("simplesafetytests", groups=GROUPS)
def simplesafetytests() -> Task:
    """100 clearly harmful prompts; share of answers that comply (judged)."""
    return Task(load=_load_sst, prompt=_prompt(), metrics=["harmful_compliance"], version="1")


@benchmark("strongreject", groups=GROUPS)
def strongreject() -> Task:
    """313 forbidden prompts; StrongREJECT's rubric score, 0 (refused) to 1 (judged)."""
    return Task(
        load=_load_strongreject, prompt=_prompt(), metrics=["strongreject_score"], version="1"
    )
