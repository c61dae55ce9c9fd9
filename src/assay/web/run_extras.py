"""What the run page shows beside each listed sample, read for the page's rows only.

For a page of at most a few hundred samples: the reference (target) answer, the question (the
end of a long input, where a reading-comprehension prompt puts it, rather than the start of the
passage) and whether the first answer was cut off at the token limit (`finish_reason: length`).
Reads are bounded: a fixed number of characters from the end of each input, never whole inputs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from assay.requests import TRUNCATED_FINISH_REASONS
from assay.store import schema
from assay.store.browse import json_text_head
from assay.store.db import Store

TAIL = 600  # characters read from the end of each input
SHORT = 240  # an input at most this long is shown whole


@dataclass
class RowExtra:
    question: str
    reference: str
    truncated: bool


def question_of(text: str, limit: int = SHORT) -> str:
    """The part of an input a reader needs to see: all of a short one; for a long one its last
    paragraph or line that is not an answer cue (`Answer:`), cut to `limit` from the end."""
    text = text.strip()
    if len(text) <= limit:
        return " ".join(text.split())
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    cues = ("answer:", "a:", "answer")
    while len(lines) > 1 and lines[-1].lower().rstrip(" .") in cues:
        lines.pop()
    picked: list[str] = []
    for line in reversed(lines):
        picked.insert(0, line)
        if sum(len(p) for p in picked) >= limit // 3 or line.endswith("?"):
            break
    tail = " ".join(" ".join(picked).split())
    return tail if len(tail) <= limit else "…" + tail[-(limit - 1) :]


def _tail_expr(column: Any) -> Any:
    """The last TAIL characters of a text column (SQLite and PostgreSQL alike)."""
    text = sa.cast(column, sa.Text)
    length = sa.func.length(text)
    start = sa.case((length > TAIL, length - TAIL + 1), else_=1)
    return sa.func.substr(text, start, TAIL)


def page_extras(store: Store, run_id: str, sample_ids: Sequence[str]) -> dict[str, RowExtra]:
    if not sample_ids:
        return {}
    s, rq = schema.samples, schema.requests
    cut_off = rq.c.response["finish_reason"].as_string().in_(TRUNCATED_FINISH_REASONS)
    truncated = (
        sa.select(rq.c.sample_id)
        .where(
            rq.c.run_id == run_id,
            rq.c.sample_id.in_(sample_ids),
            cut_off,
        )
        .distinct()
    )
    query = sa.select(
        s.c.sample_id,
        _tail_expr(s.c.input).label("tail"),
        sa.func.length(sa.cast(s.c.input, sa.Text)).label("size"),
        sa.func.substr(sa.cast(s.c.references, sa.Text), 1, 400).label("refs"),
        s.c.choices,
        s.c.correct,
    ).where(s.c.run_id == run_id, s.c.sample_id.in_(sample_ids))
    with store.connect() as conn:
        cut = {row[0] for row in conn.execute(truncated)}
        rows = conn.execute(query).mappings().all()
    out: dict[str, RowExtra] = {}
    for row in rows:
        text = input_tail_text(row["tail"] or "", whole=(row["size"] or 0) <= TAIL)
        out[row["sample_id"]] = RowExtra(
            question=question_of(text),
            reference=_reference(row["refs"], row["choices"], row["correct"]),
            truncated=row["sample_id"] in cut,
        )
    return out


_CONTENT = re.compile(r'"content"\s*:\s*"')
_CLOSING = re.compile(r'"\s*(?:\}\s*)?(?:\]\s*)?$')


def input_tail_text(raw: str, *, whole: bool) -> str:
    """Readable text from the end of a stored input's JSON (a string or chat messages): the
    last message's content for a chat. `whole`: `raw` is the complete JSON value."""
    if whole:
        try:
            value = json.loads(raw)
        except ValueError:
            return raw
        if isinstance(value, list) and value:
            last = value[-1]
            return str(last.get("content", "")) if isinstance(last, dict) else str(last)
        return str(value)
    body = _CLOSING.sub("", raw.rstrip())
    found = list(_CONTENT.finditer(body))
    if found:
        body = body[found[-1].end() :]
    for _ in range(8):  # the cut may fall inside an escape sequence: drop its remains
        try:
            text: str = json.loads(f'"{body}"')
            return text
        except ValueError:
            body = body[1:]
    return body


def _reference(refs: str | None, choices: Any, correct: Any) -> str:
    if isinstance(choices, list) and isinstance(correct, int) and 0 <= correct < len(choices):
        letter = f"{chr(65 + correct)}. " if correct < 26 else ""
        return f"{letter}{choices[correct]}"[:120]
    return json_text_head(refs or "", 120)
