"""The viewer's pairwise pages on a store judged by `assay pairwise` with scripted judges: the
numbers are the command's JSON, unread verdicts and judge errors are shown apart, a pair's judged
samples list and a sample's judge requests are browsable, and hostile text stays text."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import sqlalchemy as sa
from tests.web.pairwise_store import (
    FAULTY,
    FLIPPY,
    MODELS,
    SUITE,
    PairwiseStore,
    build_pairwise_store,
)

from assay.store import schema
from assay.store.db import Store


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> PairwiseStore:
    return build_pairwise_store(tmp_path_factory.mktemp("pairwise"), data_dir)


@pytest.fixture(scope="module")
def store(judged: PairwiseStore) -> Iterator[Store]:
    found = Store(judged.url, readonly=True)
    yield found
    found.close()


@pytest.fixture(scope="module")
def client(store: Store) -> Iterator[Any]:
    from starlette.testclient import TestClient

    from assay.web.app import create_app

    with TestClient(create_app(store)) as test_client:
        yield test_client


def page(client: Any, url: str, params: Any = None) -> str:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text[:500]
    text: str = response.text
    return text


def sections(html: str) -> list[str]:
    return re.split(r'<section class="pairwise-view"', html)[1:]


def cells(row: str, cls: str) -> str:
    found = re.search(rf'<td class="num {cls}">(.*?)</td>', row, re.S)
    assert found, (cls, row)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def pair_rows(section: str) -> list[str]:
    return re.findall(r'<tr class="pair">(.*?)</tr>', section, re.S)


def runs_by_model(store: Store) -> dict[str, str]:
    r = schema.runs
    with store.connect() as conn:
        return {m: i for i, m in conn.execute(sa.select(r.c.id, r.c.model))}


BENCH = {"suite": SUITE, "benchmark": "gsm8k"}


def test_the_page_shows_the_commands_numbers_per_judge_and_for_the_panel(
    client: Any, judged: PairwiseStore
) -> None:
    html = page(client, "/pairwise", BENCH)
    found = sections(html)
    assert len(found) == 3  # each judge, then the panel
    expected = {FAULTY: judged.faulty, FLIPPY: judged.flippy}
    for section in found[:2]:
        label = unescape(re.search(r'class="judge-label">(.*?)</span>', section).group(1))  # type: ignore[union-attr]
        cli = expected.pop(label)
        assert_section_matches(section, cli)
    assert "Panel of 2 judges, aggregated by mean" in found[2]
    assert_section_matches(found[2], judged.panel)
    value = judged.panel["panel"]["agreement"]["value"]
    assert f'<b class="agreement">{value:.3f}</b>' in found[2]


def assert_section_matches(section: str, cli: dict[str, Any]) -> None:
    ratings = re.findall(
        r'<td class="num rating">(-?\d+)</td><td class="num ci">\[(-?\d+), (-?\d+)\]</td>', section
    )
    assert ratings == [
        (f"{r['rating']:.0f}", f"{r['ci_lo']:.0f}", f"{r['ci_hi']:.0f}") for r in cli["ratings"]
    ]
    rows = pair_rows(section)
    assert len(rows) == len(cli["pairs"])
    for row, pair in zip(rows, cli["pairs"], strict=True):
        names = [unescape(n).strip() for n in re.findall(r'<td class="model">([^<]*)', row)]
        assert names == [pair["model_a"], pair["model_b"]]
        columns = {
            "wins-a": "wins_a", "ties": "ties", "wins-b": "wins_b", "scored": "n",
            "inconsistent": "inconsistent", "unparsed": "unparsed", "errors": "errors",
        }  # fmt: skip
        for cls, key in columns.items():
            assert cells(row, cls) == str(pair[key]), (key, pair)
        assert ("⚑" in row) == pair["same_family_judge"]


def test_the_json_download_is_the_commands_json(client: Any, judged: PairwiseStore) -> None:
    response = client.get("/pairwise.json", params=BENCH)
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    data = response.json()
    by_judge = {d["judges"][0]: d for d in data["judges"]}
    for got, cli in ((by_judge[FAULTY], judged.faulty), (by_judge[FLIPPY], judged.flippy),
                     (data["panel"], judged.panel)):  # fmt: skip
        assert got["pairs"] == cli["pairs"]
        assert got["samples"] == cli["samples"] and got["same_family"] == cli["same_family"]
        assert got["notes"] == cli["notes"] and got["suite"] == cli["suite"] == SUITE
        assert [r["model"] for r in got["ratings"]] == [r["model"] for r in cli["ratings"]]
        for mine, theirs in zip(got["ratings"], cli["ratings"], strict=True):
            for key in ("rating", "ci_lo", "ci_hi"):
                assert mine[key] == pytest.approx(theirs[key], abs=1e-6)
    assert data["panel"]["panel"] == judged.panel["panel"]


def test_the_csv_downloads_hold_every_pair_and_rating(client: Any, judged: PairwiseStore) -> None:
    text = client.get("/pairwise.csv", params=BENCH).text
    rows = list(csv.DictReader(io.StringIO(text)))
    faulty = [r for r in rows if r["judge"] == FAULTY]
    assert len(rows) == 3 * len(judged.faulty["pairs"])
    for row, pair in zip(faulty, judged.faulty["pairs"], strict=True):
        assert (row["model_a"], row["model_b"]) == (pair["model_a"], pair["model_b"])
        assert int(row["unparsed"]) == pair["unparsed"] and int(row["errors"]) == pair["errors"]
    ratings = list(
        csv.DictReader(
            io.StringIO(client.get("/pairwise.csv", params={**BENCH, "table": "ratings"}).text)
        )
    )
    assert [r["model"] for r in ratings if r["judge"] == "panel"] == [
        r["model"] for r in judged.panel["ratings"]
    ]
    assert client.get("/pairwise.csv", params={**BENCH, "table": "nope"}).status_code == 400


def test_unparsed_verdicts_and_judge_errors_are_shown_apart(
    client: Any, judged: PairwiseStore, store: Store
) -> None:
    pair = max(judged.faulty["pairs"], key=lambda p: min(p["unparsed"], p["errors"]))
    assert pair["unparsed"] and pair["errors"]  # the scripted judge gave both
    runs = runs_by_model(store)
    a, b = sorted((runs[pair["model_a"]], runs[pair["model_b"]]))
    key = judge_key(store, FAULTY)
    html = page(client, "/pairwise/samples", {"suite": SUITE, "a": a, "b": b, "judge": key})
    outcomes = re.findall(r'<td class="outcome">(.*?)</td>', html, re.S)
    assert len(outcomes) == N_samples(pair)
    assert sum('badge error">error' in o for o in outcomes) == pair["errors"]
    assert sum('badge unparsed">unparsed' in o for o in outcomes) == pair["unparsed"]
    assert sum("wins" in o or o.startswith("tie") for o in outcomes) == pair["n"]
    only = page(
        client, "/pairwise/samples",
        {"suite": SUITE, "a": a, "b": b, "judge": key, "only": "unscored"},
    )  # fmt: skip
    left = re.findall(r'<td class="outcome">(.*?)</td>', only, re.S)
    assert len(left) == pair["unparsed"] + pair["errors"]
    # a sample with a judge error: the error, its JSON and the other order side by side
    rows = re.findall(r"<tr>(.*?)</tr>", only, re.S)
    errored = next(r for r in rows if '<td class="outcome"><span class="badge error"' in r)
    link = re.search(r'class="pair-sample" href="([^"]+)"', errored)
    assert link is not None
    sample = unescape(link.group(1))
    detail = page(client, sample)
    assert '<span class="badge error">error</span>' in detail and "Error JSON" in detail


def N_samples(pair: dict[str, Any]) -> int:
    return int(pair["n"] + pair["unparsed"] + pair["errors"] + pair["split"])


def judge_key(store: Store, label: str) -> str:
    t = schema.pairwise_judgments
    with store.connect() as conn:
        found: str = conn.execute(
            sa.select(t.c.judge_key).where(t.c.judge == label).limit(1)
        ).scalar_one()
    return found


def test_a_sample_shows_both_answers_and_each_orders_raw_request(client: Any, store: Store) -> None:
    t = schema.pairwise_judgments
    with store.connect() as conn:
        row = (
            conn.execute(sa.select(t).where(t.c.judge == FLIPPY, t.c.order == "ba").limit(1))
            .mappings()
            .one()
        )
    html = page(
        client,
        "/pairwise/sample",
        {"suite": SUITE, "a": row["run_b"], "b": row["run_a"], "id": row["sample_id"]},
    )  # fmt: skip (the pair's runs in either order)
    assert html.count('class="request judge-order"') == 4  # two judges, two orders each
    assert html.count("Raw request JSON") == 4 and html.count("Raw response JSON") == 4
    prompt = row["request"]["messages"][0]["content"]
    assert _escaped(prompt[:200]) in html  # the judge prompt as sent
    assert _escaped(row["text"]) in html  # the judge's raw answer
    links = re.findall(r'class="run-sample" href="([^"]+)"', html)
    assert len(links) == 2
    for link, run in zip(links, (row["run_a"], row["run_b"]), strict=True):
        assert unescape(link).startswith(f"/runs/{run}/samples/")
        assert client.get(unescape(link)).status_code == 200


def _escaped(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def test_the_run_sample_page_links_to_its_verdicts(client: Any, store: Store) -> None:
    runs = runs_by_model(store)
    t = schema.pairwise_judgments
    with store.connect() as conn:
        sample = conn.execute(sa.select(t.c.sample_id).limit(1)).scalar_one()
    run = runs[MODELS[0]]
    html = page(client, f"/runs/{run}/samples/{sample}")
    block = html[html.index('id="pairwise-verdicts"') :].split("</p>", 1)[0]
    links = [unescape(x) for x in re.findall(r'href="([^"]+)"', block)]
    assert len(links) == len(MODELS) - 1  # judged against every other model
    for link in links:
        query = parse_qs(urlparse(link).query)
        assert query["id"] == [sample] and query["a"] == [run]
        assert client.get(link).status_code == 200
    # a sample never judged has no such line
    with store.connect() as conn:
        unjudged = conn.execute(
            sa.select(schema.samples.c.sample_id).where(
                schema.samples.c.run_id == run,
                schema.samples.c.sample_id.not_in(sa.select(t.c.sample_id)),
            )
        ).first()
    if unjudged is not None:
        assert 'id="pairwise-verdicts"' not in page(client, f"/runs/{run}/samples/{unjudged[0]}")


def test_the_benchmark_page_and_leaderboard_link_to_it(client: Any) -> None:
    for url in ("/benchmarks/gsm8k", "/"):
        html = page(client, url, {"suite": SUITE})
        assert "/pairwise?suite=duels+2026&amp;benchmark=gsm8k" in html
    index = page(client, "/pairwise", {"suite": SUITE})
    assert 'id="pairwise-benchmarks"' in index and "benchmark=gsm8k" in index


def test_hostile_model_text_stays_text(client: Any, store: Store) -> None:
    runs = runs_by_model(store)
    hostile = next(m for m in MODELS if "script" in m)
    other = runs[MODELS[1]]
    a, b = sorted((runs[hostile], other))
    t = schema.pairwise_judgments
    with store.connect() as conn:
        sample = conn.execute(
            sa.select(t.c.sample_id).where(t.c.run_a == a, t.c.run_b == b).limit(1)
        ).scalar_one()
    for url, params in (
        ("/pairwise", BENCH),
        ("/pairwise/samples", {"suite": SUITE, "a": a, "b": b}),
        ("/pairwise/sample", {"suite": SUITE, "a": a, "b": b, "id": sample}),
    ):
        html = page(client, url, params)
        assert "<script>" not in html, url
        assert "&lt;script&gt;" in html, url


@pytest.mark.parametrize(
    ("url", "params", "status"),
    [
        ("/pairwise", {"suite": SUITE, "benchmark": "mmlu"}, 404),
        ("/pairwise", {"suite": "nope", "benchmark": "gsm8k"}, 404),
        ("/pairwise", {**BENCH, "aggregate": "median"}, 400),
        ("/pairwise/samples", {"suite": SUITE}, 400),
        ("/pairwise/samples", {"a": "nope", "b": "nada"}, 404),
        ("/pairwise.xml", BENCH, 404),
    ],
)
def test_bad_addresses_say_what_is_wrong(
    client: Any, url: str, params: dict[str, str], status: int
) -> None:
    response = client.get(url, params=params)
    assert response.status_code == status
    assert "Traceback" not in response.text


def test_the_judged_samples_list_is_paged(client: Any, store: Store) -> None:
    from assay.web.pairwise_page import PER_PAGE

    runs = runs_by_model(store)
    a, b = sorted((runs[MODELS[0]], runs[MODELS[1]]))
    html = page(client, "/pairwise/samples", {"suite": SUITE, "a": a, "b": b})
    total = int(re.search(r"(\d+) judged samples?", html).group(1))  # type: ignore[union-attr]
    listed = re.findall(r'class="pair-sample" href', html)
    assert len(listed) == min(total, PER_PAGE)
    assert 'rel="next"' in html if total > PER_PAGE else 'rel="next"' not in html


def test_verdicts_written_while_the_viewer_runs_show_up(
    judged: PairwiseStore, tmp_path: Path
) -> None:
    import sqlite3
    from contextlib import closing

    from starlette.testclient import TestClient
    from tests.conftest import run_cli

    from assay.web.app import create_app

    db = tmp_path / "copy.db"
    with closing(sqlite3.connect(judged.db)) as source, closing(sqlite3.connect(db)) as target:
        source.backup(target)  # the WAL's pages too, which a file copy can miss
    copy = Store(f"sqlite:///{db}", readonly=True)
    try:
        with TestClient(create_app(copy)) as viewer:
            assert len(sections(page(viewer, "/pairwise", BENCH))) == 3
            third = "mock/judge?flip=0.5&seed=9"
            result = run_cli(
                "pairwise", "--suite", SUITE, "--benchmark", "gsm8k", "--judge", third,
                "--db", db, "--resamples", "20",
            )  # fmt: skip
            assert result.code == 0, result.err
            html = page(viewer, "/pairwise", BENCH)
            assert len(sections(html)) == 4 and "Panel of 3 judges" in html
    finally:
        copy.close()
