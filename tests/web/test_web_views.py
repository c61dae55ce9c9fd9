"""What the store holds reaches the page (issue 10, part B), through Starlette's TestClient:
metric-group tabs, cost from one pricing function, run-level numbers, perturbations, sandbox
results, truncated answers, model and benchmark pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from tests.web.rich_store import LOGPROB, PERTURBED, SUITE, RichStore

from assay.analysis.leaderboard import leaderboard_from_store
from assay.store import schema
from assay.store.db import Store
from assay.web.benchmark_page import wait_breakdowns
from assay.web.metric_groups import perturbation_family
from assay.web.run_extras import question_of
from assay.web.sample_extras import word_diff

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def rich_client(rich: RichStore) -> Iterator[tuple[Any, Store, dict[str, str]]]:
    from starlette.testclient import TestClient

    from assay.web.app import create_app

    store = Store(rich.url, readonly=True)
    with TestClient(create_app(store)) as client:
        yield client, store, rich.ids
    store.close()


@pytest.fixture
def priced(rich: RichStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_PRICES", str(rich.prices))


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def summary(store: Store, run_id: str) -> dict[str, Any]:
    with store.connect() as conn:
        found: dict[str, Any] = conn.execute(
            sa.select(schema.runs.c.summary).where(schema.runs.c.id == run_id)
        ).scalar_one()
    return found


def between(html: str, start: str, end: str = "</table>") -> str:
    i = html.index(start)
    return html[i : html.index(end, i)]


def test_tabs_show_each_metric_group(rich_client: Any) -> None:
    client, store, ids = rich_client
    rob = client.get(f"/?suite={SUITE}&tab=robustness")
    assert rob.status_code == 200

    def labels(html: str) -> list[str]:
        found = re.findall(
            r'<span class="metric">([^<]+)</span>', between(html, 'id="group-table"')
        )
        return [unescape(f).rsplit(" ", 1)[0] for f in found]

    assert labels(rob.text) == ["exact_match: original", "worst case", "lowercase", "typos"]
    fair = client.get(f"/?suite={SUITE}&tab=fairness").text
    assert labels(fair) == ["exact_match: original", "worst case", "dialect"]
    worst = summary(store, ids[f"{PERTURBED}|mock/constant"])["metrics"]["exact_match_worst"]
    row = re.search(r"mock/constant</a></td>(.*?)</tr>", rob.text, re.S)
    assert row is not None and f"{worst['mean']:.3f}" in text(row.group(1))

    bias = client.get(f"/?suite={SUITE}&tab=bias").text
    expected = summary(store, ids["bbq|mock/constant"])["run_metrics"]["bias_ambiguous"]
    assert "bias_ambiguous" in bias and f"{expected:.3f}" in bias
    calibration = client.get(f"/?suite={SUITE}&tab=calibration").text
    assert labels(calibration) == ["ece_10_bin", "selective_accuracy_auc"]
    ece = summary(store, ids[f"{LOGPROB}|mock/constant"])["run_metrics"]["ece_10_bin"]
    row = re.search(r"mock/constant</a></td>(.*?)</tr>", calibration, re.S)
    assert row is not None and text(row.group(1)).startswith(f"{ece:.3f}")
    empty = client.get(f"/?suite={SUITE}&tab=safety")
    assert empty.status_code == 200 and 'id="group-empty"' in empty.text
    assert client.get(f"/?suite={SUITE}&tab=nonsense").status_code == 400
    tabs = re.findall(r'data-tab="([a-z]+)"', client.get(f"/?suite={SUITE}").text)
    assert tabs == [
        "accuracy",
        "calibration",
        "robustness",
        "fairness",
        "bias",
        "safety",
        "efficiency",
    ]


def test_perturbation_families() -> None:
    assert perturbation_family("typos") == "robustness"
    assert perturbation_family("dialect") == perturbation_family("gender") == "fairness"


def test_leaderboard_cost_is_the_pricing_functions_everywhere(
    rich_client: Any, priced: None
) -> None:
    client, store, ids = rich_client
    runs = [i for k, i in ids.items() if k.endswith("|mock/constant")]
    total = sum(summary(store, r)["cost_usd"] for r in runs)
    assert total > 0  # priced by ASSAY_PRICES when the runs were made
    shown = f"${total:.4g}"
    board = client.get(f"/?suite={SUITE}").text
    row = re.search(r"mock/constant</a>.*?</tr>", board, re.S)
    assert row is not None and f'<td class="num cost">{shown}</td>' in row.group(0)
    eff = between(client.get(f"/?suite={SUITE}&tab=efficiency").text, "<tbody>")
    assert shown in eff and "unpriced" not in eff
    cli = leaderboard_from_store(store, SUITE, resamples=50, win_rate_resamples=20)
    assert cli.model_cost("mock/constant") == pytest.approx(total)
    assert cli.model_cost("mock/oracle") == 0.0


def test_leaderboard_cells_have_room_and_the_model_column_links(rich_client: Any) -> None:
    client, _, _ = rich_client
    html = client.get(f"/?suite={SUITE}").text
    cell = re.search(r'<td class="num">\s*<a href="/runs/[^"]+">[0-9.]+</a>.*?</td>', html, re.S)
    assert cell is not None
    assert re.search(r"\d \[\d\.\d+, \d\.\d+\] n=\d+", text(cell.group(0)))
    assert 'class="board-scroll"' in html and 'class="model-col"' in html
    link = re.search(r'<a class="model-link" href="([^"]+)">mock/constant</a>', html)
    assert link is not None and client.get(unescape(link.group(1))).status_code == 200
    about = re.search(r'<a class="about" href="([^"]+)"', html)
    assert about is not None and client.get(unescape(about.group(1))).status_code == 200


def test_run_page_shows_run_level_numbers_references_and_questions(rich_client: Any) -> None:
    client, store, ids = rich_client
    bbq = client.get(f"/runs/{ids['bbq|mock/constant']}").text
    numbers = summary(store, ids["bbq|mock/constant"])
    metrics = text(between(bbq, 'id="run-metrics"'))
    for name in ("bias_ambiguous", "bias_disambiguated"):
        assert f"{name} {numbers['run_metrics'][name]:.3f}" in metrics
    assert "latency p50 / p95" in bbq and "output tokens/s" in bbq
    assert f"{numbers['output_tokens_per_s']:.1f}" in bbq
    ifeval = client.get(f"/runs/{ids['ifeval|mock/constant']}").text
    assert "ifeval_instruction_strict_pooled" in text(between(ifeval, 'id="run-metrics"'))

    with store.connect() as conn:
        s = schema.samples
        rows = conn.execute(
            sa.select(s.c.sample_id, s.c.input, s.c.choices, s.c.correct).where(
                s.c.run_id == ids["boolq|mock/constant"]
            )
        ).all()
    page = client.get(f"/runs/{ids['boolq|mock/constant']}").text
    questions = [unescape(q) for q in re.findall(r'<td class="text question">(.*?)</td>', page)]
    assert len(questions) == len(rows)
    long = 0
    for q in questions:  # the question at the end of each long passage, not its start
        source = " ".join(
            str(next(r for r in rows if q.lstrip("…") in " ".join(str(r[1]).split()))[1]).split()
        )
        if len(source) > 240:
            long += 1
            assert q.startswith("Question:") and source.endswith(q)
        else:
            assert q == source
    assert long > 0
    refs = [unescape(r) for r in re.findall(r'<td class="reference">(.*?)</td>', bbq)]
    assert refs and all(re.match(r"[A-C]\. ", r) for r in refs)


def test_humaneval_sample_shows_programs_tests_and_sandbox_results(rich_client: Any) -> None:
    client, store, ids = rich_client
    run = ids["humaneval|mock/constant"]
    with store.connect() as conn:
        s = schema.samples
        sample_id, meta = conn.execute(
            sa.select(s.c.sample_id, s.c.metadata).where(s.c.run_id == run).limit(1)
        ).one()
    records = meta["sandbox"]
    # a constant answer is no program: the sandbox says how it ended (NameError: "error")
    assert records and records[0]["status"] in ("failed", "error") and records[0]["exception"]
    html = client.get(f"/runs/{run}/samples/{quote(sample_id)}").text
    view = between(html, 'id="code-view"', "</section>")
    assert f'class="sandbox-status {records[0]["status"]}"' in view
    assert unescape(records[0]["exception"]) in unescape(view)
    test_program = re.search(r'<pre class="program test">(.*?)</pre>', view, re.S)
    assert test_program is not None and "def check(candidate):\n" in unescape(test_program.group(1))
    oracle = ids["humaneval|mock/oracle"]
    good = client.get(f"/runs/{oracle}/samples/{quote(sample_id)}").text
    assert 'class="sandbox-status passed"' in good
    program = re.search(r'<pre class="program">(.*?)</pre>', good, re.S)
    assert program is not None and unescape(program.group(1)).count("\n") >= 3


def test_perturbed_sample_labels_requests_and_diffs_inputs(rich_client: Any) -> None:
    client, _, ids = rich_client
    run = ids[f"{PERTURBED}|mock/oracle"]
    page = client.get(f"/runs/{run}").text
    first = re.search(r'class="sample-link" href="([^"]+)"', page)
    assert first is not None
    html = client.get(unescape(first.group(1))).text
    labels = re.findall(r'<span class="badge perturbation">([^<]+)</span>', html)
    assert [label.split("(")[0] for label in labels] == [
        "original",
        "typos",
        "lowercase",
        "dialect",
    ]
    diffs = re.findall(r'<pre class="diff">(.*?)</pre>', html, re.S)
    assert len(diffs) == 3
    lowered = re.findall(r'<ins class="changed">(.*?)</ins>', diffs[1], re.S)
    assert lowered and all(unescape(w) == unescape(w).lower() for w in lowered)
    removed = re.findall(r'<del class="changed">(.*?)</del>', diffs[1], re.S)
    assert any(unescape(w) != unescape(w).lower() for w in removed)


def test_truncated_answer_is_marked_on_the_sample_and_in_the_list(rich_client: Any) -> None:
    client, _, ids = rich_client
    run, cut = ids["gsm8k|mock/oracle"], ids["truncated"]
    sample = client.get(f"/runs/{run}/samples/{quote(cut)}").text
    assert 'id="truncated"' in sample
    listing = client.get(f"/runs/{run}").text
    assert "answers cut off at the token limit: 1<" in listing
    rows = re.findall(r'<tr class="[^"]*">.*?</tr>', between(listing, 'id="samples-table"'), re.S)
    marked = [r for r in rows if "badge truncated" in r]
    assert len(marked) == 1 and quote(cut, safe="/") in marked[0]
    runs = client.get(f"/runs?suite={SUITE}").text
    badges = re.findall(
        r'<a class="badge truncated" href="/runs/([0-9a-f]+)"[^>]*>1 truncated', runs
    )
    assert badges == [run]  # in the run list, only on the run with a cut-off answer
    other = client.get(f"/runs/{ids['gsm8k|mock/constant']}").text
    assert "badge truncated" not in other
    assert "answers cut off at the token limit: 0<" in other


def test_model_page_metadata_runs_and_strengths(rich_client: Any) -> None:
    client, _, ids = rich_client
    html = client.get(f"/models/mock/constant?suite={SUITE}").text
    runs = re.findall(r'<a href="/runs/([0-9a-f]+)">', between(html, 'id="model-runs"'))
    assert sorted(runs) == sorted(i for k, i in ids.items() if k.endswith("|mock/constant"))
    assert "assay" in text(between(html, 'id="model-info"'))
    groups = text(between(html, 'id="model-groups"'))
    assert "knowledge" in groups and "code" in groups
    assert client.get("/models/mock/nobody").status_code == 404


def test_benchmark_page_description_metrics_and_subject_breakdown(rich_client: Any) -> None:
    client, store, ids = rich_client
    client.get(f"/benchmarks/mmlu?suite={SUITE}")  # starts grouping the runs' samples
    wait_breakdowns()
    html = client.get(f"/benchmarks/mmlu?suite={SUITE}").text
    assert "57 subjects" in html and 'id="breakdown-pending"' not in html
    table = between(html, 'id="breakdown-table"')
    counts = [int(n) for n in re.findall(r"n=(\d+)", table)]
    assert sum(counts) == 2 * 12  # every scored sample of both models, once
    with store.connect() as conn:
        s = schema.samples
        subjects = {
            m["subject"]
            for (m,) in conn.execute(
                sa.select(s.c.metadata).where(s.c.run_id == ids["mmlu|mock/oracle"])
            )
        }
    shown = set(re.findall(r'<td class="model">([^<]+)</td>', table))
    assert shown == subjects
    bbq = client.get(f"/benchmarks/bbq?suite={SUITE}&by=category")
    assert bbq.status_code == 200 and "bias_ambiguous" in bbq.text
    assert client.get(f"/benchmarks/mmlu?suite={SUITE}&by=nope").status_code == 400
    assert client.get(f"/benchmarks/nothing?suite={SUITE}").status_code == 404


def test_word_diff_marks_only_what_changed() -> None:
    before = " ".join(f"w{i}" for i in range(100)) + " The Cat sat."
    after = " ".join(f"w{i}" for i in range(100)) + " the cat sat."
    pieces = word_diff(before, after)
    assert [p.text for p in pieces if p.kind == "del"] == ["The Cat"]
    assert [p.text for p in pieces if p.kind == "ins"] == ["the cat"]
    assert any(p.kind == "gap" for p in pieces)  # the long unchanged start is shortened


def test_question_of_long_and_short_inputs() -> None:
    passage = "Lorem ipsum dolor. " * 40 + "\nQuestion: is it long?\nAnswer:"
    assert question_of(passage) == "Question: is it long?"
    assert question_of("Short question?") == "Short question?"


def test_every_model_link_opens_its_page_even_with_settings_in_the_label(client: Any) -> None:
    html = client.get("/").text
    links = re.findall(r'<a class="model-link" href="([^"]+)">([^<]+)</a>', html)
    assert {unescape(name) for _, name in links} >= {"mock/random?seed=1", "mock/oracle"}
    for href, name in links:
        page = client.get(unescape(href))
        assert page.status_code == 200
        assert f'<h1 class="model-name">{name}</h1>' in page.text
