"""Bring a store's schema to the newest revision with Alembic, safely against a concurrent
creator: SQLite takes its write lock (BEGIN IMMEDIATE) and PostgreSQL a transaction-scoped
advisory lock before looking, so of two processes opening a new store at once one creates it
and the other finds it made."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from assay.errors import UserError
from assay.store import schema

if TYPE_CHECKING:
    from alembic.config import Config

# The newest revision in migrations/versions (a test keeps the two in step): a store already
# there is opened without loading Alembic's scripts.
HEAD = "0008_run_stats"
BASELINE = "0001_baseline"
# pg_advisory_xact_lock key: "assay" in ASCII, any fixed number shared by every assay process
_PG_LOCK = 0x6173736179


# Alembic is imported only when a store needs creating or upgrading: opening a current store
# reads its revision with a plain query.
VERSION_TABLE = "alembic_version"


def _config(conn: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    location = resources.files("assay.store") / "migrations"
    config.set_main_option("script_location", str(location))
    config.attributes["connection"] = conn
    return config


def current_revision(conn: Connection) -> str | None:
    """The store's schema revision; None for a new store or one made before migrations."""
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return None
    found = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return str(found[0]) if len(found) == 1 else None


def is_current(engine: Engine) -> bool:
    """True when the store is at HEAD; a read, no lock."""
    with engine.connect() as conn:
        return current_revision(conn) == HEAD


def upgrade(engine: Engine, location: str) -> list[str]:
    """Create or upgrade the schema to HEAD in one locked transaction; the revisions applied."""
    from alembic import command
    from alembic.script import ScriptDirectory

    with engine.connect() as conn:
        _lock(conn)
        before = current_revision(conn)
        if before == HEAD:
            conn.rollback()
            return []
        script = ScriptDirectory.from_config(_config(conn))
        if before is not None and before not in {r.revision for r in script.walk_revisions()}:
            raise UserError(
                f"the database {location} was written by a newer assay (schema revision "
                f"{before}); upgrade assay"
            )
        if before is None and sa.inspect(conn).has_table(schema.meta.name):
            _check_marker(conn, location)
            command.stamp(_config(conn), BASELINE)  # made before migrations: adopt it
            before = BASELINE
        command.upgrade(_config(conn), "head")
        conn.commit()
        applied = [r.revision for r in script.iterate_revisions(HEAD, before or "base")]
        return list(reversed(applied))


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        # pysqlite opens no transaction before DDL; take the write lock explicitly, so the
        # whole creation is one transaction and a second creator waits for it
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})


def _check_marker(conn: Connection, location: str) -> None:
    found: Any = conn.execute(
        sa.select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")
    ).scalar()
    if found is not None and int(found) > schema.SCHEMA_VERSION:
        raise UserError(
            f"the database {location} was written by a newer assay (schema {found}); upgrade assay"
        )


def script_head() -> str | None:
    """The head revision of the packaged scripts (for the test that keeps HEAD in step)."""
    from alembic.script import ScriptDirectory

    with sa.create_engine("sqlite://").connect() as conn:
        return ScriptDirectory.from_config(_config(conn)).get_current_head()
