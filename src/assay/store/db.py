"""Opening the store and writing to it idempotently."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from assay.errors import UserError
from assay.store import schema

DEFAULT_DB = "assay.db"


def resolve_url(db: str | None) -> str:
    """`--db`, else `ASSAY_DB`, else ./assay.db. A bare path means a SQLite file."""
    value = db or os.environ.get("ASSAY_DB") or DEFAULT_DB
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser()}"


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()


class Store:
    """A connection pool to the results database, with the schema in place."""

    def __init__(self, url: str, *, readonly: bool = False) -> None:
        self.url = url
        self.readonly = readonly
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("sqlite:///", 1)[-1]
            if readonly and not Path(path).exists():
                raise UserError(
                    f"no results database at {path!r}: run `assay run` first or pass --db"
                )
            if path and not readonly:
                parent = Path(path).parent
                if not parent.exists():
                    raise UserError(
                        f"cannot create the database {path!r}: folder {str(parent)!r}"
                        " does not exist"
                    )
        try:
            self.engine: Engine = sa.create_engine(
                url, json_serializer=_dumps, json_deserializer=orjson.loads
            )
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise UserError(
                f"cannot open database {url!r}: {exc}. For PostgreSQL install "
                "'assay[postgres]' and use postgresql+psycopg://..."
            ) from exc
        if self.is_sqlite:
            sa.event.listen(self.engine, "connect", self._sqlite_pragmas)
        if not readonly:
            self._ensure_schema()

    def _sqlite_pragmas(self, dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        if self.readonly:
            cursor.execute("PRAGMA query_only=ON")
        else:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    def _ensure_schema(self) -> None:
        try:
            with self.engine.begin() as conn:
                schema.metadata.create_all(conn)
                found = conn.execute(
                    sa.select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")
                ).scalar()
                if found is None:
                    conn.execute(
                        schema.meta.insert().values(
                            key="schema_version", value=str(schema.SCHEMA_VERSION)
                        )
                    )
                elif int(found) > schema.SCHEMA_VERSION:
                    raise UserError(
                        f"database {self.url!r} was written by a newer assay (schema "
                        f"{found}); upgrade assay"
                    )
        except sa.exc.DatabaseError as exc:
            raise UserError(
                f"cannot use database {self.url!r}: {exc.orig}. Is it an assay "
                "database? Pass another path with --db"
            ) from exc
        except sa.exc.OperationalError as exc:
            raise UserError(f"cannot open database {self.url!r}: {exc.orig}") from exc

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    @property
    def location(self) -> str:
        if self.is_sqlite:
            return self.url.split("sqlite:///", 1)[-1]
        return self.engine.url.render_as_string(hide_password=True)


def upsert(
    conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]], *, update: bool = True
) -> None:
    """Insert rows; on a primary-key clash replace them (update=True) or keep the old ones."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    else:  # pragma: no cover - other databases are not supported
        raise UserError(f"unsupported database dialect {dialect!r}: use SQLite or PostgreSQL")
    stmt = insert(table)
    keys = [c.name for c in table.primary_key.columns]
    if update:
        changing = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=changing)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    conn.execute(stmt, list(rows))


def now() -> float:
    return time.time()
