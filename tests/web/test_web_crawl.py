"""Every link reachable from the leaderboard, opened in real Chromium, on a store holding every
built-in benchmark (a few samples each, mock models) and an imported HELM run: no page answers
500 and none logs a console error (a CSP violation, a failed script)."""

from __future__ import annotations

import contextlib
import io
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
from tests.web.browser import chromium, serve

from assay.benchmarks.registry import all_benchmarks
from assay.cli import main
from assay.store.db import Store

pytestmark = pytest.mark.slow
HELM = Path(__file__).resolve().parents[1] / "fixtures" / "helm" / "benchmark_output"
MAX_PAGES = 300
FILES = (".csv", ".json")  # downloads: fetched, not opened as pages


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[Store]:
    folder = tmp_path_factory.mktemp("crawl")
    db = folder / "crawl.db"
    pairs = folder / "pairs.jsonl"  # translation reads a file of pairs or the hub
    pairs.write_text(
        '{"source": "Der Hund schläft.", "target": "The dog sleeps."}\n'
        '{"source": "Es regnet <b>heute</b>.", "target": ["It rains today.", "It is raining."]}\n'
    )
    variants = {"translation": f"translation:file={pairs}"}
    common = ["--db", str(db), "--no-progress", "--data-dir", str(data_dir), "--limit", "3"]
    # a scripted judge for the judged (safety) benchmarks; the others ignore it
    models = ["-m", "mock/oracle", "-m", "mock/constant", "--judge", "mock/judge"]
    ran, offline = [], []
    # the built-in ones: a test elsewhere in this process may have registered its own
    builtin = {
        name
        for name, info in all_benchmarks().items()
        if info.factory.__module__.startswith("assay.benchmarks.")
    }
    for name in sorted(builtin):
        said = io.StringIO()
        with contextlib.redirect_stderr(said):
            code = main(
                ["run", variants.get(name, name), *models, "--suite", "everything", *common]
            )
        if code == 2 and "is missing" in said.getvalue():
            offline.append(name)  # no copy under shared/data: the hub only
            continue
        assert code == 0, name
        ran.append(name)
    assert len(ran) >= 20 and len(offline) <= 3, (ran, offline)
    # pairwise verdicts, so the crawl opens the pairwise pages too
    judge = ["--judge", "mock/judge", "--resamples", "50", "--db", str(db)]
    assert main(["pairwise", "--suite", "everything", "--benchmark", "gsm8k", *judge]) == 0
    if HELM.is_dir():
        assert main(["import-helm", str(HELM), "--db", str(db), "--suite", "helm"]) == 0
    found = Store(f"sqlite:///{db}", readonly=True)
    yield found
    found.close()


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def shape(url: str) -> tuple[str, ...]:
    """What kind of page a link opens: links of a new shape are opened first, so that the
    capped crawl reaches every run's page and one sample page of every run before it opens
    a second page of any shape."""
    parts = urlparse(url)
    path = parts.path.split("/")
    keys = tuple(sorted({k.split("=")[0] for k in parts.query.split("&") if k}))
    if len(path) > 3 and path[1] == "runs" and path[3] == "samples":
        return ("sample", path[2])
    if len(path) == 3 and path[1] == "runs":
        return ("run", path[2]) if not keys else ("run view", *keys)
    if len(path) == 4 and path[1] == "runs":
        return ("run download", path[3])
    return (parts.path, *keys)


def test_every_link_from_the_leaderboard_opens(store: Store) -> None:
    from assay.web.app import create_app

    app = create_app(store)
    with serve(app) as base, chromium() as tab:
        origin = urlparse(base).netloc
        starts = [base + "/?suite=everything", base + "/?suite=helm"]
        fresh: deque[str] = deque(starts)  # links of a shape not yet queued
        again: deque[str] = deque()
        shapes = {shape(u) for u in starts}
        seen: set[str] = set(starts)
        problems: list[str] = []
        opened = 0
        while (fresh or again) and opened < MAX_PAGES:
            url = fresh.popleft() if fresh else again.popleft()
            opened += 1
            if urlparse(url).path.endswith(FILES) or "format=json" in url:
                code = status_of(url)
                if code >= 500:
                    problems.append(f"{code} {url}")
                continue
            response = tab.goto(url)
            if response is None or response.status >= 500:
                problems.append(f"{response.status if response else 'no response'} {url}")
                continue
            if tab.errors:
                problems.append(f"console error on {url}: {tab.errors}")
            hrefs = tab.page.locator("a[href]").evaluate_all("els => els.map(e => e.href)")
            for href in hrefs:
                link = urldefrag(urljoin(url, href))[0]
                if urlparse(link).netloc == origin and link not in seen:
                    seen.add(link)
                    kind = shape(link)
                    (again if kind in shapes else fresh).append(link)
                    shapes.add(kind)
        assert problems == []
        assert not fresh  # every shape of page was opened within the cap
        assert opened >= 100  # the crawl reached runs, samples, compare pages, downloads
        kinds = {urlparse(u).path.split("/")[1] for u in seen}
        assert {"runs", "compare", "pairwise"} <= kinds
