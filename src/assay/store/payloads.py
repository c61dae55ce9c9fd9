"""A large response stored once: its text lives in `requests.text` and nowhere else.

A response's payload holds its text and its raw provider body, which holds the text again, and
the response cache held both once more. Below `LARGE` characters that costs nothing worth
saving. From `LARGE` up, the payload written to `requests.response` leaves the text out (it is
in the `text` column beside it) and every string of the raw body equal to the text or one of the
completions becomes a reference, `{"$assay_text": i}` (0: the text, i: completion i - 1); no
cache row is written, since the request row itself answers a cache lookup by `cache_key`.
`expand` puts everything back, so readers see the payload as received.
"""

from __future__ import annotations

from typing import Any

LARGE = 4096
_REF = "$assay_text"
_IN_COLUMN = "text_in_column"


def is_large(payload: dict[str, Any]) -> bool:
    return len(payload.get("text") or "") >= LARGE


def compact(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload to store beside its text column (unchanged when it is small)."""
    if not is_large(payload):
        return payload
    text: str = payload["text"]
    completions: list[str] = list(payload.get("completions") or [])
    # each large string once: the text in its column, other completions in `completions`
    index = {c: i + 1 for i, c in enumerate(completions) if len(c) >= LARGE}
    index[text] = 0
    out = {k: v for k, v in payload.items() if k != "text"}
    out[_IN_COLUMN] = True
    if completions:
        out["completions"] = [{_REF: 0} if c == text else c for c in completions]
    out["raw"] = _replace(out.get("raw"), index)
    return out


def expand(stored: dict[str, Any], text: str | None) -> dict[str, Any]:
    """The payload as received, from what `compact` stored and the row's text column."""
    if not stored.get(_IN_COLUMN):
        return stored
    full = text or ""
    out = {k: v for k, v in stored.items() if k != _IN_COLUMN}
    out["text"] = full
    completions = [full if _is_ref(c) else c for c in stored.get("completions") or []]
    if completions:
        out["completions"] = completions
    out["raw"] = _restore(stored.get("raw"), [full, *completions])
    return out


def _is_ref(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(_REF), int)


def _replace(value: Any, index: dict[str, int]) -> Any:
    if isinstance(value, str):
        return {_REF: index[value]} if value in index else value
    if isinstance(value, dict):
        return {k: _replace(v, index) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, index) for v in value]
    return value


def _restore(value: Any, texts: list[str]) -> Any:
    if isinstance(value, dict):
        if _is_ref(value):
            return texts[value[_REF]] if value[_REF] < len(texts) else ""
        return {k: _restore(v, texts) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v, texts) for v in value]
    return value
