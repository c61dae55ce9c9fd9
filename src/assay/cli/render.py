"""Turning leaderboards into text and files: terminal, markdown, CSV, JSON, LaTeX, parquet."""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from assay import csv_safety
from assay.analysis.leaderboard import Leaderboard
from assay.analysis.views import TableData, data_table, display_table
from assay.display import json_visible, visible
from assay.errors import UserError

TEXT_FORMATS = ("table", "markdown", "csv", "json", "latex")
NOTE = (
    "Cells: mean [95% CI: Wilson for 0/1 scores, else bootstrap] n=scored samples; "
    "* = run not finished; ↓ = lower is better. "
    "Win rate: HELM's mean win rate [95% bootstrap CI]; rank (95% rank interval)."
)


def render(board: Leaderboard, fmt: str, view: str = "benchmarks") -> str:
    """The leaderboard as text; names from the store never carry raw control characters."""
    if fmt == "json":
        text = orjson.dumps(board.to_dict(), option=orjson.OPT_INDENT_2).decode()
        return json_visible(text) + "\n"
    if fmt == "csv":
        return to_csv(visible_table(data_table(board, view)))
    shown = visible_table(display_table(board, view))
    if fmt == "markdown":
        return to_markdown(shown) + f"\n\n{NOTE}\n"
    if fmt == "latex":
        return to_latex(shown, caption=f"assay leaderboard, suite {board.suite}. {NOTE}")
    if fmt == "table":
        # names come from users and stored runs: shown as written, never read as rich markup
        table = Table(title=Text(f"assay leaderboard · suite {board.suite}"), caption=NOTE)
        for h in shown.headers:
            table.add_column(Text(h), overflow="fold")
        for r in shown.rows:
            table.add_row(*(Text(str(v)) for v in r))
        buffer = io.StringIO()
        Console(file=buffer, width=table_width(len(shown.headers)), highlight=False).print(table)
        return buffer.getvalue()
    raise UserError(f"unknown format {fmt!r}: use one of {', '.join(TEXT_FORMATS)}, parquet")


def visible_table(data: TableData) -> TableData:
    """Every text cell and header with control and bidi characters spelled out (`visible`)."""
    return TableData(
        [visible(h) for h in data.headers],
        [[visible(v) if isinstance(v, str) else v for v in row] for row in data.rows],
    )


def table_width(columns: int) -> int:
    """The terminal's width on a terminal (cells wrap); wide enough for one line per row when
    the output goes to a file or a pipe."""
    if sys.stdout.isatty():
        return max(60, shutil.get_terminal_size().columns)
    return max(100, 30 * columns)


def to_csv(data: TableData) -> str:
    buffer = io.StringIO()
    writer = csv_safety.Writer(buffer, lineterminator="\n")
    writer.writerow(data.headers)
    for row in data.rows:
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue()


def to_markdown(data: TableData) -> str:
    def esc(value: Any) -> str:
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(map(esc, data.headers)) + " |", "|" + "---|" * len(data.headers)]
    lines += ["| " + " | ".join(map(esc, r)) + " |" for r in data.rows]
    return "\n".join(lines)


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "↓": r"$\downarrow$",
    "·": r"$\cdot$",
    "†": r"\dag{}",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(data: TableData, *, caption: str) -> str:
    spec = "l" * len(data.headers)
    lines = [
        r"\begin{table}",
        r"\centering",
        rf"\caption{{{latex_escape(caption)}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\hline",
        " & ".join(latex_escape(h) for h in data.headers) + r" \\",
        r"\hline",
    ]
    lines += [" & ".join(latex_escape(str(v)) for v in row) + r" \\" for row in data.rows]
    lines += [r"\hline", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_parquet(data: TableData, path: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError("parquet export needs pyarrow: pip install 'assay[export]'") from None
    columns = {h: [row[i] for row in data.rows] for i, h in enumerate(data.headers)}
    try:
        table = pa.table(columns)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:  # pragma: no cover - mixed types
        raise UserError(f"cannot write parquet: {exc}") from None
    pq.write_table(table, path)
