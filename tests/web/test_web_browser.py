"""The viewer in a real headless Chromium (Debian's, driven by Playwright), served by uvicorn.

Also takes the README screenshots: set ASSAY_SCREENSHOTS=docs/img to write them.
"""

from __future__ import annotations

import os
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.web.browser import chromium, serve

from assay.store.db import Store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(store: Store) -> Iterator[str]:
    from assay.web.app import create_app

    app = create_app(store)
    with serve(app) as base:
        with urllib.request.urlopen(base + "/", timeout=10) as first:  # starts the win-rate CIs
            assert first.status == 200
        app.state.viewer.standings.wait()
        yield base


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Any]:
    with chromium(width=1280, height=900) as tab:
        yield tab.page


def shoot(page: Any, name: str) -> None:
    folder = os.environ.get("ASSAY_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=False)


def models_in_order(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("#leaderboard td.model a.model-link").all_inner_texts()]


def test_leaderboard_run_filter_search_sample(page: Any, server: str) -> None:
    page.goto(server + "/")
    assert models_in_order(page)[0] == "mock/oracle"
    shoot(page, "leaderboard.png")
    page.click("#leaderboard th >> text=model")
    page.wait_for_url("**sort=model**")
    names = models_in_order(page)
    assert names == sorted(names, key=str.lower)
    assert "sort=model" in page.url

    page.goto(server + "/")
    row = page.locator("#leaderboard tr", has_text="mock/random")
    row.locator("td.num a").nth(1).click()  # columns: gsm8k, mmlu, xss
    page.wait_for_url("**/runs/**")
    assert page.locator("h1").inner_text() == "mmlu · mock/random?seed=1"

    page.select_option("select[name=outcome]", "incorrect")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**outcome=incorrect**")
    rows = page.locator("#samples-table tbody tr")
    assert rows.count() > 0
    assert rows.count() == page.locator("#samples-table tbody tr.bad").count()

    page.fill("input[name=q]", "which")
    page.select_option("select[name=outcome]", "")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**q=which**")
    found = int(page.locator("#match-count").inner_text().split()[0])
    assert 0 < found < 60 == page.locator("#samples-table tbody tr").count() + 60 - found

    page.locator("#samples-table a.sample-link").first.click()
    page.wait_for_url("**/samples/**")
    assert "which" in page.locator("section.request").first.inner_text().lower()
    assert "/samples/" in page.url
    page.click("details.raw-response summary")
    raw = page.locator("pre.raw-response").inner_text()
    assert '"text"' in raw and '"finish_reason"' in raw
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, "sample.png")


def test_compare_two_models(page: Any, server: str) -> None:
    page.goto(server + "/compare?benchmark=mmlu")
    boxes = page.locator("fieldset input[name=run]")
    assert boxes.count() == 3
    for i in range(3):
        boxes.nth(i).uncheck()
    page.locator("fieldset label", has_text="mock/oracle").locator("input").check()
    page.locator("fieldset label", has_text="mock/constant").locator("input").check()
    page.select_option("select[name=differ]", "score")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**differ=score**")
    header = page.locator("#compare-table thead").inner_text()
    assert "mock/oracle" in header and "mock/constant" in header
    rows = page.locator("#compare-table tbody tr")
    assert rows.count() > 0
    heads = page.locator("#compare-table thead th").all_inner_texts()
    oracle = next(i for i, h in enumerate(heads) if "mock/oracle" in h)
    constant = next(i for i, h in enumerate(heads) if "mock/constant" in h)
    for i in range(rows.count()):  # the oracle is right, the constant model wrong, on each row
        cells = rows.nth(i).locator("td")
        assert "ok" in (cells.nth(oracle).get_attribute("class") or "")
        assert "bad" in (cells.nth(constant).get_attribute("class") or "")
    rows.first.locator("a.sample-link").click()
    page.wait_for_url("**/compare/sample**")
    assert page.locator(".side section").count() == 2


def test_xss_payload_renders_inert(page: Any, server: str, find_run: Any) -> None:
    alerts: list[str] = []
    page.on("dialog", lambda d: (alerts.append(d.message), d.dismiss()))
    run = find_run("xss", "mock/oracle")
    for url in (f"/runs/{run}", f"/runs/{run}/samples/x1", f"/compare/sample?run={run}&id=x1"):
        page.goto(server + url)
        assert page.evaluate("window.__xss === undefined")
        assert page.locator("main script").count() == 0
        assert page.locator("main img").count() == 0
    assert re.search(r"<script>window.__xss = 1</script>", page.locator("main").inner_text())
    assert alerts == []
