"""What a run cost: token counts times an editable price table. The one pricing function.

The run summary, `assay leaderboard` and the viewer all price through `cost` here, so they agree.
The table ships as `assay/models/prices.yaml` (US dollars per million input and output tokens,
keyed by `provider/model` with `*` wildcards). `ASSAY_PRICES=path/to/prices.yaml` names a file in
the same format whose entries are merged over the shipped ones (and may set `batch_discount`).
A `--model-info` file's `price_input`/`price_output` for a model win over the table (passed as
`price`). A run sent through a provider batch API (`assay run --batch`: OpenAI, Anthropic, which
bill batches at half price) is priced with `batch_discount` (0.5 as shipped). A model with no
entry is unpriced: `cost` returns None, never a guess.

This module sits at the top of the package (not under `models/`) because analysis and metrics
use it and must not depend on providers.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from assay.errors import UserError

PRICES_ENV = "ASSAY_PRICES"


@dataclass(frozen=True)
class Price:
    input: float  # USD per million input tokens
    output: float  # USD per million output tokens


@dataclass(frozen=True)
class PriceTable:
    prices: dict[str, Price]
    batch_discount: float = 0.5

    def lookup(self, model_label: str) -> Price | None:
        """The price of `provider/model`: an exact key, else the longest matching pattern."""
        key = base_model(model_label)
        if key in self.prices:
            return self.prices[key]
        matches = [p for p in self.prices if "*" in p and fnmatch.fnmatchcase(key, p)]
        return self.prices[max(matches, key=len)] if matches else None


def base_model(model_label: str) -> str:
    """`openai/gpt-4o@https://...?seed=1` -> `openai/gpt-4o`."""
    return model_label.split("?", 1)[0].split("@", 1)[0]


def cost(
    model_label: str,
    input_tokens: int | None,
    output_tokens: int | None,
    *,
    batch: bool = False,
    price: Price | None = None,
) -> float | None:
    """US dollars for these tokens, or None when the model (or a token count) is unknown.

    `price` (from model metadata) replaces the table's entry; `batch` applies the batch discount.
    """
    if input_tokens is None or output_tokens is None:
        return None
    table = price_table()
    price = price or table.lookup(model_label)
    if price is None:
        return None
    dollars = (input_tokens * price.input + output_tokens * price.output) / 1_000_000
    return dollars * (table.batch_discount if batch else 1.0)


def price_table() -> PriceTable:
    user = os.environ.get(PRICES_ENV) or ""
    mtime = _mtime(user) if user else 0.0
    return _load(user, mtime)


@lru_cache(maxsize=4)
def _load(user_path: str, _mtime: float) -> PriceTable:
    shipped = yaml.safe_load(files("assay").joinpath("models/prices.yaml").read_text())
    prices, discount = _parse(shipped, "the shipped prices.yaml")
    if user_path:
        try:
            data = yaml.safe_load(Path(user_path).expanduser().read_text())
        except OSError:
            raise UserError(f"{PRICES_ENV}={user_path!r}: cannot read that file") from None
        except yaml.YAMLError as exc:
            raise UserError(f"{PRICES_ENV}={user_path!r} is not valid YAML: {exc}") from None
        more, user_discount = _parse(data, user_path)
        prices.update(more)
        if data and "batch_discount" in data:
            discount = user_discount
    return PriceTable(prices, discount)


def _parse(data: Any, where: str) -> tuple[dict[str, Price], float]:
    if data is None:
        return {}, 0.5
    if not isinstance(data, dict) or not isinstance(data.get("models", {}), dict):
        raise UserError(f"{where}: write `models: {{provider/model: {{input: X, output: Y}}}}`")
    prices: dict[str, Price] = {}
    for name, entry in (data.get("models") or {}).items():
        try:
            prices[str(name)] = Price(float(entry["input"]), float(entry["output"]))
        except (TypeError, KeyError, ValueError):
            raise UserError(
                f"{where}: price of {name!r} must be {{input: <USD per 1M>, output: <USD per 1M>}}"
            ) from None
    try:
        discount = float(data.get("batch_discount", 0.5))
    except (TypeError, ValueError):
        raise UserError(f"{where}: batch_discount must be a number such as 0.5") from None
    return prices, discount


def _mtime(path: str) -> float:
    try:
        return Path(path).expanduser().stat().st_mtime
    except OSError:
        return -1.0
