"""The new views in a real headless Chromium at a 1440 px screen: the leaderboard fits with its
model column fixed and switches metric-group tabs; perturbed and HumanEval samples; model pages.
Writes README screenshots when ASSAY_SCREENSHOTS=docs/img is set."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from tests.web.browser import chromium, serve
from tests.web.rich_store import PERTURBED, SUITE, RichStore
from tests.web.test_web_browser import shoot

from assay.store.db import Store
from assay.web.benchmark_page import wait_breakdowns

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rich_server(rich: RichStore) -> Iterator[tuple[str, dict[str, str]]]:
    from assay.web.app import create_app

    store = Store(rich.url, readonly=True)
    app = create_app(store)
    with serve(app) as base:
        with urllib.request.urlopen(f"{base}/?suite={SUITE}", timeout=10) as first:
            assert first.status == 200
        app.state.viewer.standings.wait()
        yield base, rich.ids
    store.close()


@pytest.fixture(scope="module")
def wide(rich_server: Any) -> Iterator[Any]:
    with chromium(width=1440, height=900) as tab:
        page = tab.page
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.errors = errors
        yield page


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
