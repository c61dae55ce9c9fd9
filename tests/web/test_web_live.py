"""A run in progress, in real Chromium: the live box and the samples table update together from
one render, the latest samples link to their pages, the running mean has a CI, and the
leaderboard shows the running model's cell marked unfinished."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.web.browser import chromium, serve

from assay.store import schema
from assay.store.db import Store

pytestmark = pytest.mark.slow


def hold_back_half(db: Path, run: str) -> dict[str, list[dict[str, Any]]]:
    """Delete the run's odd-position samples and mark it running; returns what was deleted."""
    writer = Store(f"sqlite:///{db}")
    s, rq, sc = schema.samples, schema.requests, schema.scores
    odd = sa.select(s.c.sample_id).where(s.c.run_id == run, s.c.idx % 2 == 1)
    with writer.begin() as conn:
        held = {
            t.name: [
                dict(r)
                for r in conn.execute(
                    sa.select(t).where(t.c.run_id == run, t.c.sample_id.in_(odd))
                ).mappings()
            ]
            for t in (rq, sc, s)
        }
        ids = [r["sample_id"] for r in held["samples"]]
        for t in (rq, sc, s):
            conn.execute(t.delete().where(t.c.run_id == run, t.c.sample_id.in_(ids)))
        conn.execute(
            schema.runs.update()
            .where(schema.runs.c.id == run)
            .values(status="running", summary=None, n_samples=None)
        )
    writer.close()
    return held


def test_live_page_and_leaderboard_follow_a_running_run(
    tmp_path: Path, viewer_db: Path, find_run: Any
) -> None:
    from playwright.sync_api import expect

    from assay.web.app import create_app

    db = tmp_path / "live.db"
    with sqlite3.connect(viewer_db) as source, sqlite3.connect(db) as target:
        source.backup(target)
    run = find_run("mmlu", "mock/oracle")
    held = hold_back_half(db, run)
    app = create_app(Store(f"sqlite:///{db}", readonly=True))
    with serve(app) as base, chromium() as tab:
        tab.goto(base + "/")
        unfinished = tab.page.locator("#leaderboard a.unfinished")
        assert unfinished.count() == 1
        assert unfinished.get_attribute("href") == f"/runs/{run}"
        assert unfinished.inner_text() == "1.000"  # the oracle's running mean

        tab.goto(f"{base}/runs/{run}?per_page=200")
        left = 60 - len(held["samples"])
        assert 0 < left < 60
        assert tab.page.locator("#live-done").inner_text() == str(left)
        assert tab.page.locator("#match-count").inner_text().startswith(f"{left} samples")
        assert tab.page.locator("#samples-table tbody tr").count() == left
        assert f"n={left}" in tab.page.locator("#live-ci").inner_text()
        recent = tab.page.locator("#live-recent a")
        assert recent.count() == 10
        recent.first.click()
        tab.page.wait_for_url("**/samples/**")
        tab.page.go_back()

        writer = Store(f"sqlite:///{db}")
        s, rq, sc = schema.samples, schema.requests, schema.scores
        with writer.begin() as conn:
            for t in (s, rq, sc):
                conn.execute(t.insert(), held[t.name])
        expect(tab.page.locator("#live-done")).to_have_text("60", timeout=20_000)
        # the same render fed the box and the table
        assert tab.page.locator("#match-count").inner_text().startswith("60 samples")
        assert tab.page.locator("#samples-table tbody tr").count() == 60
        with writer.begin() as conn:
            conn.execute(
                schema.runs.update().where(schema.runs.c.id == run).values(status="finished")
            )
        expect(tab.page.locator("#live")).to_have_count(0, timeout=20_000)
        assert tab.errors == []
        writer.close()
