"""The viewer walked in real Chromium as a researcher would, on a store unlike the page tests':
suites not named `default` (the newest is not the alphabetically first), numeric metadata
(BBQ, QuAC, a HELM import), a 300-sample MMLU run spread over dataset positions up to ~14,000,
and a model with a long name. Each test would fail on the viewer before issue 10's fixes."""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.request
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import sqlalchemy as sa
from tests.web.browser import Tab, chromium, serve

from assay.cli import main
from assay.store import schema
from assay.store.db import Store

pytestmark = pytest.mark.slow
HELM = Path(__file__).resolve().parents[1] / "fixtures" / "helm" / "benchmark_output"
LONG = "mock/constant?text=The answer is surely the first option, which reads A"
MODELS = ["mock/oracle", "mock/random?seed=3", LONG]


def build(db: Path, data_dir: Path) -> None:
    common = ["--db", str(db), "--no-progress", "--data-dir", str(data_dir)]
    if HELM.is_dir():
        assert main(["import-helm", str(HELM), "--db", str(db), "--suite", "helm"]) == 0
    assert (
        main(["run", "gsm8k", "-m", "mock/oracle", "--limit", "5", "--suite", "alpha", *common])
        == 0
    )
    models = [a for m in MODELS for a in ("-m", m)]
    assert main(["run", "bbq", "quac", *models, "--limit", "12", "--suite", "demo", *common]) == 0
    assert main(["run", "mmlu", *models, "--limit", "300", "--suite", "demo", *common]) == 0


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[Store]:
    db = tmp_path_factory.mktemp("journeys") / "j.db"
    build(db, data_dir)
    found = Store(f"sqlite:///{db}", readonly=True)
    yield found
    found.close()


@pytest.fixture(scope="module")
def app(store: Store) -> Any:
    from assay.web.app import create_app

    return create_app(store)


@pytest.fixture(scope="module")
def server(app: Any) -> Iterator[str]:
    with serve(app) as base:
        yield base


@pytest.fixture(scope="module")
def tab(server: str) -> Iterator[Tab]:
    with chromium() as t:
        yield t


def run_of(store: Store, benchmark: str, model: str) -> dict[str, Any]:
    r = schema.runs
    with store.connect() as conn:
        row = conn.execute(
            sa.select(r).where(r.c.benchmark == benchmark, r.c.model == model)
        ).mappings()
        return dict(row.one())


def first_samples(store: Store, run_id: str, n: int = 3) -> list[dict[str, Any]]:
    s = schema.samples
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(s).where(s.c.run_id == run_id).order_by(s.c.idx).limit(n)
        ).mappings()
        return [dict(m) for m in rows]


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read().decode()


# -- defects ---------------------------------------------------------------------------------
def test_samples_with_numeric_metadata_render(tab: Tab, server: str, store: Store) -> None:
    runs = [run_of(store, "bbq", "mock/oracle"), run_of(store, "quac", "mock/oracle")]
    if HELM.is_dir():
        with store.connect() as conn:
            helm = conn.execute(
                sa.select(schema.runs.c.id).where(schema.runs.c.benchmark.like("helm/%"))
            ).scalars()
            runs += [{"id": i} for i in helm]
    seen_numbers = 0
    for run in runs:
        for sample in first_samples(store, run["id"]):
            response = tab.goto(f"{server}/runs/{run['id']}/samples/{sample['sample_id']}")
            assert response.status == 200, (run["id"], sample["sample_id"])
            shown = tab.page.locator("main").inner_text()
            for key, value in sample["metadata"].items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    seen_numbers += 1
                    assert re.search(rf"{re.escape(key)}\s+{re.escape(str(value))}", shown)
            assert tab.errors == []
    assert seen_numbers > 0  # the class of sample that used to fail was really tested


def test_an_unexpected_error_shows_the_error_page(
    tab: Tab, server: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assay.store import browse

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the disk said no")

    monkeypatch.setattr(browse, "sample_detail", broken)
    run = run_of(store, "bbq", "mock/oracle")
    sample = first_samples(store, run["id"], 1)[0]
    response = tab.goto(f"{server}/runs/{run['id']}/samples/{sample['sample_id']}")
    assert response.status == 500
    assert tab.page.locator("h1").inner_text() == "500"
    message = tab.page.locator("p.error").inner_text()
    assert "RuntimeError" in message and "the disk said no" in message
    # the viewer's page with its menu, not a bare 500
    assert tab.page.locator("header nav a").all_inner_texts() == [
        "Leaderboard",
        "Runs",
        "Compare",
        "Annotations",
    ]


def test_menu_keeps_the_suite_and_the_front_page_opens_the_newest(tab: Tab, server: str) -> None:
    tab.goto(server + "/")
    assert "suite demo" in tab.page.locator("h1").inner_text()  # newest, not "alpha" or "helm"
    tab.page.click("header nav >> text=Runs")
    assert parse_qs(urlparse(tab.page.url).query)["suite"] == ["demo"]
    assert tab.page.locator("table.list tbody tr").count() == 3 * 3  # bbq, quac, mmlu x 3
    tab.page.select_option(".suite-picker select[name=suite]", "alpha")
    tab.page.click(".suite-picker button")
    tab.page.wait_for_url("**suite=alpha**")
    assert tab.page.locator("table.list tbody tr").count() == 1
    tab.page.click("header nav >> text=Compare")
    assert parse_qs(urlparse(tab.page.url).query)["suite"] == ["alpha"]
    options = tab.page.locator("select[name=benchmark] option").all_inner_texts()
    assert options == ["gsm8k"]
    tab.page.click("header nav >> text=Leaderboard")
    assert "suite alpha" in tab.page.locator("h1").inner_text()


def test_search_and_metadata_filter_cover_every_sample_of_the_run(
    tab: Tab, server: str, store: Store
) -> None:
    run = run_of(store, "mmlu", "mock/oracle")
    s = schema.samples
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(s.c.sample_id, s.c.idx, s.c.input, s.c.metadata).where(
                s.c.run_id == run["id"]
            )
        ).all()
    assert max(r.idx for r in rows) > 10_000  # spread over the dataset, as the bug needs
    far = max(rows, key=lambda r: r.idx)
    text = json.dumps(far.input)
    words = [w for w in re.findall(r"[A-Za-z]{7,}", text) if w.lower() not in ("content", "answer")]
    word = next(
        w for w in words if sum(w.lower() in json.dumps(r.input).lower() for r in rows) <= 5
    )
    tab.goto(f"{server}/runs/{run['id']}?q={word}")
    count = tab.page.locator("#match-count").inner_text()
    assert int(count.split()[0]) >= 1, count
    assert "all 300 samples searched" in count
    linked = tab.page.locator("#samples-table a.sample-link").all_inner_texts()
    assert any(far.sample_id.startswith(t.rstrip("…")) for t in linked)

    subjects = sorted({r.metadata["subject"] for r in rows})
    assert len(subjects) > 20
    offered = tab.page.locator("#meta-values option").evaluate_all("els => els.map(e => e.value)")
    assert set(subjects) <= set(offered)  # every subject of the run, not the first 500's
    subject = far.metadata["subject"]
    tab.goto(f"{server}/runs/{run['id']}?meta=subject&value={subject}")
    expected = sum(r.metadata["subject"] == subject for r in rows)
    assert int(tab.page.locator("#match-count").inner_text().split()[0]) == expected


def test_compare_drops_the_old_benchmark_and_shows_samples_side_by_side(
    tab: Tab, server: str, store: Store
) -> None:
    tab.goto(server + "/compare?suite=demo&benchmark=mmlu")
    assert tab.page.locator("#compare-table thead th").count() == 3 + 2
    tab.page.select_option("select[name=benchmark]", "bbq")
    tab.page.click("form.filters button[type=submit]")
    tab.page.wait_for_url("**benchmark=bbq**")
    bbq_runs = {run_of(store, "bbq", m)["id"] for m in MODELS}
    ticked = tab.page.locator("fieldset input[name=run]:checked").evaluate_all(
        "els => els.map(e => e.value)"
    )
    assert ticked and set(ticked) <= bbq_runs
    assert all(r in bbq_runs for r in parse_qs(urlparse(tab.page.url).query).get("run", []))
    assert tab.errors == []
    tab.page.locator("#compare-table a.sample-link").first.click()
    tab.page.wait_for_url("**/compare/sample**")
    assert tab.errors == []  # no inline style blocked by the CSP
    boxes = [b.bounding_box() for b in tab.page.locator(".side section").all()]
    assert len(boxes) == 2
    assert abs(boxes[0]["y"] - boxes[1]["y"]) < 2 and boxes[1]["x"] > boxes[0]["x"] + 100


def test_previous_and_next_follow_the_filtered_list(tab: Tab, server: str, store: Store) -> None:
    run = run_of(store, "mmlu", "mock/random?seed=3")
    tab.goto(f"{server}/runs/{run['id']}?outcome=incorrect&sort=id&desc=1")
    listed = tab.page.locator("#samples-table a.sample-link").evaluate_all(
        "els => els.map(e => e.href)"
    )
    assert len(listed) == 50 and tab.page.locator("a[rel=next]").count() == 1
    second_page = tab.page.locator("a[rel=next]").get_attribute("href") or ""
    ids = [unescape(h).split("/samples/")[1].split("?")[0] for h in listed]
    tab.page.goto(listed[-2])
    tab.page.click("a[rel=next]")
    assert tab.page.locator("h1.sample-id").inner_text() == ids[-1].replace("%2F", "/")
    tab.page.click("a[rel=next]")  # over the list page's edge, to page 2's first sample
    assert tab.page.locator("#sample-status").inner_text() in ("ok", "unparsed", "error")
    assert tab.page.locator("h1.sample-id").inner_text() < ids[-1].replace("%2F", "/")
    tab.page.click("a[rel=prev]")
    assert tab.page.locator("h1.sample-id").inner_text() == ids[-1].replace("%2F", "/")
    tab.page.click("a[rel=next]")
    tab.page.click("#back-to-run")
    query = parse_qs(urlparse(tab.page.url).query)
    assert query["outcome"] == ["incorrect"] and query["sort"] == ["id"] and query["page"] == ["2"]
    assert (
        tab.page.locator("#samples-table tbody tr.bad").count()
        == tab.page.locator("#samples-table tbody tr").count()
    )
    assert "page=2" in second_page


def test_charts_keep_long_names_whiskers_and_distinct_ticks(
    tab: Tab, server: str, app: Any
) -> None:
    tab.goto(server + "/?suite=demo")
    app.state.viewer.standings.wait()  # the win-rate intervals, drawn as whiskers
    tab.goto(server + "/?suite=demo")
    chart = tab.page.locator("svg.chart").first
    labels = chart.locator("text.label").all_text_contents()
    assert LONG in labels  # the whole name, not cut
    box = chart.bounding_box()
    for label in chart.locator("text.label").all():
        assert label.bounding_box()["x"] >= box["x"] - 1  # not clipped at the left edge
    whiskers = 0
    for group in chart.locator("g").all():
        whisker = group.locator("line.whisker")
        if whisker.count():
            whiskers += 1
            w, v = whisker.bounding_box(), group.locator("text.value").bounding_box()
            assert v["x"] >= w["x"] + w["width"]  # the value label clear of the whisker
    assert whiskers == 3
    ticks = tab.page.locator("svg.chart").nth(1).locator("text.tick").all_text_contents()
    x_ticks = ticks[: len(ticks) - 5] if len(ticks) > 5 else ticks
    assert len(x_ticks) == len(set(x_ticks)) >= 2


def test_run_pages_count_pages_and_jump(tab: Tab, server: str, store: Store) -> None:
    run = run_of(store, "mmlu", "mock/oracle")
    tab.goto(f"{server}/runs/{run['id']}")
    assert "page 1 of 6" in tab.page.locator("#match-count").inner_text()
    tab.page.fill("#jump input[name=page]", "4")
    tab.page.click("#jump button")
    tab.page.wait_for_url("**page=4**")
    first = tab.page.locator("#samples-table tbody tr td.num").first.inner_text()
    s = schema.samples
    with store.connect() as conn:
        positions = list(
            conn.execute(
                sa.select(s.c.idx).where(s.c.run_id == run["id"]).order_by(s.c.idx)
            ).scalars()
        )
    assert int(first) == positions[150]
    assert "page 4 of 6" in tab.page.locator("#match-count").inner_text()


# -- downloads and statistics ----------------------------------------------------------------
def test_downloads_match_assay_export(tab: Tab, server: str, store: Store, cli: Any) -> None:
    tab.goto(server + "/?suite=demo")
    href = tab.page.locator("#downloads a", has_text="CSV").first.get_attribute("href")
    status, body = get(server + (href or ""))
    exported = cli("export", "--format", "csv", "--suite", "demo", "--db", store.url)
    assert status == 200 and exported.code == 0
    assert body == exported.out
    status, body = get(server + "/leaderboard.json?suite=demo")
    exported = cli("export", "--format", "json", "--suite", "demo", "--db", store.url)
    assert json.loads(body) == json.loads(exported.out)

    run = run_of(store, "mmlu", "mock/random?seed=3")
    tab.goto(f"{server}/runs/{run['id']}?outcome=incorrect")
    wrong = int(tab.page.locator("#match-count").inner_text().split()[0])
    href = tab.page.locator("#downloads a", has_text="CSV").get_attribute("href")
    rows = list(csv.DictReader(io.StringIO(get(server + (href or ""))[1])))
    assert len(rows) == wrong > 50  # every page of the list, not one
    assert all(r["correct"] == "False" for r in rows)
    data = json.loads(get(f"{server}/runs/{run['id']}/samples.json?outcome=incorrect")[1])
    assert data["summary"]["metrics"] == run["summary"]["metrics"]
    assert [r["sample_id"] for r in data["samples"]] == [r["sample_id"] for r in rows]


def test_compare_answers_which_model_is_better(
    tab: Tab, server: str, store: Store, cli: Any, app: Any
) -> None:
    a, b = run_of(store, "mmlu", "mock/oracle"), run_of(store, "mmlu", "mock/random?seed=3")
    url = f"{server}/compare?suite=demo&benchmark=mmlu&run={a['id']}&run={b['id']}"
    tab.goto(url)
    app.state.viewer.compare_stats.wait()  # the bootstrap runs off the request path
    tab.goto(url)
    assert tab.errors == []
    exported = cli(
        "compare",
        "mock/oracle",
        "mock/random?seed=3",
        "--suite",
        "demo",
        "--format",
        "json",
        "--db",
        store.url,
    )
    expected = {r["benchmark"]: r for r in json.loads(exported.out)}
    table = tab.page.locator("#paired-1")
    shown = table.locator("tbody tr").all()
    assert len(shown) == len(expected) == 3
    for row in shown:
        cells = row.locator("td").all_inner_texts()
        want = expected[cells[0]]
        assert int(cells[2]) == want["n"]
        assert cells[3] == f"{want['mean_a']:.3f}" and cells[4] == f"{want['mean_b']:.3f}"
        assert cells[5].startswith(f"{want['diff']:+.3f}")
        assert cells[8] == f"{want['p_holm']:.3g}"
    here = expected["mmlu"]
    agree = {
        k: int(tab.page.locator(f"#agreement-1 td.{k}").inner_text())
        for k in ("both-right", "a-only", "b-only", "both-wrong")
    }
    assert sum(agree.values()) == here["n"]
    assert (agree["a-only"], agree["b-only"]) == (here["a_only"], here["b_only"])
    assert "mock/oracle better" in table.locator("tr.main").inner_text()
    tab.page.click("#stats-1 a:has-text('where they differ')")
    tab.page.wait_for_url("**differ=score**")
    count = int(tab.page.locator("#match-count").inner_text().split()[0])
    assert count == agree["a-only"] + agree["b-only"]
    tab.page.locator("#compare-table a.sample-link").first.click()
    tab.page.wait_for_url("**/compare/sample**")


def test_numeric_metadata_filters_and_is_suggested(tab: Tab, server: str, store: Store) -> None:
    run = run_of(store, "quac", "mock/oracle")
    s = schema.samples
    with store.connect() as conn:
        turns = [
            m["turn"]
            for m in conn.execute(sa.select(s.c.metadata).where(s.c.run_id == run["id"])).scalars()
        ]
    assert all(isinstance(t, int) for t in turns)
    tab.goto(f"{server}/runs/{run['id']}")
    offered = tab.page.locator("#meta-values option").evaluate_all("els => els.map(e => e.value)")
    assert {str(t) for t in turns} <= set(offered)
    turn = turns[0]
    tab.goto(f"{server}/runs/{run['id']}?meta=turn&value={turn}")
    assert int(tab.page.locator("#match-count").inner_text().split()[0]) == turns.count(turn)


def test_a_large_runs_metadata_field_offers_every_value_once_used(
    tab: Tab, server: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect

    from assay.store import browse
    from assay.web import app as web_app

    monkeypatch.setattr(web_app, "META_INLINE", 10)  # this 300-sample run counts as large
    monkeypatch.setattr(browse, "META_PROBE", 5)
    run = run_of(store, "mmlu", LONG)
    s = schema.samples
    with store.connect() as conn:
        metas = list(conn.execute(sa.select(s.c.metadata).where(s.c.run_id == run["id"])).scalars())
    subjects = {m["subject"] for m in metas}
    tab.goto(f"{server}/runs/{run['id']}")
    assert tab.page.locator("#meta-values option").count() < len(subjects)
    tab.page.focus("#meta-value")
    expect(tab.page.locator("#meta-values option")).to_have_count(len(subjects))
    offered = tab.page.locator("#meta-values option").evaluate_all("els => els.map(e => e.value)")
    assert set(offered) == subjects
    assert "every value" in tab.page.locator("#meta-partial").inner_text()
    assert tab.errors == []
