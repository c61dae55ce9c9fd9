"""Alembic migrations of the results store, run by `assay.store.migrate` (no alembic.ini)."""
