"""Copy one store into another (SQLite and PostgreSQL either way), table by table in
primary-key order, in batches, then verify each table on both sides: row count and a content
checksum that does not depend on the order rows come back in."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from assay.errors import UserError
from assay.store import schema
from assay.store.db import Store, nul_as_postgres_stores_it, upsert

BATCH_ROWS = 500
_MOD = 1 << 256


@dataclass(frozen=True)
class TableCheck:
    table: str
    source_rows: int
    copied_rows: int
    source_checksum: str
    copy_checksum: str

    @property
    def ok(self) -> bool:
        return (self.source_rows, self.source_checksum) == (self.copied_rows, self.copy_checksum)

    def line(self) -> str:
        verdict = "verified" if self.ok else "MISMATCH"
        counts = (
            f"{self.source_rows} rows"
            if self.source_rows == self.copied_rows
            else f"{self.source_rows} rows in SRC but {self.copied_rows} in DST"
        )
        digest = (
            f"checksum {self.source_checksum[:16]}"
            if self.source_checksum == self.copy_checksum
            else f"checksums {self.source_checksum[:16]} != {self.copy_checksum[:16]}"
        )
        return f"{self.table}: {counts}, {digest}, {verdict}"


def tables_of(source: Store) -> list[sa.Table]:
    """The store's tables in foreign-key order (parents first); a store made by an older assay
    (read as it is) may lack the newer ones."""
    with source.connect() as conn:
        present = set(sa.inspect(conn).get_table_names())
    return [t for t in schema.metadata.sorted_tables if t.name in present]


def copy_store(
    source: Store,
    target: Store,
    *,
    replace: bool = False,
    batch_rows: int = BATCH_ROWS,
    report: Callable[[TableCheck], None] = lambda _: None,
) -> list[TableCheck]:
    """Copy every table of `source` into `target` (whose schema is in place), then verify it.
    A target holding results is refused unless `replace`, which empties it first."""
    tables = tables_of(source)
    for table in tables:
        if table.name != schema.meta.name:
            table.create(target.engine, checkfirst=True)
    held = [t.name for t in tables if t.name != schema.meta.name and _count(target, t)]
    if held and not replace:
        raise UserError(
            f"DST {target.location} already holds results (tables: {', '.join(held)}): copy "
            "into a new database, or pass --replace to empty it first"
        )
    if held:
        with target.begin() as conn:
            for table in reversed(tables):
                if table.name != schema.meta.name:
                    conn.execute(table.delete())
    checks = []
    for table in tables:
        columns = _shared_columns(source, target, table)
        source_sum = _Checksum()
        for rows in _batches(source, table, columns, batch_rows):
            source_sum.add(rows)
            with target.begin() as conn:
                upsert(conn, table, rows)
        target_sum = _Checksum()
        for rows in _batches(target, table, columns, batch_rows):
            target_sum.add(rows)
        check = TableCheck(
            table.name, source_sum.rows, target_sum.rows, source_sum.hex(), target_sum.hex()
        )
        report(check)
        checks.append(check)
    return checks


def _count(store: Store, table: sa.Table) -> int:
    with store.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _shared_columns(source: Store, target: Store, table: sa.Table) -> list[sa.Column[Any]]:
    """The table's columns both stores have (a store made by an older assay may lack some)."""
    names = []
    for store in (source, target):
        with store.connect() as conn:
            names.append({c["name"] for c in sa.inspect(conn).get_columns(table.name)})
    return [c for c in table.columns if c.name in names[0] & names[1]]


def _batches(
    store: Store, table: sa.Table, columns: list[sa.Column[Any]], size: int
) -> Iterator[list[dict[str, Any]]]:
    """The table's rows in primary-key order, `size` at a time: each batch is its own short
    query continuing after the last key seen, so memory holds one batch."""
    key = list(table.primary_key.columns)
    after: tuple[Any, ...] | None = None
    while True:
        query = sa.select(*columns).order_by(*key).limit(size)
        if after is not None:
            query = query.where(sa.tuple_(*key) > sa.tuple_(*after))
        with store.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        if not rows:
            return
        yield rows
        after = tuple(rows[-1][c.name] for c in key)
        if len(rows) < size:
            return


class _Checksum:
    """Sum of per-row SHA-256 digests modulo 2**256: equal for equal multisets of rows in any
    order (SQLite and PostgreSQL order text keys differently). Rows are hashed as canonical JSON
    (values in column order, JSON keys sorted, NUL as PostgreSQL stores it), so a JSONB value
    equals its SQLite original."""

    def __init__(self) -> None:
        self.rows = 0
        self.total = 0

    def add(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            canonical = orjson.dumps(
                list(row.values()), option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY
            )
            text = nul_as_postgres_stores_it(canonical.decode())
            digest = hashlib.sha256(text.encode()).digest()
            self.total = (self.total + int.from_bytes(digest, "big")) % _MOD
            self.rows += 1

    def hex(self) -> str:
        return f"{self.total:064x}"
