"""The new views in a real headless Chromium at a 1440 px screen: the leaderboard fits with its
model column fixed and switches metric-group tabs; perturbed and HumanEval samples; model pages.
Writes README screenshots when ASSAY_SCREENSHOTS=docs/img is set."""

from __future__ import annotations

import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.web.rich_store import PERTURBED, SUITE, RichStore
from tests.web.test_web_browser import ARGS, CHROMIUM, free_port, shoot

from assay.store.db import Store
from assay.web.benchmark_page import wait_breakdowns

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rich_server(rich: RichStore) -> Iterator[tuple[str, dict[str, str]]]:
    import uvicorn

    from assay.web.app import create_app

    store = Store(rich.url, readonly=True)
    app = create_app(store)
    port = free_port()
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the viewer did not start within 20 s")
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    with urllib.request.urlopen(f"{base}/?suite={SUITE}", timeout=10) as first:
        assert first.status == 200
    app.state.viewer.standings.wait()
    yield base, rich.ids
    instance.should_exit = True
    thread.join(timeout=10)
    store.close()


@pytest.fixture(scope="module")
def wide(rich_server: Any) -> Iterator[Any]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is needed: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        errors: list[str] = []
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.errors = errors
        yield tab
        browser.close()


def test_leaderboard_fits_1440_with_a_fixed_model_column_and_tabs(
    wide: Any, rich_server: Any
) -> None:
    base, _ = rich_server
    wide.goto(f"{base}/?suite={SUITE}")
    columns = wide.locator("#leaderboard thead th").count()
    assert columns >= 9 + 4  # model, win rate, cost, latency and at least 9 benchmarks
    page_width = wide.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 1440  # the page body does not overflow
    scroller = wide.locator(".board-scroll").first
    inner, outer = scroller.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert inner > outer  # the table scrolls inside its container instead
    model = wide.locator("#leaderboard td.model").first
    before = model.bounding_box()
    scroller.evaluate("e => { e.scrollLeft = e.scrollWidth }")
    wide.wait_for_function("document.querySelector('.board-scroll').scrollLeft > 0")
    after = model.bounding_box()
    assert before is not None and after is not None
    assert abs(after["x"] - before["x"]) < 1  # sticky: the model names stay in view
    last = wide.locator("#leaderboard tbody tr").first.locator("td").last.bounding_box()
    assert last is not None and last["x"] + last["width"] <= 1440
    scroller.evaluate("e => { e.scrollLeft = 0 }")
    shoot(wide, "leaderboard-wide.png")

    wide.click("#metric-tabs a[data-tab=robustness]")
    wide.wait_for_url("**tab=robustness**")
    assert "worst case" in wide.locator("#group-table thead").inner_text()
    assert wide.locator("#metric-tabs a.active").inner_text().startswith("robustness")
    shoot(wide, "leaderboard-robustness.png")
    wide.click("#metric-tabs a[data-tab=efficiency]")
    wide.wait_for_url("**tab=efficiency**")
    assert "tokens per sample" in wide.locator("#group-table thead").inner_text()
    wide.click("#metric-tabs a[data-tab=accuracy]")
    wide.wait_for_url(lambda url: "tab=" not in url)
    assert wide.locator("#leaderboard").count() == 1
    assert wide.errors == []


def test_model_and_benchmark_pages_from_the_leaderboard(wide: Any, rich_server: Any) -> None:
    base, _ = rich_server
    wide.goto(f"{base}/?suite={SUITE}")
    wide.locator("#leaderboard a.model-link", has_text="mock/constant").click()
    wide.wait_for_url("**/models/**")
    assert wide.locator("h1").inner_text() == "mock/constant"
    runs = [k for k in rich_server[1] if k.endswith("|mock/constant")]
    assert wide.locator("#model-runs tbody tr").count() == len(runs) >= 12
    shoot(wide, "model.png")
    wide.goto(f"{base}/?suite={SUITE}")
    wide.locator("#leaderboard th", has_text="mmlu").first.locator("a.about").click()
    wide.wait_for_url("**/benchmarks/mmlu**")
    wait_breakdowns()
    wide.reload()
    assert wide.locator("#breakdown-table tbody tr").count() > 1
    assert wide.evaluate("document.documentElement.scrollWidth") <= 1440


def test_perturbed_and_humaneval_samples(wide: Any, rich_server: Any) -> None:
    base, ids = rich_server
    wide.goto(f"{base}/runs/{ids[f'{PERTURBED}|mock/constant']}")
    wide.locator("#samples-table a.sample-link").first.click()
    wide.wait_for_url("**/samples/**")
    badges = wide.locator(".request h2 .badge.perturbation").all_inner_texts()
    assert [b.split("(")[0] for b in badges] == ["original", "typos", "lowercase", "dialect"]
    assert wide.locator("pre.diff ins.changed").first.is_visible()
    wide.goto(f"{base}/runs/{ids['humaneval|mock/constant']}")
    wide.locator("#samples-table a.sample-link").first.click()
    wide.wait_for_url("**/samples/**")
    program = wide.locator("#code-view pre.program").first.inner_text()
    assert program.count("\n") >= 3
    assert wide.locator("#code-view .sandbox-status").first.inner_text() in ("failed", "error")
    assert wide.locator("#code-view code.exception").first.inner_text()
    wide.locator("#code-view").scroll_into_view_if_needed()
    wide.evaluate("document.querySelector('#code-view').scrollIntoView()")
    shoot(wide, "humaneval-sample.png")
    assert wide.errors == []
