"""Sample ids are the dataset's, so they can hold any character: `#`, `?`, `%`, `&`, quotes,
spaces, non-ASCII, slashes and dot segments (`../x`, `..`). Every sample's link from its run
page must open that sample, as a browser resolves the link (dot segments removed, `%2E`
included), not a 404 or another page."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from html import unescape
from urllib.parse import urljoin

import pytest
import sqlalchemy as sa
from tests.web.browser import chromium, serve

from assay.cli import main
from assay.store import schema
from assay.store.db import Store
from assay.web.app import create_app

IDS = [
    "a#1",
    "b?x=1&y=2",
    "c%2F",
    "d/e",
    "ü ñ",
    "f&amp;g",
    "h..",
    "../i",
    "j\\k",
    "k'\"<>",
    "..",
    ".",
]
IDS += ["l/./m", "n/../o", "%2E%2E"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    folder = tmp_path_factory.mktemp("ids")
    rows = [{"id": x, "q": f"question {i}", "a": "yes", "n": i} for i, x in enumerate(IDS)]
    (folder / "ids.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (folder / "ids.yaml").write_text(
        "name: odd-ids\ndata: {path: ids.jsonl}\n"
        "fields: {id: id, input: q, target: a, metadata: [n]}\nmetrics: [exact_match]\n"
    )
    db = folder / "ids.db"
    common = ["--db", str(db), "--no-progress", "--suite", "ids"]
    assert main(["run", str(folder / "ids.yaml"), "-m", "mock/oracle", *common]) == 0
    store = Store(f"sqlite:///{db}", readonly=True)
    with store.connect() as conn:
        (run_id,) = conn.execute(sa.select(schema.runs.c.id)).scalars().all()
    with serve(create_app(store)) as base:
        yield base, run_id
    store.close()


def sample_links(page: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]*/samples?[/?][^"]*)"', page)]


def test_every_sample_link_opens_its_sample(server: tuple[str, str]) -> None:
    base, run_id = server
    run_url = f"{base}/runs/{run_id}?per_page=100"
    with urllib.request.urlopen(run_url, timeout=60) as response:
        links = [x for x in sample_links(response.read().decode()) if "format=" not in x]
    assert len(links) == len(IDS)
    opened = set()
    for link in links:
        url = urljoin(run_url, link)  # resolves dot segments as a browser does
        with urllib.request.urlopen(url + ("&" if "?" in url else "?") + "format=json") as r:
            opened.add(json.loads(r.read())["sample_id"])
    assert opened == set(IDS)


@pytest.mark.slow
def test_sample_links_in_chromium(server: tuple[str, str]) -> None:
    base, run_id = server
    with chromium() as tab:
        tab.goto(f"{base}/runs/{run_id}?per_page=100")
        hrefs = tab.page.eval_on_selector_all("a[href*='/sample']", "els => els.map(e => e.href)")
        hrefs = [h for h in hrefs if re.search(r"/samples/|/sample\?", h) and "format=" not in h]
        assert len(hrefs) == len(IDS)
        seen = set()
        for href in hrefs:
            response = tab.goto(href)
            assert response is not None and response.status == 200, href
            seen.add(tab.page.inner_text("h1.sample-id").strip())
            raw = tab.page.get_attribute("a:text('raw JSON')", "href")
            assert raw is not None
            with urllib.request.urlopen(urljoin(href, raw), timeout=60) as r:
                assert json.loads(r.read())["sample_id"] in IDS
            assert not tab.errors, href
        assert seen == set(IDS)
