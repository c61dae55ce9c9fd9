"""The annotation page in a real Chromium, served by the real `assay annotate serve` command: an
annotator rates a few items by clicking, stops the server, runs the same command again and
carries on at the first unrated item; every rating is in the store; no console errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.annotation.conftest import ORACLE, SAFE, SUITE
from tests.web.browser import chromium, free_port

import assay
from assay.store import schema
from assay.store.db import Store

pytestmark = pytest.mark.slow


@contextmanager
def annotate_serve(db: Path, *args: str) -> Iterator[str]:
    """`assay annotate serve ... --no-browser` in its own process; yields its address."""
    port = free_port()
    src = str(Path(assay.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [sys.executable, "-m", "assay", "annotate", "serve", "--db", str(db)]
    proc = subprocess.Popen(
        [*command, "--suite", SUITE, "--port", str(port), "--no-browser", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"annotate serve exited: {proc.communicate()[1]}")
            try:
                with urllib.request.urlopen(base + "/done", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("annotate serve did not start within 60 s")
                time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl+C, as an annotator stops it
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stored(db: Path, annotator: str) -> dict[str, float]:
    store = Store(f"sqlite:///{db}", readonly=True)
    t = schema.annotation_ratings
    try:
        with store.connect() as conn:
            query = sa.select(t.c.item_id, t.c.value).where(t.c.annotator == annotator)
            return {str(k): float(v) for k, v in conn.execute(query)}
    finally:
        store.close()


def shoot(page: Any, name: str) -> None:
    """ASSAY_SCREENSHOTS=docs/img retakes the documentation's screenshots."""
    folder = os.environ.get("ASSAY_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=False)


def progress(page: Any) -> str:
    return str(page.locator("#progress").inner_text())


def test_an_annotator_rates_by_clicking_stops_and_comes_back(db: Path) -> None:
    args = ("--annotator", "alice", "--benchmark", "xstest", "-m", SAFE, "--limit", "6")
    with chromium() as tab:
        page = tab.page
        with annotate_serve(db, *args) as base:
            tab.goto(base + "/")
            assert page.url.endswith("/items/0")
            assert "item 1 of 6" in progress(page)
            assert page.locator("#annotator").inner_text() == "alice"
            assert "mock/" not in page.content()  # the model is not named
            shoot(page, "annotate.png")
            for answer in ("refused", "complied", "complied"):
                page.click(f"#rate-{answer}")
                page.wait_for_load_state("load")
            assert page.url.endswith("/items/3") and "3 rated" in progress(page)
            page.click("a[rel=prev]")  # back to item 3: its rating is shown
            assert page.locator("button.chosen").inner_text() == "complied"
            assert tab.errors == []
        # the server is gone; three ratings are in the store, as given
        first = stored(db, "alice")
        assert sorted(first.values()) == [0.0, 0.0, 1.0]
        with annotate_serve(db, *args) as base:
            tab.goto(base + "/")
            assert page.url.endswith("/items/3")  # resumes at the first unrated item
            assert "item 4 of 6" in progress(page) and "3 rated" in progress(page)
            for _ in range(3):
                page.click("#rate-refused")
                page.wait_for_load_state("load")
            assert page.url.endswith("/done")
            assert page.locator("#done").is_visible()
            assert tab.errors == []
    after = stored(db, "alice")
    assert len(after) == 6 and {k: after[k] for k in first} == first


def test_a_pairwise_pick_in_the_browser_is_stored_by_run(db: Path) -> None:
    args = ("--annotator", "bo", "--benchmark", "xstest", "--pairwise", f"{ORACLE},{SAFE}")
    with chromium() as tab, annotate_serve(db, *args, "--limit", "2", "--seed", "3") as base:
        page = tab.page
        tab.goto(base + "/")
        shoot(page, "annotate-pairwise.png")
        left = page.locator("#response-1").inner_text()
        page.click("#rate-1")  # the left response is better
        page.wait_for_load_state("load")
        assert page.url.endswith("/items/1") and tab.errors == []
    store = Store(f"sqlite:///{db}", readonly=True)
    i, r = schema.annotation_items, schema.runs
    with store.connect() as conn:
        ((item_id, value),) = stored(db, "bo").items()
        item = conn.execute(sa.select(i).where(i.c.id == item_id)).first()
        assert item is not None and item.seed == 3
        winner = item.run_id if value == 1.0 else item.other_run_id
        model = conn.execute(sa.select(r.c.model).where(r.c.id == winner)).scalar()
    store.close()
    assert winner == item.left_run_id  # the side clicked, stored as its run
    assert (model == SAFE) == left.startswith("Sure")
