"""Model metadata (creator, open or closed weights, size, release date, prices) and filters on it.

Metadata comes from a YAML file that maps model labels (or fnmatch patterns such as
`openai/*`) to fields::

    llamacpp/smollm2:
      creator: Hugging Face
      access: open          # open | closed | limited
      parameters: 0.135     # billions
      release_date: 2024-11-01
      price_input: 0        # USD per million input tokens (optional: overrides the price
      price_output: 0       # table of assay.pricing for this model on leaderboards)

The file is `--model-info PATH` or `$ASSAY_MODEL_INFO`; a few packaged models are known without
one. Exact labels win over patterns; a label with settings (`mock/random?seed=1`) also matches
its bare name.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from assay.errors import UserError

ACCESS = ("open", "closed", "limited")


@dataclass(frozen=True, slots=True)
class ModelInfo:
    creator: str | None = None
    access: str | None = None
    parameters: float | None = None  # billions
    release_date: str | None = None  # ISO date
    price_input: float | None = None  # USD per million tokens
    price_output: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Prices of these come from the price table (`assay.pricing`), like every model's; a user's
# model-info file may still set `price_input`/`price_output`, which then win.
BUILTIN: dict[str, ModelInfo] = {
    "mock/*": ModelInfo("assay", "open", 0.0, None),
    "llamacpp/smollm2*": ModelInfo("Hugging Face", "open", 0.135, "2024-11-01"),
    "llamacpp/gemma3*": ModelInfo("Google", "open", 0.27, "2025-08-14"),
}


def _parse_entry(label: str, raw: Any, source: str) -> ModelInfo:
    if not isinstance(raw, Mapping):
        raise UserError(f"{source}: entry {label!r} must be a mapping of fields")
    fields = set(ModelInfo.__dataclass_fields__)
    unknown = set(raw) - fields
    if unknown:
        raise UserError(
            f"{source}: {label!r} has unknown field(s) {', '.join(sorted(map(str, unknown)))}; "
            f"known: {', '.join(sorted(fields))}"
        )
    access = raw.get("access")
    if access is not None and access not in ACCESS:
        raise UserError(f"{source}: {label!r} access must be one of {', '.join(ACCESS)}")
    try:
        return ModelInfo(
            creator=None if raw.get("creator") is None else str(raw["creator"]),
            access=access,
            parameters=_number(raw.get("parameters")),
            release_date=None if raw.get("release_date") is None else str(raw["release_date"]),
            price_input=_number(raw.get("price_input")),
            price_output=_number(raw.get("price_output")),
        )
    except (TypeError, ValueError) as exc:
        raise UserError(f"{source}: {label!r}: {exc}") from None


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


class ModelCatalog:
    """Looks up metadata by model label."""

    def __init__(self, entries: Mapping[str, ModelInfo]) -> None:
        self.entries = dict(entries)

    @classmethod
    def load(cls, path: str | None = None) -> ModelCatalog:
        entries = dict(BUILTIN)
        chosen = path or os.environ.get("ASSAY_MODEL_INFO")
        if chosen:
            file = Path(chosen)
            if not file.is_file():
                raise UserError(f"model info file {chosen!r} does not exist")
            try:
                raw = yaml.safe_load(file.read_text()) or {}
            except yaml.YAMLError as exc:
                raise UserError(f"model info file {chosen!r} is not valid YAML: {exc}") from None
            if not isinstance(raw, Mapping):
                raise UserError(f"model info file {chosen!r} must map model labels to fields")
            for label, fields in raw.items():
                entries[str(label)] = _parse_entry(str(label), fields, chosen)
        return cls(entries)

    def get(self, label: str) -> ModelInfo | None:
        bare = label.split("?", 1)[0].split("@", 1)[0]
        for key in (label, bare):
            if key in self.entries:
                return self.entries[key]
        matches = [k for k in self.entries if any(fnmatchcase(x, k) for x in (label, bare))]
        if not matches:
            return None
        return self.entries[max(matches, key=len)]  # the most specific pattern


@dataclass(frozen=True, slots=True)
class ModelFilter:
    creator: str | None = None
    access: str | None = None
    min_parameters: float | None = None
    max_parameters: float | None = None
    released_after: str | None = None
    released_before: str | None = None

    @property
    def active(self) -> bool:
        return any(v is not None for v in asdict(self).values())

    def accepts(self, info: ModelInfo | None) -> bool:
        if not self.active:
            return True
        if info is None:
            return False
        if self.creator is not None and (info.creator or "").lower() != self.creator.lower():
            return False
        if self.access is not None and info.access != self.access:
            return False
        if self.min_parameters is not None or self.max_parameters is not None:
            if info.parameters is None:
                return False
            if self.min_parameters is not None and info.parameters < self.min_parameters:
                return False
            if self.max_parameters is not None and info.parameters > self.max_parameters:
                return False
        if self.released_after is not None or self.released_before is not None:
            released = _date(info.release_date)
            if released is None:
                return False
            after = _date(self.released_after)
            before = _date(self.released_before)
            if after is not None and released < after:
                return False
            if before is not None and released > before:
                return False
        return True

    def apply(self, models: Iterable[str], catalog: ModelCatalog) -> list[str]:
        return [m for m in models if self.accepts(catalog.get(m))]


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise UserError(f"{value!r} is not a date: use YYYY-MM-DD") from None
