"""IFEval: prompts with verifiable instructions ("answer in under 100 words, no commas").

Paper: Zhou et al., "Instruction-Following Evaluation for Large Language Models" (2023).
License: Apache-2.0. Version: the 541 prompts of google-research `instruction_following_eval`.
Main metric: prompt-level strict accuracy; prompt-level loose and instruction-level strict and
loose are reported too (definitions in `assay.metrics.ifeval`). There are no reference
responses, so the oracle model has nothing to say here. Hub: `google/IFEval` (key, prompt,
instruction_id_list, kwargs). Mirror: `ifeval/input_data.jsonl` (same fields).
"""

from __future__ import annotations

import json
from typing import Any

from assay.benchmarks.base import DataContext, Loaded, Task, benchmark
from assay.benchmarks.loading import load_hub, read_jsonl, require_file
from assay.errors import UserError
from assay.metrics.ifeval import ifeval_run_metrics
from assay.prompting.formats import Generate
from assay.samples import Sample


def _sample(row: dict[str, Any]) -> Sample:
    ids = list(row["instruction_id_list"])
    kwargs = list(row["kwargs"])
    if len(ids) != len(kwargs):
        raise UserError(f"ifeval: prompt {row.get('key')} has {len(ids)} ids, {len(kwargs)} kwargs")
    spec = {
        "instructions": [
            {"id": i, "kwargs": {k: v for k, v in (kw or {}).items() if v is not None}}
            for i, kw in zip(ids, kwargs, strict=True)
        ]
    }
    return Sample(
        id=str(row["key"]),
        input=str(row["prompt"]),
        references=[json.dumps(spec, sort_keys=True)],
        metadata={"instruction_ids": ids},
        split="train",
    )


def _load(data: DataContext) -> Loaded:
    local = data.local("ifeval", "input_data.jsonl")
    rows = (
        list(read_jsonl(require_file(local, "ifeval")))
        if local is not None
        else load_hub("google/IFEval", split="train")
    )
    return Loaded([_sample(r) for r in rows])


@benchmark("ifeval", groups=("instruction following",))
def ifeval() -> Task:
    """Prompts with verifiable instructions; prompt-level strict accuracy."""
    return Task(
        load=_load,
        prompt=Generate(max_tokens=1024, extract="text", target=lambda _sample: ""),
        metrics=[
            "ifeval_prompt_strict",
            "ifeval_prompt_loose",
            "ifeval_instruction_strict",
            "ifeval_instruction_loose",
        ],
        version="1",
        run_metrics=(ifeval_run_metrics,),
    )
