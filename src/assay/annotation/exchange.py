"""Items out to outside annotators and their ratings back in, as CSV or JSONL.

An exported row names its item by a stable id and holds what an annotator needs (the prompt,
the reference where there is one, the response or the two responses in their blinded order,
the question and the allowed answers), with an empty `rating` to fill in. Model names and run
ids are left out. An import is checked whole before anything is written: one bad row (an id the
store does not know, a rating the rubric does not allow, the same item rated twice by one
annotator) stops it with one line naming the row, and nothing is imported. Importing the same
file again changes nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from assay import csv_safety
from assay.annotation.items import ANNOTATOR, Item, by_run
from assay.annotation.rubrics import PAIRWISE, RUBRICS
from assay.errors import UserError
from assay.store import ratings as store_ratings
from assay.store.db import Store

FORMATS = ("csv", "jsonl")
RATING_COLUMNS = ("id", "rating", "annotator")


def input_text(value: Any) -> str:
    """A sample's input as text: a chat as `role: content` lines."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n\n".join(
            f"{m.get('role', '')}: {m.get('content', '')}" if isinstance(m, dict) else str(m)
            for m in value
        )
    return str(value)


def format_of(path: Path, given: str | None) -> str:
    if given is not None:
        return given
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("csv", "jsonl"):
        return suffix
    if suffix == "json":
        return "jsonl"
    raise UserError(
        f"cannot tell the format of {str(path)!r} from its name: pass --format csv or "
        "--format jsonl (or name it .csv or .jsonl)"
    )


def export_rows(store: Store, items: Sequence[Item], annotator: str | None) -> list[dict[str, Any]]:
    texts = store_ratings.sample_texts(
        store, [(run, i.sample_id) for i in items for run in i.shown_runs()]
    )
    rows = []
    for item in items:
        shown = [texts[(run, item.sample_id)] for run in item.shown_runs()]
        row: dict[str, Any] = {
            "id": item.id,
            "kind": item.kind,
            "rubric": item.rubric.name,
            "benchmark": item.benchmark,
            "sample_id": item.sample_id,
            "prompt": input_text(shown[0]["input"]),
            "reference": "\n".join(str(r) for r in shown[0]["references"]),
        }
        if item.pairwise:
            row["response_1"], row["response_2"] = (s["response"] for s in shown)
        else:
            row["response"] = shown[0]["response"]
        row["question"] = item.rubric.question
        row["answers"] = item.rubric.describe()
        row["rating"] = ""
        row["annotator"] = annotator or ""
        rows.append(row)
    return rows


def render(rows: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "jsonl":
        return "".join(orjson.dumps(r).decode() + "\n" for r in rows)
    out = io.StringIO()
    columns = list(dict.fromkeys(k for r in rows for k in r))
    writer = csv_safety.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@dataclass(frozen=True)
class Imported:
    new: int
    changed: int
    unchanged: int
    blank: int


def _read(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) for each row of the file."""
    try:
        # a spreadsheet's byte-order mark too; carriage returns inside cells kept as they are
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"{str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise UserError(f"{str(path)!r} is a folder: pass the ratings file") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{str(path)!r} is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise UserError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    if fmt == "jsonl":
        # records end at "\n" only: str.splitlines also splits at U+2028, U+0085 and other
        # separators that JSON strings (and so model answers) carry unescaped
        for number, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise UserError(f"{path}:{number}: not a JSON object ({exc})") from None
            if not isinstance(row, dict):
                raise UserError(f"{path}:{number}: a row must be a JSON object, not {row!r:.40}")
            yield number, row
        return
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = reader.fieldnames or []
        missing = [c for c in ("id", "rating") if c not in header]
        if missing:
            raise UserError(
                f"{path}: no {' or '.join(repr(c) for c in missing)} column in its header "
                f"(found {', '.join(header) or 'none'}): export items with `assay annotate "
                "export` and fill in the rating column"
            )
        for row in reader:
            if None in row:
                raise UserError(f"{path}:{reader.line_num}: more cells than the header has columns")
            # undo the quote the export put before text a spreadsheet would run as a formula
            yield (
                reader.line_num,
                {k: v if v is None else csv_safety.restore(v) for k, v in row.items()},
            )
    except csv.Error as exc:
        raise UserError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None


def _cell(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value).strip()


def import_ratings(
    store: Store, path: Path, fmt: str | None = None, annotator: str | None = None
) -> Imported:
    """Check every row, then write them all in one transaction (or none)."""
    kind = format_of(path, fmt)
    rows = list(_read(path, kind))
    wanted = {_cell(r, "id") for _, r in rows if _cell(r, "id")}
    known = store_ratings.items_by_id(store, wanted)
    parsed: dict[tuple[str, str], float] = {}
    first_line: dict[tuple[str, str], int] = {}
    blank = 0
    for number, row in rows:
        where = f"{path}:{number}"
        identity = _cell(row, "id")
        if not identity:
            raise UserError(f"{where}: the row has no id: keep the id column as exported")
        item = known.get(identity)
        if item is None:
            raise UserError(
                f"{where}: unknown item id {identity!r}: this store has no such item; import "
                "into the store the items were exported from"
            )
        raw = row.get("rating")
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            blank += 1  # not rated yet
            continue
        who = _cell(row, "annotator") or annotator
        if not who:
            raise UserError(f"{where}: no annotator: fill the annotator column or pass --annotator")
        if not ANNOTATOR.fullmatch(who):
            raise UserError(
                f"{where}: annotator {who!r} is not a token: use letters, digits, '_', '.', '@' "
                "or '-'"
            )
        rubric = PAIRWISE if item["kind"] == "pairwise" else RUBRICS.get(item["rubric"])
        if rubric is None:
            raise UserError(f"{where}: item {identity!r} has rubric {item['rubric']!r}, unknown")
        value = rubric.read(raw)
        if value is None:
            raise UserError(
                f"{where}: rating {raw!r} is not an answer of rubric {rubric.name!r}: use one "
                f"of {rubric.describe()}"
            )
        value = by_run(value, item["kind"], item["run_id"], item["left_run_id"])
        key = (identity, who)
        if key in parsed:
            raise UserError(
                f"{where}: item {identity!r} is rated by {who!r} again (first on line "
                f"{first_line[key]}): keep one row per item and annotator"
            )
        parsed[key] = value
        first_line[key] = number
    before = {
        (r["item_id"], r["annotator"]): r["value"]
        for r in store_ratings.ratings_of(store, {i for i, _ in parsed})
    }
    new = sum(1 for k in parsed if k not in before)
    changed = sum(1 for k, v in parsed.items() if k in before and before[k] != v)
    store_ratings.save_ratings(  # only what differs: importing a file again writes nothing
        store,
        [
            {"item_id": i, "annotator": a, "value": v}
            for (i, a), v in parsed.items()
            if before.get((i, a)) != v
        ],
        source="import",
    )
    return Imported(new, changed, len(parsed) - new - changed, blank)
