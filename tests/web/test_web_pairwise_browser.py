"""The pairwise pages in real Chromium: every page a researcher follows from the benchmark page
opens with no console error (a CSP violation, a failed script), hostile model text runs no
script, and a sample's two answers stand side by side."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from tests.web.browser import chromium, serve
from tests.web.pairwise_store import SUITE, build_pairwise_store

from assay.store.db import Store

pytestmark = pytest.mark.slow


def test_the_pairwise_pages_open_cleanly(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> None:
    from assay.web.app import create_app

    judged = build_pairwise_store(tmp_path_factory.mktemp("pairwise-browser"), data_dir)
    store = Store(judged.url, readonly=True)
    try:
        with serve(create_app(store)) as base, chromium() as tab:
            opened = []

            def visit(url: str) -> None:
                response = tab.goto(url)
                assert response is not None and response.status == 200, url
                assert tab.errors == [], (url, tab.errors)
                assert tab.page.evaluate("window.__xss") is None, url
                opened.append(url)

            def follow(selector: str) -> None:
                with tab.page.expect_navigation(wait_until="load"):
                    tab.page.locator(selector).first.click()

            visit(f"{base}/benchmarks/gsm8k?suite={quote(SUITE)}")
            follow("#pairwise-link a")
            assert tab.errors == []
            assert tab.page.locator("section.pairwise-view").count() == 3
            follow("a.pair-samples")
            assert tab.errors == [] and "/pairwise/samples" in tab.page.url
            follow("a.pair-sample")
            assert tab.errors == [] and "/pairwise/sample?" in tab.page.url
            answers = tab.page.locator("#answers section.answer")
            assert answers.count() == 2
            first, second = answers.nth(0).bounding_box(), answers.nth(1).bounding_box()
            assert first and second and second["x"] > first["x"] + first["width"] - 1
            assert abs(first["y"] - second["y"]) < 2  # side by side, not stacked
            follow("a.run-sample")
            assert tab.errors == [] and "/runs/" in tab.page.url
            follow("#pairwise-verdicts a")
            assert tab.errors == [] and "/pairwise/sample?" in tab.page.url
            visit(f"{base}/?suite={quote(SUITE)}")
            follow("#pairwise-benchmarks a")
            assert tab.errors == [] and tab.page.locator("section.pairwise-view").count() == 3
            visit(f"{base}/pairwise?suite={quote(SUITE)}")
    finally:
        store.close()
