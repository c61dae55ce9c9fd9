"""Opening the store and writing to it idempotently."""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from assay.checks import is_host
from assay.errors import UserError
from assay.store import migrate, schema
from assay.store.sqlite_file import ASSAY_TABLES, MARKER_KEY, busy, check_sqlite_path, file_uri

DEFAULT_DB = "assay.db"
# How long a statement waits for another writer's lock before the store reports itself busy.
BUSY_TIMEOUT_MS = 10_000


def resolve_url(db: str | None) -> str:
    """`--db`, else `ASSAY_DB`, else ./assay.db. A bare path means a SQLite file."""
    value = db or os.environ.get("ASSAY_DB") or DEFAULT_DB
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser()}"


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()


# PostgreSQL stores no NUL character (text and jsonb refuse it): there it becomes U+FFFD.
_NUL, _NUL_JSON, _REPLACEMENT = "\x00", "\\u0000", "\ufffd"
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")  # not the text "\u0000" itself


def nul_as_postgres_stores_it(text: str) -> str:
    """JSON text with each escaped NUL replaced as PostgreSQL needs (see `_dumps_pg`)."""
    return _NUL_ESCAPE.sub("\\1" + _REPLACEMENT, text) if _NUL_JSON in text else text


def _dumps_pg(value: Any) -> str:
    return nul_as_postgres_stores_it(_dumps(value))


def _without_nul(row: Mapping[str, Any]) -> Mapping[str, Any]:
    if not any(isinstance(v, str) and _NUL in v for v in row.values()):
        return row
    return {k: v.replace(_NUL, _REPLACEMENT) if isinstance(v, str) else v for k, v in row.items()}


def _with_driver(url: str) -> str:
    """postgresql:// and postgres:// mean psycopg 3, the driver the postgres extra installs
    (SQLAlchemy's own default, psycopg2, is not a dependency)."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def _shown(url: str) -> str:
    """The URL for messages: never the password."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return url.split("@")[-1] if "@" in url else url


def display_url(url: str) -> str:
    """The URL as `Store.location` shows a server database: driver named, no password."""
    return _shown(_with_driver(url))


def _check_server_url(url: str) -> None:
    """A port in 1..65535 and a well-formed host, said in one line before connecting."""
    example = "write e.g. postgresql://user@127.0.0.1:5432/assay"
    try:
        parsed = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise UserError(f"--db {_shown(url)!r} is not a database URL ({exc}): {example}") from None
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise UserError(f"--db {_shown(url)!r}: port {parsed.port} is impossible: {example}")
    if parsed.host and not is_host(parsed.host):
        raise UserError(f"--db {_shown(url)!r}: {parsed.host!r} is not a host name: {example}")


def _one_line(exc: sa.exc.DBAPIError) -> str:
    return " ".join(str(exc.orig).split())


def is_locked(exc: BaseException) -> bool:
    """SQLite's "database is locked" (another writer holds it past the busy timeout)."""
    return "database is locked" in str(getattr(exc, "orig", exc))


class Store:
    """A connection pool to the results database, with the schema in place."""

    def __init__(self, url: str, *, readonly: bool = False) -> None:
        url = _with_driver(url)
        self.url = url
        self.readonly = readonly
        self.is_sqlite = url.startswith("sqlite")
        self.path: Path | None = None
        if self.is_sqlite:
            path = url.split("sqlite:///", 1)[-1] if "sqlite:///" in url else ""
            if path and path != ":memory:" and not path.startswith("file:"):
                self.path = Path(path)
                found = check_sqlite_path(self.path, readonly=readonly)
                if not found.writable:  # read-only storage: read it in place, touching nothing
                    url = "sqlite:///" + file_uri(self.path) + "&uri=true"
        if not self.is_sqlite:
            _check_server_url(url)
        try:
            self.engine: Engine = sa.create_engine(
                url,
                json_serializer=_dumps if self.is_sqlite else _dumps_pg,
                json_deserializer=orjson.loads,
            )
        except ImportError as exc:
            if url.startswith("postgresql"):
                raise UserError(
                    f"PostgreSQL needs the psycopg driver ({exc}): pip install 'assay[postgres]'"
                ) from exc
            raise UserError(f"cannot open database {_shown(url)!r}: {exc}") from exc
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
            raise UserError(
                f"cannot open database {_shown(url)!r}: {exc}. For PostgreSQL install "
                "'assay[postgres]' and use postgresql+psycopg://..."
            ) from exc
        if self.is_sqlite:
            sa.event.listen(self.engine, "connect", self._sqlite_pragmas)
        else:
            if readonly:
                sa.event.listen(self.engine, "connect", _read_only_session)
            self._check_server(has_schema=readonly)
        if not readonly:
            self._ensure_schema()

    def _check_server(self, *, has_schema: bool) -> None:
        """Connect once, so an unreachable server or a wrong password is one clear line."""
        try:
            with self.engine.connect() as conn:
                self._refuse_foreign_tables(conn)
                if has_schema and not sa.inspect(conn).has_table(schema.meta.name):
                    raise UserError(
                        f"no assay results in {self.location}: run `assay run --db URL` first"
                    )
        except sa.exc.DBAPIError as exc:
            raise UserError(f"cannot connect to {self.location}: {_one_line(exc)}") from exc

    def _refuse_foreign_tables(self, conn: Connection) -> None:
        """A server database that holds another application's tables and no assay store:
        assay will not add its tables beside them (the same rule as for SQLite files).
        Only assay's own tables and no marker yet is another process creating the store."""
        tables = set(sa.inspect(conn).get_table_names())
        if not tables or tables <= ASSAY_TABLES:
            return
        if schema.meta.name in tables:
            marker = conn.execute(
                sa.select(schema.meta.c.value).where(schema.meta.c.key == MARKER_KEY)
            ).first()
            if marker is not None:
                return
        listed = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise UserError(
            f"{self.location} holds another application's tables ({listed}) and no assay "
            "store; assay will not add its tables to it: create a database for assay "
            "(createdb assay) and pass its URL with --db"
        )

    def _sqlite_pragmas(self, dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        # first: switching to WAL needs a lock another process creating the store may hold
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if self.readonly:
            cursor.execute("PRAGMA query_only=ON")
        else:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    def _ensure_schema(self) -> None:
        """Create or upgrade the schema (Alembic migrations) when it is not at the newest
        revision: a writer upgrades the store it opens; readers read it as it is."""
        try:
            if not migrate.is_current(self.engine):
                migrate.upgrade(self.engine, self.location)
        except sa.exc.DatabaseError as exc:
            if not self.is_sqlite:
                raise UserError(f"cannot use database {self.location}: {_one_line(exc)}") from exc
            if is_locked(exc):
                raise busy(self.location) from exc
            raise UserError(
                f"cannot use database {self.location!r}: {_one_line(exc)}. Is it an assay "
                "database? Pass another path with --db"
            ) from exc

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

    def failure(self, exc: sa.exc.DBAPIError) -> UserError:
        """One line for a database error in the middle of work: lost server, refused write."""
        if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
            return UserError(
                f"lost the results database {self.location} ({_one_line(exc)}): what was "
                "finished is saved; run the same command again when the database is back"
            )
        return UserError(f"the results database {self.location} refused a write: {_one_line(exc)}")

    @property
    def location(self) -> str:
        if self.path is not None:
            return str(self.path)
        if self.is_sqlite:
            return self.url.split("sqlite:///", 1)[-1]
        return self.engine.url.render_as_string(hide_password=True)


def _read_only_session(dbapi_conn: Any, _record: Any) -> None:
    """PostgreSQL's counterpart of SQLite's query_only: every transaction is read-only."""
    cursor = dbapi_conn.cursor()
    cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    cursor.close()
    dbapi_conn.commit()


def _insert(conn: Connection, table: sa.Table) -> Any:
    return _insert_for(conn.dialect.name, table)


def _insert_for(dialect: str, table: sa.Table) -> Any:
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    else:  # pragma: no cover - other databases are not supported
        raise UserError(f"unsupported database dialect {dialect!r}: use SQLite or PostgreSQL")
    return insert(table)


def insert_if_absent(conn: Connection, table: sa.Table, row: Mapping[str, Any]) -> bool:
    """Insert one row unless its primary key is taken (by anyone, even concurrently); True
    when this call inserted it."""
    check_lengths(table, [row])
    if conn.dialect.name == "postgresql":
        row = _without_nul(row)
    keys = list(table.primary_key.columns)
    stmt = _insert(conn, table).values(**row).on_conflict_do_nothing().returning(*keys)
    # a row comes back only when inserted (psycopg reports rowcount -1 for a skipped insert)
    return conn.execute(stmt).first() is not None


# What each limited column holds, in the user's words (the rest use "table.column").
_COLUMN_WORDS = {
    ("suites", "name"): "suite name",
    ("suite_runs", "suite"): "suite name",
    ("runs", "benchmark"): "benchmark (with its parameters)",
    ("runs", "benchmark_name"): "benchmark name",
    ("runs", "benchmark_version"): "benchmark version",
    ("runs", "model"): "model name (with its settings)",
    ("runs", "main_metric"): "metric name",
    ("samples", "sample_id"): "sample id",
    ("samples", "split"): "split name",
    ("requests", "sample_id"): "sample id",
    ("scores", "sample_id"): "sample id",
    ("scores", "metric"): "metric name",
    ("cache", "model"): "model name (with its settings)",
}


def check_lengths(table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Refuse, in one line, a value longer than its column allows.

    PostgreSQL refuses such a write and SQLite would store it silently: checking first makes
    both behave the same, before anything is written.
    """
    limited = _limited_columns(table)
    if not limited:
        return
    for row in rows:
        for name, length in limited:
            value = row.get(name)
            if isinstance(value, str) and len(value) > length:
                what = _COLUMN_WORDS.get((table.name, name), f"{table.name}.{name}")
                shown = value[:40] + "..." if len(value) > 40 else value
                raise UserError(
                    f"{what} {shown!r} is {len(value)} characters long; the results store "
                    f"allows at most {length}: shorten it"
                )


@functools.cache
def _limited_columns(table: sa.Table) -> tuple[tuple[str, int], ...]:
    """The table's string columns with a length limit (looked up once per table)."""
    return tuple(
        (c.name, c.type.length)
        for c in table.columns
        if isinstance(c.type, sa.String) and c.type.length is not None
    )


def upsert(
    conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], *, update: bool = True
) -> None:
    """Insert rows; on a primary-key clash replace them (update=True) or keep the old ones."""
    if not rows:
        return
    check_lengths(table, rows)
    if conn.dialect.name == "sqlite":
        fast = _sqlite_upsert(conn.dialect, table, update, tuple(rows[0]))
        if fast is not None:
            sql, columns = fast
            conn.exec_driver_sql(
                sql,
                [tuple(row[n] if f is None else f(row[n]) for n, f in columns) for row in rows],
            )
            return
    if conn.dialect.name == "postgresql":
        rows = [_without_nul(row) for row in rows]
    conn.execute(_upsert_statement(conn.dialect.name, table, update), list(rows))


@functools.cache
def _sqlite_upsert(
    dialect: sa.Dialect, table: sa.Table, update: bool, keys: tuple[str, ...]
) -> tuple[str, tuple[tuple[str, Any], ...]] | None:
    """The upsert compiled once for these columns, with each column's own bind processor (JSON
    encoding, none_as_null): the rows then go to the driver as tuples. SQLAlchemy's executemany
    processed each row's parameters in Python, which made most of a flush's cost. None when
    the statement needs more than the rows give (a Python-side default): the general path."""
    compiled = _upsert_statement("sqlite", table, update).compile(
        dialect=dialect, column_keys=list(keys)
    )
    names = compiled.positiontup or []
    if not set(names) <= set(keys):
        return None
    columns = tuple(
        (n, table.c[n].type.dialect_impl(dialect).bind_processor(dialect)) for n in names
    )
    return str(compiled), columns


@functools.cache
def _upsert_statement(dialect: str, table: sa.Table, update: bool) -> Any:
    """One statement per dialect, table and mode, built once: building it (the `excluded`
    columns) and compiling a new one cost milliseconds, which every flush of every run paid."""
    stmt = _insert_for(dialect, table)
    keys = [c.name for c in table.primary_key.columns]
    if update:
        changing = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
        return stmt.on_conflict_do_update(index_elements=keys, set_=changing)
    return stmt.on_conflict_do_nothing(index_elements=keys)


def now() -> float:
    return time.time()
