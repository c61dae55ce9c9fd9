"""A large response stored once: its text lives in `requests.text` and nowhere else.

A response's payload holds its text and its raw provider body, which holds the text again, and
the response cache held both once more. Below `LARGE` characters that costs nothing worth
saving. From `LARGE` up, the payload written to `requests.response` leaves the text out (it is
in the `text` column beside it) and every string of the raw body equal to the text or one of the
completions becomes a reference, `{"$assay_text": i}` (0: the text, i: completion i - 1); no
cache row is written, since the request row itself answers a cache lookup by `cache_key`.
`expand` puts everything back, so readers see the payload as received.

A large prediction (the answer read from the output) is most often the response's text, or its
text stripped: it is not stored again in `samples.prediction` but as a span of its request's
`text` (`prediction_request`, `prediction_start`, `prediction_length`); `prediction_of` is the
SQL that reads it back, the same text as before, for every reader.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from assay.store import schema

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


SPAN = ("prediction_request", "prediction_start", "prediction_length")


def share_predictions(
    samples: Sequence[Mapping[str, Any]], requests: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The sample rows to store beside `requests` (the same batch): a prediction of `LARGE`
    characters or more found in the text of one of its sample's requests becomes a span of
    that text. Every row gets the span columns (None when the prediction is stored itself)."""
    texts: dict[tuple[Any, Any], list[tuple[int, str]]] = {}
    for r in requests:
        text = r.get("text")
        if isinstance(text, str) and len(text) >= LARGE and "\x00" not in text:
            texts.setdefault((r["run_id"], r["sample_id"]), []).append((int(r["idx"]), text))
    out = []
    for row in samples:
        shared = {**row, **dict.fromkeys(SPAN)}
        prediction = row.get("prediction")
        if isinstance(prediction, str) and len(prediction) >= LARGE:
            for idx, text in sorted(texts.get((row["run_id"], row["sample_id"]), [])):
                start = text.find(prediction)
                if start >= 0:
                    shared.update(prediction=None, prediction_request=idx)
                    shared.update(prediction_start=start, prediction_length=len(prediction))
                    break
        out.append(shared)
    return out


def prediction_of(samples: Any) -> Any:
    """SQL for a sample's prediction as read, whether stored itself or as a span of its
    request's text (`samples`: the samples table or an alias of it)."""
    rq = schema.requests.alias("prediction_rq")
    span = (
        sa.select(
            sa.func.substr(rq.c.text, samples.c.prediction_start + 1, samples.c.prediction_length)
        )
        .where(
            rq.c.run_id == samples.c.run_id,
            rq.c.sample_id == samples.c.sample_id,
            rq.c.idx == samples.c.prediction_request,
        )
        .scalar_subquery()
    )
    return sa.case((samples.c.prediction_request.is_(None), samples.c.prediction), else_=span)


def sample_columns(samples: Any) -> list[Any]:
    """The columns of a samples row as readers know them: the prediction as read, no span."""
    kept = [c for c in samples.c if c.name not in (*SPAN, "prediction")]
    return [*kept, prediction_of(samples).label("prediction")]
