"""Translation of data the user supplies, scored with BLEU and chrF through sacrebleu.

Metrics: Papineni et al., "BLEU" (ACL 2002) and Popović, "chrF" (WMT 2015), as sacrebleu
computes them (Post, WMT 2018). Main metric: chrF (sentence level, robust on single sentences);
sentence BLEU is reported too, and corpus BLEU/chrF come from the run-level hook.
Data: `translation:file=pairs.jsonl` with one object per line: `source`, `target` (a string or
a list of references), optional `id`; `source_lang` and `target_lang` name the languages in the
prompt. License and version: the user's data. WMT from the hub: `translation:hub=wmt/wmt14,
config=de-en` (fields `translation.{de,en}`), where the hub is reachable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.benchmarks.base import DataContext, Loaded, Task, benchmark
from assay.benchmarks.loading import load_hub, reader_for, require_file
from assay.benchmarks.reformatted import as_list
from assay.errors import UserError
from assay.metrics.translation import translation_run_metrics
from assay.prompting.formats import Generate
from assay.samples import Sample


def _sample(row: dict[str, Any], index: int, where: str) -> Sample:
    if "source" not in row or "target" not in row:
        raise UserError(f"{where}: row {index} needs 'source' and 'target' fields")
    targets = row["target"] if isinstance(row["target"], list) else as_list(row["target"])
    return Sample(
        id=str(row.get("id", index)),
        input=str(row["source"]).strip(),
        references=[str(t).strip() for t in targets],
    )


@benchmark("translation", groups=("translation",))
def translation(
    file: str = "",
    source_lang: str = "German",
    target_lang: str = "English",
    hub: str = "",
    config: str = "",
    split: str = "test",
) -> Task:
    """Translate your sentences (file=pairs.jsonl); chrF and BLEU via sacrebleu."""

    def load(data: DataContext) -> Loaded:
        if file:
            path = require_file(Path(file).expanduser(), "translation")
            rows = list(reader_for(path)(path))
            return Loaded([_sample(r, i, file) for i, r in enumerate(rows)])
        if hub and config:
            src, _, tgt = config.partition("-")
            rows = load_hub(hub, name=config, split=split)
            pairs = [
                {"source": r["translation"][src], "target": r["translation"][tgt]} for r in rows
            ]
            return Loaded([_sample(r, i, hub) for i, r in enumerate(pairs)])
        raise UserError(
            "translation needs data: translation:file=pairs.jsonl (fields source, target) "
            "or translation:hub=wmt/wmt14,config=de-en"
        )

    return Task(
        load=load,
        prompt=Generate(
            instructions=f"Translate the {source_lang} text into {target_lang}.",
            input_prefix=f"{source_lang}: ",
            output_prefix=f"\n{target_lang}:",
            max_tokens=256,
            stop=("\n",),
            extract="first_line",
        ),
        metrics=["chrf", "bleu"],
        version="1",
        run_metrics=(translation_run_metrics,),
    )
