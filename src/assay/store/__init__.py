"""The store: the only place results live (SQLAlchemy Core; SQLite by default, PostgreSQL too)."""
