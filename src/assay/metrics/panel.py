"""Judge panels: several judges' scores for one sample made into one, and which judges share a
family with the model they judge (self-preference).

Aggregation is over the judges that gave a readable verdict; a judge that failed or could not
be read is left out, never counted as 0. `mean` averages their scores. `majority` takes the
value most of them gave; with no strict majority (two judges that disagree, a three-way split)
the sample has no panel verdict and is counted as `split`, not scored.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Literal

PanelAggregate = Literal["mean", "majority"]
PANEL_AGGREGATES: tuple[PanelAggregate, ...] = ("mean", "majority")


def aggregate(values: Sequence[float], how: PanelAggregate) -> float | None:
    """One score from the judges' scores, or None when they give none (or no majority)."""
    if not values:
        return None
    if how == "mean":
        return sum(values) / len(values)
    top, count = Counter(values).most_common(1)[0]
    return top if count * 2 > len(values) else None


# Makers whose own API serves only their models: every model behind it is one family.
_MAKERS = {"openai": "openai", "anthropic": "anthropic", "google": "google"}
# Family names found anywhere in a model's name, for models served by anyone (a local file, a
# compatible server, Ollama, the hub): the maker's family, so GPT and o-series are one.
_KNOWN = (
    ("smollm", "smollm"),
    ("gemma", "google"),
    ("gemini", "google"),
    ("claude", "anthropic"),
    ("gpt", "openai"),
    ("llama", "llama"),
    ("qwen", "qwen"),
    ("mixtral", "mistral"),
    ("mistral", "mistral"),
    ("phi", "phi"),
    ("deepseek", "deepseek"),
    ("olmo", "olmo"),
    ("falcon", "falcon"),
    ("granite", "granite"),
)


def model_family(label: str) -> str:
    """A model's family, from its label (`provider/name[?settings]`).

    The first-party APIs (openai/, anthropic/, google/) are one family each. Otherwise the name
    (its last path part, before any `@url` or `?settings`, lower case) is matched against known
    family names (gemma and gemini are Google's, gpt is OpenAI's); failing that, the family is
    the name's leading letters (`mymodel-7b` -> `mymodel`). A mock is its behaviour.
    """
    provider, _, name = label.partition("/")
    provider = provider.lower()
    if provider in _MAKERS:
        return _MAKERS[provider]
    bare = re.split(r"[?@]", name, maxsplit=1)[0].rstrip("/").lower()
    if provider == "mock":
        return f"mock:{bare}"
    base = bare.rsplit("/", 1)[-1]
    for key, family in _KNOWN:
        if key in base:
            return family
    leading = re.match(r"[a-z]+", base)
    return leading.group(0) if leading else base or provider


def same_family(judge: str, model: str) -> bool:
    """Whether a judge may prefer its own kind when judging `model`."""
    return model_family(judge) == model_family(model)
