"""No-code benchmarks: a YAML file that names a data file (or hub dataset), its fields, the
prompt format and the metrics. See README.md, "Your own benchmark", for the format."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from assay.answers import letters
from assay.benchmarks.base import DataContext, Loaded, Task
from assay.benchmarks.loading import Rows, load_hub, reader_for
from assay.errors import UserError
from assay.hashing import content_hash, file_hash
from assay.metrics import registry
from assay.prompting.formats import EXTRACTORS, Generate, MultipleChoice, PromptFormat
from assay.samples import Sample


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HubSource(_Strict):
    path: str
    name: str | None = None
    split: str = "test"


class DataSource(_Strict):
    path: str | None = None
    hub: HubSource | None = None
    fewshot_path: str | None = None
    split: str = "test"

    @model_validator(mode="after")
    def _one_source(self) -> DataSource:
        if (self.path is None) == (self.hub is None):
            raise ValueError("give exactly one of data.path (a local file) or data.hub")
        return self


class Fields(_Strict):
    input: str
    target: str
    id: str | None = None
    choices: str | list[str] | None = None
    metadata: list[str] = Field(default_factory=list)


class PromptSpec(_Strict):
    format: Literal["generate", "multiple_choice"] = "generate"
    instructions: str = ""
    input_prefix: str = ""
    output_prefix: str = ""
    system: str | None = None
    shots: int = Field(default=0, ge=0, le=64)
    max_tokens: int = Field(default=256, ge=1)
    stop: list[str] = Field(default_factory=list)
    extract: Literal["text", "first_line", "final_number"] = "text"


class BenchmarkFile(_Strict):
    name: str
    version: str = "1"
    description: str = ""
    groups: list[str] = Field(default_factory=list)
    data: DataSource
    fields: Fields
    prompt: PromptSpec = Field(default_factory=PromptSpec)
    metrics: list[str] = Field(default_factory=lambda: ["exact_match"])
    main_metric: str | None = None
    higher_is_better: bool = True

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, metrics: list[str]) -> list[str]:
        unknown = [m for m in metrics if m not in registry.METRICS]
        if unknown:
            raise ValueError(registry.unknown_metric(unknown[0]))
        return metrics

    @model_validator(mode="after")
    def _consistent(self) -> BenchmarkFile:
        if self.prompt.format == "multiple_choice" and self.fields.choices is None:
            raise ValueError("prompt.format multiple_choice needs fields.choices")
        if self.main_metric is not None and self.main_metric not in self.metrics:
            raise ValueError(f"main_metric {self.main_metric!r} is not in metrics")
        return self


def load_benchmark_file(path: Path) -> Task:
    if not path.is_file():
        raise UserError(f"benchmark file {str(path)!r} does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a mapping with name, data, fields, prompt, metrics")
    raw.setdefault("name", path.stem)
    try:
        spec = BenchmarkFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise UserError(f"{path}: {where}: {first['msg']}") from None
    task = _task(spec, path.parent)
    task.source = str(path.resolve())
    task.definition = definition_hash(spec, path.parent)
    return task


def definition_hash(spec: BenchmarkFile, base: Path) -> str:
    """Every field that can change a number, as validated (comments, key order and defaults
    written out or left implicit do not matter). Data files count by content, not by path: the
    samples' own hash joins the run id, and the few-shot file's bytes are hashed here."""
    fields = spec.model_dump(mode="json", exclude={"description": True, "groups": True})
    fields["data"].pop("path", None)
    fewshot = fields["data"].pop("fewshot_path", None)
    if fewshot:
        file = (base / fewshot).resolve()
        fields["data"]["fewshot"] = file_hash(file) if file.is_file() else None
    return content_hash(fields)


def _task(spec: BenchmarkFile, base: Path) -> Task:
    prompt: PromptFormat
    if spec.prompt.format == "multiple_choice":
        prompt = MultipleChoice(
            instructions=spec.prompt.instructions,
            system=spec.prompt.system,
            shots=spec.prompt.shots,
            max_tokens=min(spec.prompt.max_tokens, 16),
        )
    else:
        if spec.prompt.extract not in EXTRACTORS:  # pragma: no cover - Literal guards this
            raise UserError(f"unknown extract {spec.prompt.extract!r}")
        prompt = Generate(
            instructions=spec.prompt.instructions,
            input_prefix=spec.prompt.input_prefix,
            output_prefix=spec.prompt.output_prefix,
            system=spec.prompt.system,
            shots=spec.prompt.shots,
            max_tokens=spec.prompt.max_tokens,
            stop=tuple(spec.prompt.stop),
            extract=spec.prompt.extract,
        )

    def load(_data: DataContext) -> Loaded:
        samples = _Samples(spec, base, spec.data.path, spec.data.hub)
        pool_source = (
            _Samples(spec, base, spec.data.fewshot_path, None)
            if spec.data.fewshot_path
            else samples
        )
        pool: list[Sample] | None = None

        def fewshot(sample: Sample) -> list[Sample]:
            nonlocal pool
            if pool is None:
                everything = list(pool_source)
                pool = random.Random(0).sample(
                    everything, min(len(everything), spec.prompt.shots + 1)
                )
            return [s for s in pool if s.id != sample.id][: spec.prompt.shots]

        return Loaded(samples=samples, fewshot=fewshot if spec.prompt.shots else None)

    return Task(
        load=load,
        prompt=prompt,
        metrics=list(spec.metrics),
        main_metric=spec.main_metric,
        higher_is_better=spec.higher_is_better,
        version=spec.version,
        groups=tuple(spec.groups),
        description=spec.description,
        name=spec.name,
    )


class _Samples:
    """A file's samples, streamed; `len()` counts rows without building samples."""

    def __init__(
        self, spec: BenchmarkFile, base: Path, path: str | None, hub: HubSource | None
    ) -> None:
        self.spec = spec
        self.hub = hub
        self.rows: Any
        if hub is not None:
            self.rows = None
            self.where = f"hub:{hub.path}"
        else:
            file = (base / (path or "")).resolve()
            if not file.is_file():
                raise UserError(
                    f"benchmark {spec.name!r}: data file {str(file)!r} does not "
                    "exist (paths are relative to the YAML file)"
                )
            self.rows = Rows(file, reader_for(file))
            self.where = str(file)

    def _source(self) -> Any:
        if self.rows is None:
            assert self.hub is not None
            self.rows = load_hub(self.hub.path, name=self.hub.name, split=self.hub.split)
        return self.rows

    def __len__(self) -> int:
        return len(self._source())

    def __iter__(self) -> Any:
        for number, row in enumerate(self._source()):
            yield _sample(self.spec, row, number, self.where)


def _sample(spec: BenchmarkFile, row: dict[str, Any], number: int, where: str) -> Sample:
    f = spec.fields

    def get(field: str) -> Any:
        if field not in row:
            raise UserError(
                f"{where}: row {number + 1} has no field {field!r} (it has: "
                f"{', '.join(list(row)[:10])}); fix fields in the benchmark file"
            )
        value = row[field]
        if value is None or (isinstance(value, list) and any(v is None for v in value)):
            # str(None) would become the text "None", scored as if it were the data
            raise UserError(
                f"{where}: row {number + 1}: field {field!r} is null; fill it in or drop the row"
            )
        return value

    def text(field: str) -> str:
        value = get(field)
        if isinstance(value, (dict, list)):
            kind = "a list" if isinstance(value, list) else "an object"
            raise UserError(
                f"{where}: row {number + 1}: field {field!r} is {kind}, not text; point "
                "fields at a text field"
            )
        return str(value)

    choices: list[str] | None = None
    if f.choices is not None:
        value = [get(c) for c in f.choices] if isinstance(f.choices, list) else get(f.choices)
        if not isinstance(value, list) or len(value) < 2:
            raise UserError(f"{where}: row {number + 1}: choices must be a list of 2 or more")
        choices = [str(c) for c in value]
    target = get(f.target)
    correct = None
    if choices is not None:
        correct = _choice_index(target, choices)
        if correct is None:
            raise UserError(
                f"{where}: row {number + 1}: target {target!r} is not an index, a "
                "letter or the text of one of the choices"
            )
        references = [choices[correct]]
    else:
        references = [str(t) for t in target] if isinstance(target, list) else [str(target)]
    return Sample(
        id=text(f.id) if f.id else str(number),
        input=text(f.input),
        references=references,
        choices=choices,
        correct=correct,
        metadata={k: row.get(k) for k in f.metadata},
        split=spec.data.split,
    )


def _choice_index(target: Any, choices: list[str]) -> int | None:
    if isinstance(target, bool):
        return None
    if isinstance(target, int):
        return target if 0 <= target < len(choices) else None
    text = str(target).strip()
    labels = letters(len(choices))
    if text in labels:
        return labels.index(text)
    if text.isdigit() and int(text) < len(choices):
        return int(text)
    matches = [i for i, c in enumerate(choices) if c.strip() == text]
    return matches[0] if len(matches) == 1 else None
