"""The viewer's pages against a real store, through Starlette's TestClient."""

from __future__ import annotations

import re
import sqlite3
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from assay.cli import _parser
from assay.store import schema
from assay.store.browse import COUNT_CAP, json_text_head
from assay.store.db import Store

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def scores_of(store: Store, run: str) -> dict[str, float]:
    sc = schema.scores
    with store.connect() as conn:
        return dict(
            conn.execute(
                sa.select(sc.c.sample_id, sc.c.value).where(
                    sc.c.run_id == run,
                    sc.c.metric
                    == sa.select(schema.runs.c.main_metric)
                    .where(schema.runs.c.id == run)
                    .scalar_subquery(),
                )
            ).all()
        )


def test_leaderboard_shows_models_with_cis_and_sorts(client: Any, store: Store) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    models = re.findall(r'<td class="model"><a class="model-link"[^>]*>(.*?)</a>', html)
    assert unescape(models[0]) == "mock/oracle"  # best mean win rate first
    assert set(map(unescape, models)) == {"mock/oracle", "mock/constant", "mock/random?seed=1"}
    assert re.search(r'class="ci">\[\d\.\d{3}, \d\.\d{3}\]', html)
    assert "<svg" in html and "mean win rate" in html
    by_name = client.get("/?sort=model&desc=0").text
    names = [
        unescape(m)
        for m in re.findall(r'<td class="model"><a class="model-link"[^>]*>(.*?)</a>', by_name)
    ]
    assert names == sorted(names, key=str.lower)
    worst_first = client.get("/?sort=winrate&desc=0").text
    assert (
        unescape(
            re.findall(r'<td class="model"><a class="model-link"[^>]*>(.*?)</a>', worst_first)[-1]
        )
        == "mock/oracle"
    )


def test_run_page_lists_every_sample_with_summary(
    client: Any, store: Store, find_run: Any, listed: Any
) -> None:
    run = find_run("mmlu", "mock/random?seed=1")
    html = client.get(f"/runs/{run}").text
    assert "exact_match" in html and "Provenance" in html
    assert len(listed(html)) == 50  # the first page of 60
    second = client.get(f"/runs/{run}?page=2").text
    assert len(listed(second)) == 10
    assert not set(listed(html)) & set(listed(second))


def test_filter_incorrect_returns_exactly_the_wrong_answers(
    client: Any, store: Store, find_run: Any, listed: Any
) -> None:
    run = find_run("mmlu", "mock/random?seed=1")
    wrong = {s for s, v in scores_of(store, run).items() if v < 0.5}
    html = client.get(f"/runs/{run}?outcome=incorrect&per_page=200").text
    assert set(listed(html)) == wrong
    assert f"{len(wrong)} matching" in html


def test_metric_range_and_status_filters(
    client: Any, store: Store, find_run: Any, listed: Any
) -> None:
    run = find_run("gsm8k", "mock/random?seed=1")
    right = {s for s, v in scores_of(store, run).items() if v >= 1.0}
    assert set(listed(client.get(f"/runs/{run}?min=1&per_page=200").text)) == right
    s = schema.samples
    with store.connect() as conn:
        unparsed = set(
            conn.execute(
                sa.select(s.c.sample_id).where(s.c.run_id == run, s.c.status == "unparsed")
            ).scalars()
        )
    assert unparsed, "mock/random leaves some GSM8K answers unparsed"
    got = listed(client.get(f"/runs/{run}?status=unparsed&per_page=200").text)
    assert set(got) == unparsed


def test_metadata_filter_by_subject(client: Any, store: Store, find_run: Any, listed: Any) -> None:
    run = find_run("mmlu", "mock/oracle")
    html = client.get(f"/runs/{run}").text
    subject = re.search(r'<option value="([a-z_]+)">subject</option>', html)
    assert subject, "the subjects of the run are offered"
    got = listed(client.get(f"/runs/{run}?meta=subject&value={subject[1]}&per_page=200").text)
    assert got and all(sample.startswith(subject[1] + "/") for sample in got)


def test_metadata_values_offered_are_every_value_of_the_run(
    client: Any, store: Store, find_run: Any
) -> None:
    run = find_run("mmlu", "mock/oracle")
    s = schema.samples
    with store.connect() as conn:
        metas = list(conn.execute(sa.select(s.c.metadata).where(s.c.run_id == run)).scalars())
    html = client.get(f"/runs/{run}").text
    offered = set(re.findall(r'<option value="([^"]+)">subject</option>', html))
    assert offered == {m["subject"] for m in metas}


def test_a_large_run_offers_its_first_values_and_serves_every_value_on_request(
    store: Store, find_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from starlette.testclient import TestClient

    from assay.store import browse
    from assay.web import app as web_app

    monkeypatch.setattr(web_app, "META_INLINE", 10)  # "large": over 10 samples
    monkeypatch.setattr(browse, "META_PROBE", 5)
    run = find_run("mmlu", "mock/oracle")
    s = schema.samples
    with store.connect() as conn:
        metas = list(conn.execute(sa.select(s.c.metadata).where(s.c.run_id == run)).scalars())
    with TestClient(web_app.create_app(store)) as fresh:
        first = fresh.get(f"/runs/{run}").text
        assert 'id="meta-partial"' in first and "first 5 samples" in first
        assert "/static/metadata.js" in first
        every = fresh.get(f"/api/runs/{run}/metadata").json()
    assert set(every["fields"]["subject"]) == {m["subject"] for m in metas}
    assert every["samples"] == len(metas)


def test_search_finds_a_word_in_prompts_and_responses(
    client: Any, store: Store, find_run: Any, listed: Any
) -> None:
    run = find_run("gsm8k", "mock/oracle")
    s, rq = schema.samples, schema.requests
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(s.c.sample_id, s.c.input, rq.c.text)
            .join(rq, sa.and_(rq.c.run_id == s.c.run_id, rq.c.sample_id == s.c.sample_id))
            .where(s.c.run_id == run)
        ).all()
    expected = {
        r[0] for r in rows if "apples" in str(r[1]).lower() or "apples" in str(r[2]).lower()
    }
    assert expected
    got = listed(client.get(f"/runs/{run}?q=APPLES&per_page=200").text)
    assert set(got) == expected
    assert listed(client.get(f"/runs/{run}?q=50%25_off").text) == []  # LIKE wildcards escaped


def test_sort_by_score_descending(client: Any, store: Store, find_run: Any, listed: Any) -> None:
    run = find_run("mmlu", "mock/random?seed=1")
    values = scores_of(store, run)
    order = listed(client.get(f"/runs/{run}?sort=score&desc=1&per_page=200").text)
    got = [values[s] for s in order]
    assert got == sorted(got, reverse=True) and len(set(got)) == 2


def test_sample_page_shows_exact_prompt_raw_json_and_scores(
    client: Any, store: Store, find_run: Any
) -> None:
    run = find_run("gsm8k", "mock/oracle")
    rq = schema.requests
    with store.connect() as conn:
        sample_id, request, text = conn.execute(
            sa.select(rq.c.sample_id, rq.c.request, rq.c.text).where(rq.c.run_id == run)
        ).first()
    page = client.get(f"/runs/{run}/samples/{quote(sample_id)}")
    assert page.status_code == 200
    html = unescape(page.text)
    assert request["messages"][-1]["content"] in html  # the exact prompt, whitespace and all
    assert text in html
    assert '"finish_reason"' in html and '"max_tokens"' in html  # raw response and request
    assert "final_number_match" in html
    raw = client.get(f"/runs/{run}/samples/{quote(sample_id)}?format=json").json()
    assert raw["requests"][0]["request"] == request


def test_xss_payload_is_escaped(client: Any, store: Store, find_run: Any) -> None:
    run = find_run("xss", "mock/oracle")
    listing = client.get(f"/runs/{run}")
    page = client.get(f"/runs/{run}/samples/x1")
    for response in (listing, page):
        assert "<script>window.__xss" not in response.text
        assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in response.text
        assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "&lt;b&gt;bold&lt;/b&gt;" in page.text


def test_compare_filters_to_disagreements(
    client: Any, store: Store, find_run: Any, listed: Any
) -> None:
    a = find_run("mmlu", "mock/oracle")
    b = find_run("mmlu", "mock/constant")
    sa_, sb = scores_of(store, a), scores_of(store, b)
    differ = {s for s in sa_ if sa_[s] != sb.get(s)}
    html = client.get(f"/compare?run={a}&run={b}&differ=score").text
    assert set(listed(html, "compare-table")) == differ
    every = client.get(f"/compare?run={a}&run={b}").text
    assert len(listed(every, "compare-table")) == 50
    one = sorted(differ)[0]
    side = client.get(f"/compare/sample?run={a}&run={b}&id={quote(one)}")
    assert side.status_code == 200 and "mock/constant" in side.text and "mock/oracle" in side.text
    mixed = client.get(f"/compare?run={a}&run={find_run('gsm8k', 'mock/oracle')}")
    assert mixed.status_code == 400


def test_every_page_is_small(client: Any, store: Store, find_run: Any) -> None:
    run = find_run("mmlu", "mock/random?seed=1")
    urls = ["/", "/runs", "/compare", f"/runs/{run}?per_page=200", f"/runs/{run}/samples/x"]
    for url in urls:
        response = client.get(url)
        assert len(response.content) < 100_000, url
        assert re.match(r"app;dur=\d+\.\d+", response.headers["server-timing"])


def test_bad_input_gets_a_clear_status(client: Any, store: Store, find_run: Any) -> None:
    run = find_run("mmlu", "mock/oracle")
    assert client.get("/runs/nope").status_code == 404
    assert client.get(f"/runs/{run}/samples/none/such").status_code == 404
    bad = client.get(f"/runs/{run}?min=lots")
    assert bad.status_code == 400 and "min must be a number" in bad.text
    assert client.get(f"/runs/{run}?sort=random").status_code == 400


def test_live_run_fills_in(tmp_path: Path, viewer_db: Path, store: Store, find_run: Any) -> None:
    """A run marked running with half its samples, then all: the page and JSON follow."""
    from starlette.testclient import TestClient

    from assay.web.app import create_app

    db = tmp_path / "live.db"
    with sqlite3.connect(viewer_db) as source, sqlite3.connect(db) as target:
        source.backup(target)  # a file copy could miss pages still in the WAL
    run = find_run("mmlu", "mock/oracle")
    writer = Store(f"sqlite:///{db}")
    s, rq, sc = schema.samples, schema.requests, schema.scores
    with writer.begin() as conn:
        held = {
            t.name: [
                dict(r)
                for r in conn.execute(
                    sa.select(t).where(
                        t.c.run_id == run,
                        t.c.sample_id.in_(
                            sa.select(s.c.sample_id).where(s.c.run_id == run, s.c.idx % 2 == 1)
                        ),
                    )
                ).mappings()
            ]
            for t in (rq, sc, s)
        }
        for t in (rq, sc, s):
            conn.execute(
                t.delete().where(
                    t.c.run_id == run, t.c.sample_id.in_([r["sample_id"] for r in held["samples"]])
                )
            )
        conn.execute(
            schema.runs.update()
            .where(schema.runs.c.id == run)
            .values(status="running", summary=None, n_samples=None)
        )
    with TestClient(create_app(Store(f"sqlite:///{db}", readonly=True))) as live:
        page = live.get(f"/runs/{run}").text
        assert 'id="live"' in page and "/static/live.js" in page
        assert "mock/oracle" in live.get("/").text  # listed under "In progress"
        first = live.get(f"/api/runs/{run}/progress").json()
        assert first["status"] == "running" and first["done"] == 60 - len(held["samples"])
        assert first["expected"] == 60 and first["mean"] == 1.0
        with writer.begin() as conn:
            for t in (s, rq, sc):
                conn.execute(t.insert(), held[t.name])
        second = live.get(f"/api/runs/{run}/progress").json()
        assert second["done"] == 60 and len(second["recent"]) == 10
        # finished, its progress is read once; resumed, it is read afresh again
        runs = schema.runs
        with writer.begin() as conn:
            conn.execute(runs.update().where(runs.c.id == run).values(status="finished"))
        assert live.get(f"/api/runs/{run}/progress").json()["status"] == "finished"
        assert live.get(f"/api/runs/{run}/progress").json()["done"] == 60
        gone = held["samples"][0]["sample_id"]
        with writer.begin() as conn:
            for t in (rq, sc, s):
                conn.execute(t.delete().where(t.c.run_id == run, t.c.sample_id == gone))
            conn.execute(runs.update().where(runs.c.id == run).values(status="running"))
        third = live.get(f"/api/runs/{run}/progress").json()
        assert third["status"] == "running" and third["done"] == 59
    writer.close()


def test_the_store_is_opened_read_only(store: Store) -> None:
    with pytest.raises(sa.exc.OperationalError), store.begin() as conn:
        conn.execute(schema.suites.insert().values(name="x", created_at=0.0))


def test_serve_defaults_to_localhost_and_explains_a_missing_store(cli: Any) -> None:
    args = _parser().parse_args(["serve"])
    assert (args.host, args.port) == ("127.0.0.1", 8000)
    result = cli("serve", "--db", "missing.db")
    assert result.code == 2 and result.err.count("\n") == 1 and "missing.db" in result.err


def test_json_text_head_reads_truncated_json() -> None:
    assert json_text_head('"a \\"quoted\\"\\nline"', 50) == 'a "quoted" line'
    assert json_text_head('"cut in an escape \\u00', 50) == "cut in an escape"
    assert json_text_head('[{"role": "user", "content": "hi"}]', 50) == "hi"
    assert json_text_head('"' + "x" * 100 + '"', 10) == "x" * 9 + "…"
    assert COUNT_CAP >= 1000


def expected_order(store: Store, run: str, sort: str, desc: bool) -> list[str]:
    """The samples list's order, computed here: by the sort key then sample id, samples
    without a key last by position (the viewer's documented tie-breaks)."""
    s, rq = schema.samples, schema.requests
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(s.c.sample_id, s.c.idx, rq.c.latency_s, rq.c.output_tokens)
            .outerjoin(
                rq,
                sa.and_(rq.c.run_id == run, rq.c.sample_id == s.c.sample_id, rq.c.idx == 0),
            )
            .where(s.c.run_id == run)
        ).all()
    values = scores_of(store, run)
    key: dict[str, Any] = {
        "score": {r[0]: values.get(r[0]) for r in rows},
        "latency": {r[0]: r[2] for r in rows},
        "tokens": {r[0]: r[3] for r in rows},
        "id": {r[0]: r[0] for r in rows},
        "idx": {r[0]: r[1] for r in rows},
    }[sort]
    idx = {r[0]: r[1] for r in rows}
    keyed = sorted((k for k in key if key[k] is not None), key=lambda k: (key[k], k))
    missing = sorted((k for k in key if key[k] is None), key=lambda k: idx[k])
    return (keyed[::-1] + missing[::-1]) if desc else keyed + missing


def every_page(client: Any, url: str, listed: Any) -> list[str]:
    got: list[str] = []
    for page in range(1, 100):
        html = client.get(f"{url}&per_page=10&page={page}").text
        got += listed(html)
        if 'rel="next"' not in html:
            return got
    raise AssertionError("the pager never ends")


@pytest.mark.parametrize("sort", ["idx", "score", "latency", "tokens", "id"])
@pytest.mark.parametrize("desc", [False, True])
def test_every_sort_pages_through_each_sample_once_in_order(
    client: Any, store: Store, find_run: Any, listed: Any, sort: str, desc: bool
) -> None:
    run = find_run("gsm8k", "mock/random?seed=1")
    got = every_page(client, f"/runs/{run}?sort={sort}&desc={int(desc)}", listed)
    assert got == expected_order(store, run, sort, desc)
    assert len(got) == 60


@pytest.mark.parametrize("sort", ["idx", "score", "latency"])
def test_filters_page_through_exactly_their_matches(
    client: Any, store: Store, find_run: Any, listed: Any, sort: str
) -> None:
    run = find_run("gsm8k", "mock/random?seed=1")
    values = scores_of(store, run)
    wrong = {k for k, v in values.items() if v < 0.5}
    order = expected_order(store, run, sort, True)
    got = every_page(client, f"/runs/{run}?outcome=incorrect&sort={sort}&desc=1", listed)
    assert got == [k for k in order if k in wrong]
    s = schema.samples
    with store.connect() as conn:
        unparsed = set(
            conn.execute(
                sa.select(s.c.sample_id).where(s.c.run_id == run, s.c.status == "unparsed")
            ).scalars()
        )
    got = every_page(client, f"/runs/{run}?status=unparsed&sort={sort}", listed)
    assert got == [k for k in expected_order(store, run, sort, False) if k in unparsed]


def test_a_lone_model_gets_a_note_instead_of_empty_win_rate_charts(
    tmp_path: Path, data_dir: Path
) -> None:
    from starlette.testclient import TestClient

    from assay.cli import main
    from assay.web.app import create_app

    db = tmp_path / "alone.db"
    code = main(
        [
            "run",
            "gsm8k",
            "-m",
            "mock/oracle",
            "--limit",
            "5",
            "--db",
            str(db),
            "--data-dir",
            str(data_dir),
            "--no-progress",
        ]
    )
    assert code == 0
    store = Store(f"sqlite:///{db}", readonly=True)
    with TestClient(create_app(store)) as lone:
        html = lone.get("/").text
    store.close()
    assert "add a second model to this suite" in html
    assert 'class="charts"' not in html


def test_serve_upgrades_a_store_an_older_assay_wrote(tmp_path: Path, data_dir: Path) -> None:
    from assay.cli import main
    from assay.cli.serve import upgrade

    db = tmp_path / "old.db"
    assert (
        main(
            [
                "run",
                "gsm8k",
                "-m",
                "mock/oracle",
                "--limit",
                "3",
                "--db",
                str(db),
                "--data-dir",
                str(data_dir),
                "--no-progress",
            ]
        )
        == 0
    )
    with sqlite3.connect(db) as conn:  # as a store from before samples.confidence existed
        conn.execute("ALTER TABLE samples DROP COLUMN confidence")
        conn.execute("DROP TABLE alembic_version")  # made before migrations
    upgrade(f"sqlite:///{db}")
    with sqlite3.connect(db) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(samples)")}
    assert "confidence" in columns
