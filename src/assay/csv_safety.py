"""CSV cells that a spreadsheet will not run as formulas (OWASP "CSV injection").

Every CSV assay writes for people to open can hold text it does not control: model output,
dataset inputs and references, names from imported logs. Excel, LibreOffice and Sheets run a
cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as a formula
(`=HYPERLINK(...)` makes a link that leaks data; some spreadsheets run commands). The writers
here put a single quote before such a text cell, as OWASP advises, so it reads as text. Numbers
written as numbers (a score of -0.5) are left alone: only strings are changed.

A line break inside a cell is always quoted too: Python 3.11's writer quotes only the
characters of its own `lineterminator`, so with `"\n"` a bare carriage return would end the
row there and start the next one with whatever follows it (`\r=1` becomes a row `=1`).

A text that already starts with quotes and then a trigger (`'=x`) gets one more quote too, so
`restore` (which takes one quote off wherever the writer could have added it) gives back
exactly what was written: annotation sheets come back from raters with their text intact.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Protocol

TRIGGERS = "=+-@\t\r"
_NEEDS_QUOTE = re.compile(f"'*[{re.escape(TRIGGERS)}]")
_ADDED_QUOTE = re.compile(f"'+[{re.escape(TRIGGERS)}]")


class _Sink(Protocol):
    def write(self, s: str, /) -> object: ...


def neutralise(value: Any) -> Any:
    """`value` with a quote put first when it is text a spreadsheet would run; else as it is."""
    if isinstance(value, str) and _NEEDS_QUOTE.match(value):
        return "'" + value
    return value


def restore(text: str) -> str:
    """The text `neutralise` was given, from the cell it wrote (a cell it left alone too)."""
    return text[1:] if _ADDED_QUOTE.match(text) else text


class Writer:
    """`csv.writer` whose every text cell, headers included, goes through `neutralise`."""

    def __init__(self, out: _Sink, **options: Any) -> None:
        self._writer = csv.writer(out, **options)
        # for rows with a line break in a cell: every text cell quoted, numbers still bare
        self._quoting = csv.writer(out, **{**options, "quoting": csv.QUOTE_NONNUMERIC})

    def writerow(self, row: Iterable[Any]) -> None:
        cells = [neutralise(v) for v in row]
        breaks = any(isinstance(v, str) and ("\r" in v or "\n" in v) for v in cells)
        (self._quoting if breaks else self._writer).writerow(cells)

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class DictWriter:
    """`csv.DictWriter` whose every text cell, headers included, goes through `neutralise`."""

    def __init__(self, out: _Sink, fieldnames: Collection[str], **options: Any) -> None:
        self.fieldnames = list(fieldnames)
        self._writer = Writer(out, **options)

    def writeheader(self) -> None:
        self._writer.writerow(self.fieldnames)

    def writerow(self, row: Mapping[str, Any]) -> None:
        unknown = [k for k in row if k not in self.fieldnames]
        if unknown:
            raise ValueError(f"dict contains fields not in fieldnames: {unknown!r}")
        self._writer.writerow(row.get(k, "") for k in self.fieldnames)

    def writerows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.writerow(row)
