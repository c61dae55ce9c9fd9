"""The store is the only writer: no module outside `assay.store` writes SQL.

Each module of the package outside src/assay/store is parsed and searched for what writing takes:
a statement built with SQLAlchemy's insert/update/delete (`table.insert()`, `sa.delete(t)`), raw
SQL (`sa.text`, `exec_driver_sql`), DDL (`create_all`, `drop_all`, `Table.create`), a table
defined outside the schema (`sa.Table(...)`), a write transaction (`store.begin()`,
`engine.begin()`), or the store's own row writers (`upsert`, `insert_if_absent`). Reads
(`select`, `conn.execute(query)` in the viewer and analysis) stay allowed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import assay

PACKAGE = Path(assay.__file__).parent
STORE = PACKAGE / "store"
SQL_MODULES = {"sa", "sqlalchemy"}
STATEMENTS = {"insert", "update", "delete"}
ROW_WRITERS = {"upsert", "insert_if_absent"}


def _writes(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = {a.name for a in node.names}
            if node.module.startswith("sqlalchemy") and names & (STATEMENTS | {"text"}):
                found.append((node.lineno, f"imports {sorted(names)} from {node.module}"))
            if node.module.startswith("assay.store") and names & ROW_WRITERS:
                found.append((node.lineno, f"imports {sorted(names & ROW_WRITERS)}"))
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        bare = not node.args and not node.keywords
        if isinstance(func, ast.Name) and func.id in ROW_WRITERS:
            found.append((node.lineno, f"calls {func.id}()"))
        if not isinstance(func, ast.Attribute):
            continue
        name = func.attr
        on_sa = isinstance(func.value, ast.Name) and func.value.id in SQL_MODULES
        if on_sa and name in STATEMENTS | {"text", "Table"}:
            found.append((node.lineno, f"calls sa.{name}()"))
        elif name in STATEMENTS and bare:  # table.insert() / .update() / .delete()
            found.append((node.lineno, f"builds a statement with .{name}()"))
        elif name in {"exec_driver_sql", "create_all", "drop_all", "executemany"}:
            found.append((node.lineno, f"calls .{name}()"))
        elif name == "begin" and bare:  # a write transaction on a store, engine or connection
            found.append((node.lineno, "opens a write transaction with .begin()"))
        elif name == "create" and any(k.arg == "checkfirst" for k in node.keywords):
            found.append((node.lineno, "creates a table"))
    return found


def writes_outside_store() -> list[str]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_relative_to(STORE):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, what in _writes(tree):
            out.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {what}")
    return out


def test_no_module_outside_the_store_writes_sql() -> None:
    found = writes_outside_store()
    assert not found, "only assay.store writes to the store; move these into it:\n" + "\n".join(
        found
    )


def test_the_scan_finds_each_kind_of_write() -> None:
    """The scanner itself: every way of writing it looks for is found, and reads are not."""
    writing = """
import sqlalchemy as sa
from sqlalchemy import insert
from assay.store.db import upsert
conn.execute(schema.runs.insert().values(id=1))
conn.execute(t.update().where(t.c.id == 1).values(status="x"))
conn.execute(t.delete())
conn.execute(sa.text("DELETE FROM runs"))
conn.exec_driver_sql("DROP TABLE runs")
ledger = sa.Table("x", meta)
meta.create_all(engine, checkfirst=True)
with store.begin() as conn:
    upsert(conn, t, rows)
"""
    found = _writes(ast.parse(writing))
    assert sorted({line for line, _ in found}) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    reading = """
import sqlalchemy as sa
with store.connect() as conn:
    rows = conn.execute(sa.select(t.c.id).where(t.c.x == 1)).all()
counts.update(other)
items.insert(0, x)
digest.update(b"x")
writer.begin(suite="s", source="x")
"""
    assert _writes(ast.parse(reading)) == []


def test_the_store_package_is_where_writes_are() -> None:
    """The scan is not vacuous: the store's own modules do write, and are the ones exempt."""
    writers = {
        path.name
        for path in STORE.rglob("*.py")
        if _writes(ast.parse(path.read_text(encoding="utf-8")))
    }
    assert {"writes.py", "imports.py", "db.py"} <= writers
