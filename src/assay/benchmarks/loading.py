"""Reading data: local mirror files (JSONL, CSV) and the Hugging Face hub.

The mirror is a directory laid out like `../shared/data` (`--data-dir` or `ASSAY_DATA_DIR`);
without one, loaders fetch from the hub through `datasets` (`pip install 'assay[hub]'`).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from assay.errors import UserError


def resolve_data_dir(flag: str | None) -> Path | None:
    value = flag or os.environ.get("ASSAY_DATA_DIR")
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise UserError(
            f"data directory {value!r} does not exist: fix --data-dir / "
            "ASSAY_DATA_DIR, or unset it to load from the hub"
        )
    return path


def require_file(path: Path, benchmark: str) -> Path:
    if not path.is_file():
        raise UserError(
            f"{benchmark}: data file {str(path)!r} is missing: check --data-dir (it should be "
            "laid out like shared/data) or unset it to load from the hub"
        )
    return path


class Rows:
    """Rows of a file, read lazily each time it is iterated; `len()` without parsing."""

    def __init__(self, path: Path, reader: Callable[[Path], Iterator[dict[str, Any]]]) -> None:
        self.path = path
        self._reader = reader
        self._length: int | None = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._reader(self.path)

    def __len__(self) -> int:
        if self._length is None:
            self._length = sum(1 for _ in self._reader(self.path))
        return self._length


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with path.open("rb") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise UserError(
                        f"{path}:{number}: not valid JSON ({exc}); fix that line"
                    ) from None
                if not isinstance(row, dict):
                    raise UserError(f"{path}:{number}: each line must be a JSON object")
                yield row
    except OSError as exc:
        raise UserError(f"cannot read {str(path)!r}: {exc.strerror}") from exc


def read_json_list(path: Path) -> Iterator[dict[str, Any]]:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise UserError(f"cannot read {str(path)!r} as JSON: {exc}") from exc
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a JSON list of objects")
    for number, row in enumerate(data, 1):
        if not isinstance(row, dict):
            raise UserError(
                f"{path}: item {number} is {_kind(row)}, not an object: the file must be a JSON "
                'list of objects such as [{"question": "...", "answer": "..."}]'
            )
        yield row


def read_csv(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a comma-separated file with a header row; an unclosed quote or a row with more or
    fewer fields than the header is an error naming the line, never rows silently merged."""
    return _read_delimited(path, ",")


def read_tsv(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a tab-separated file with a header row (quotes are ordinary text in TSV)."""
    return _read_delimited(path, "\t")


def _read_delimited(path: Path, delimiter: str) -> Iterator[dict[str, Any]]:
    kind = "TSV" if delimiter == "\t" else "CSV"
    options: dict[str, Any] = {"quoting": csv.QUOTE_NONE} if delimiter == "\t" else {"strict": True}
    reader: Any = None
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f, delimiter=delimiter, **options)
            header = reader.fieldnames or []
            repeated = sorted({h for h in header if header.count(h) > 1})
            if repeated:
                raise UserError(
                    f"{path}: the header names {', '.join(map(repr, repeated))} more than once"
                )
            for row in reader:
                if None in row:
                    raise UserError(
                        f"{path}:{reader.line_num}: this row has more fields than the header's "
                        f"{len(header)}"
                        + ("; quote fields that contain commas" if kind == "CSV" else "")
                    )
                if any(value is None for value in row.values()):
                    raise UserError(
                        f"{path}:{reader.line_num}: this row has fewer fields than the header's "
                        f"{len(header)}"
                    )
                yield row
    except csv.Error as exc:
        line = f":{reader.line_num}" if reader is not None else ""
        raise UserError(
            f"{path}{line}: not valid {kind} ({exc}); look for an unclosed quote near that line"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {str(path)!r} as {kind}: {exc}") from exc


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value), "a list"
    )


def reader_for(path: Path) -> Callable[[Path], Iterator[dict[str, Any]]]:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return read_jsonl
    if suffix == ".json":
        return read_json_list
    if suffix == ".csv":
        return read_csv
    if suffix == ".tsv":
        return read_tsv
    raise UserError(
        f"{path}: unsupported data file type {suffix!r}: use .jsonl, .json, .csv or .tsv"
    )


def load_hub(path: str, *, name: str | None = None, split: str) -> list[dict[str, Any]]:
    """Rows of a hub dataset split (needs `datasets` and network access)."""
    try:
        import datasets
    except ImportError:
        raise UserError(
            f"loading {path} from the hub needs `datasets`: pip install 'assay[hub]', or point "
            "--data-dir / ASSAY_DATA_DIR at a local mirror"
        ) from None
    try:
        ds = datasets.load_dataset(path, name, split=split)
    except Exception as exc:  # network, auth, missing config: one line for the user
        raise UserError(
            f"could not load {path}{'/' + name if name else ''} ({split}) from the hub: "
            f"{type(exc).__name__}: {str(exc)[:200]}. Use --data-dir for a local mirror"
        ) from None
    return [dict(row) for row in ds]
