"""Agreement between annotators and with each judge, from the store: hand-computed kappa and
alpha, judge verdicts read from the stored judge requests (unparsed ones left out), the CLI's
table and JSON, and the viewer's Annotations page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient
from tests.annotation.conftest import ORACLE, SAFE, SUITE

from assay.analysis.annotation_agreement import annotation_agreement
from assay.annotation.items import Selection, select
from assay.store import ratings, schema
from assay.store.db import Store
from assay.web.app import create_app


def rate_all(store: Store, items: list[Any], who: str, values: list[float]) -> None:
    ratings.save_ratings(
        store,
        [
            {"item_id": i.id, "annotator": who, "value": v}
            for i, v in zip(items, values, strict=True)
        ],
        source="import",
    )


def test_kappa_and_alpha_between_annotators_match_hand_computed_values(db: Path) -> None:
    store = Store(f"sqlite:///{db}")
    items = select(store, Selection(benchmarks=["mmlu"], suite=SUITE, models=[ORACLE], limit=10))
    # pass/fail, two annotators over 10 items; they agree on 8:
    #   a: 1 1 1 1 1 1 0 0 0 0    b: 1 1 1 1 1 0 0 0 0 1
    # p_o = 0.8; p_e = 0.6*0.6 + 0.4*0.4 = 0.52; kappa = 0.28 / 0.48 = 0.58333
    a = [1.0] * 6 + [0.0] * 4
    b = [1.0] * 5 + [0.0] * 4 + [1.0]
    rate_all(store, items, "ann-a", a)
    rate_all(store, items, "ann-b", b)
    (group,) = annotation_agreement(store)
    assert (group.benchmark, group.rubric, group.items) == ("mmlu", "pass_fail", 10)
    (pair,) = group.pairs  # mmlu has no judge
    assert (pair.a, pair.b, pair.n) == ("ann-a", "ann-b", 10)
    assert pair.agreement == pytest.approx(0.8)
    assert pair.kappa == pytest.approx(0.28 / 0.48)
    # Krippendorff's alpha (nominal), two raters, 10 units: coincidences o_11 = 10, o_00 = 6,
    # o_01 = o_10 = 2; n = 20, n_1 = 12, n_0 = 8: D_o = 4/20, D_e = 2*12*8/(20*19)
    assert group.alpha == pytest.approx(1 - (4 / 20) / (2 * 12 * 8 / (20 * 19)))
    store.close()


def test_on_a_graded_scale_kappa_is_weighted_so_near_misses_count(db: Path, cli: Any) -> None:
    """On the 1-5 scale a 4 against a 5 is a near miss: the pair's kappa is Cohen's weighted
    kappa with quadratic weights (hand-computed here), where the unweighted kappa would call
    every miss a full disagreement; the CLI's JSON says which weights were used."""
    store = Store(f"sqlite:///{db}")
    items = select(
        store,
        Selection(benchmarks=["mmlu"], suite=SUITE, models=[ORACLE], rubric="1-5", limit=4),
    )
    rate_all(store, items, "ann-a", [1.0, 2.0, 4.0, 5.0])
    rate_all(store, items, "ann-b", [1.0, 3.0, 4.0, 4.0])
    (group,) = annotation_agreement(store)
    (pair,) = group.pairs
    # observed mean squared difference (0 + 1 + 0 + 1) / 4 = 0.5; expected over all 16 pairs of
    # a's and b's ratings: a in {1,2,4,5}, b in {1,3,4,4}: sum of squares 64 / 16 = 4
    assert pair.weights == "quadratic"
    assert pair.kappa == pytest.approx(1 - 0.5 / 4)
    assert pair.agreement == pytest.approx(0.5)  # unweighted kappa: 0.385
    store.close()
    data = json.loads(cli("annotate", "agreement", "--db", db, "--format", "json").out)
    assert data[0]["pairs"][0]["kappa_weights"] == "quadratic"


def test_annotators_are_compared_with_each_judge_and_unparsed_verdicts_are_left_out(
    db: Path, cli: Any
) -> None:
    store = Store(f"sqlite:///{db}")
    items = select(store, Selection(benchmarks=["xstest"], suite=SUITE, models=[SAFE]))
    assert {i.rubric.name for i in items} == {"refusal"}
    # the scripted judge says COMPLIED, or garbage for ~30%: those are not votes
    rq, s = schema.requests, schema.samples
    with store.connect() as conn:
        run_id = items[0].run_id
        status = dict(
            conn.execute(
                sa.select(s.c.sample_id, s.c.metadata["judge_status"].as_string()).where(
                    s.c.run_id == run_id
                )
            ).all()
        )
        judged = conn.execute(
            sa.select(sa.func.count()).where(rq.c.run_id == run_id, rq.c.idx > 0)
        ).scalar()
    parsed = [i for i in items if status[i.sample_id] == "ok"]
    assert judged == len(items) and 0 < len(parsed) < len(items)
    # the annotator says complied on the first half of the items, refused on the rest
    half = len(items) // 2
    rate_all(store, items, "alice", [0.0] * half + [1.0] * (len(items) - half))
    (group,) = annotation_agreement(store, ["xstest"])
    assert group.ratings == {"alice": len(items), "judge:mock/judge?garbage=0.3": len(parsed)}
    (pair,) = group.pairs
    assert pair.b == "judge:mock/judge?garbage=0.3" and pair.n == len(parsed)
    same = sum(1 for i in parsed if items.index(i) < half)
    assert pair.agreement == pytest.approx(same / len(parsed))
    assert pair.kappa == pytest.approx(0.0)  # the judge is constant: no agreement beyond chance
    assert group.alpha is None  # one annotator
    store.close()
    table = cli("annotate", "agreement", "--db", db)
    assert table.code == 0 and "alice vs judge:mock/judge?garbage=0.3" in table.out
    assert f"n={len(parsed)}" in table.out
    data = json.loads(cli("annotate", "agreement", "--db", db, "--format", "json").out)
    assert data[0]["pairs"][0]["n"] == len(parsed) and data[0]["alpha"] is None


def test_pairwise_agreement_is_by_pair_of_models(db: Path, cli: Any) -> None:
    store = Store(f"sqlite:///{db}")
    items = select(
        store, Selection(benchmarks=["xstest"], suite=SUITE, pairwise=f"{SAFE},{ORACLE}", limit=6)
    )
    rate_all(store, items, "ann-a", [1.0, 1.0, 0.0, 0.5, 0.0, 1.0])
    rate_all(store, items, "ann-b", [1.0, 1.0, 0.0, 0.5, 1.0, 1.0])
    rate_all(store, items, "ann-c", [1.0, 0.0, 0.0, 0.5, 0.0, 1.0])
    (group,) = annotation_agreement(store)
    assert group.kind == "pairwise" and group.items == 6
    # "A vs B": a rating of 1 means the response of A (the item's run_id) is better
    with store.connect() as conn:
        model = dict(conn.execute(sa.select(schema.runs.c.id, schema.runs.c.model)).all())
    assert group.models == f"{model[items[0].run_id]} vs {model[items[0].other_run_id]}"
    assert [(p.a, p.b, p.n) for p in group.pairs] == [
        ("ann-a", "ann-b", 6),
        ("ann-a", "ann-c", 6),
        ("ann-b", "ann-c", 6),
    ]
    assert group.alpha is not None and 0 < group.alpha < 1
    store.close()


def test_the_viewer_shows_agreement_and_a_store_without_ratings(db: Path, tmp_path: Path) -> None:
    store = Store(f"sqlite:///{db}")
    client = TestClient(create_app(store))
    empty = client.get("/annotations")
    assert empty.status_code == 200 and 'id="no-annotations"' in empty.text
    items = select(store, Selection(benchmarks=["mmlu"], suite=SUITE, models=[ORACLE], limit=4))
    rate_all(store, items, "ann-a", [1.0, 1.0, 0.0, 0.0])
    rate_all(store, items, "ann-b", [1.0, 0.0, 0.0, 0.0])
    page = client.get("/annotations").text
    assert "mmlu · rubric pass_fail" in page
    assert '<td class="num kappa">0.500</td>' in page  # p_o .75, p_e .5
    assert 'href="/annotations"' in client.get("/").text  # in the menu
    store.close()


def test_a_store_from_before_annotations_reads_as_having_none(db: Path, cli: Any) -> None:
    import sqlite3

    with sqlite3.connect(db) as conn:  # as an older assay left it, read without upgrading
        conn.execute("DROP TABLE annotation_ratings")
        conn.execute("DROP TABLE annotation_items")
    store = Store(f"sqlite:///{db}", readonly=True)
    page = TestClient(create_app(store)).get("/annotations")
    assert page.status_code == 200 and 'id="no-annotations"' in page.text
    store.close()
    result = cli("annotate", "agreement", "--db", db)
    assert result.code == 0 and "no ratings in this store" in result.out


def test_pairwise_annotators_are_compared_with_the_pairwise_judge(db: Path, cli: Any) -> None:
    judged = cli(
        "pairwise", "--suite", SUITE, "--benchmark", "xstest", "--judge", "mock/judge",
        "--limit", "10", "--db", db,
    )  # fmt: skip
    assert judged.code == 0, judged.err
    store = Store(f"sqlite:///{db}")
    items = select(
        store, Selection(benchmarks=["xstest"], suite=SUITE, pairwise=f"{SAFE},{ORACLE}")
    )
    with store.connect() as conn:
        model = dict(conn.execute(sa.select(schema.runs.c.id, schema.runs.c.model)).all())
        t = schema.pairwise_judgments
        compared = set(conn.execute(sa.select(t.c.sample_id)).scalars())
    assert len(compared) == 10
    # the scripted judge prefers the longer response: SAFE's "Sure, ..." over ORACLE's ""
    safe_won = {i.id: 1.0 if model[i.run_id] == SAFE else 0.0 for i in items}
    # the annotator agrees on every item but the first three the judge compared
    disagree = [i.id for i in items if i.sample_id in compared][:3]
    values = [1.0 - safe_won[i.id] if i.id in disagree else safe_won[i.id] for i in items]
    rate_all(store, items, "ann-a", values)
    (group,) = annotation_agreement(store)
    assert group.ratings == {"ann-a": len(items), "judge:mock/judge": 10}
    (pair,) = group.pairs
    assert (pair.b, pair.n) == ("judge:mock/judge", 10)
    assert pair.agreement == pytest.approx(0.7)
    store.close()


def test_a_run_judged_on_a_general_rubric_is_rated_on_it_and_compared(
    db: Path, cli: Any, data_dir: Path
) -> None:
    ran = cli(
        "run", "boolq", "-m", ORACLE, "--judge", "mock/judge", "--rubric", "1-5", "--limit", "6",
        "--suite", "rubric-suite", "--db", db, "--data-dir", data_dir, "--no-progress",
    )  # fmt: skip
    assert ran.code == 0, ran.err
    store = Store(f"sqlite:///{db}")
    items = select(store, Selection(suite="rubric-suite"))
    assert {i.rubric.name for i in items} == {"1-5"}  # the run's judge rubric, not pass/fail
    rate_all(store, items, "ann-a", [4.0, 4.0, 4.0, 4.0, 2.0, 5.0])
    (group,) = annotation_agreement(store, ["boolq"])
    assert group.level == "ordinal"
    (pair,) = group.pairs
    assert (pair.b, pair.n) == ("judge:mock/judge", 6)  # the judge says SCORE: 4 throughout
    assert pair.agreement == pytest.approx(4 / 6)
    store.close()


def test_each_judge_of_a_panel_is_compared_with_the_annotators(
    db: Path, cli: Any, data_dir: Path
) -> None:
    steady, contrary = "mock/judge", "mock/judge?flip=0.5&seed=3"
    ran = cli(
        "run", "simplesafetytests", "-m", SAFE, "--judge", steady, "--judge", contrary,
        "--limit", "20", "--suite", "panel", "--db", db, "--data-dir", data_dir, "--no-progress",
    )  # fmt: skip
    assert ran.code == 0, ran.err
    store = Store(f"sqlite:///{db}")
    items = select(store, Selection(suite="panel"))
    assert len(items) == 20 and {i.rubric.name for i in items} == {"refusal"}
    rate_all(store, items, "ann-a", [0.0] * 20)  # complied, as the steady judge says
    rate_all(store, items, "ann-b", [0.0] * 19 + [1.0])
    (group,) = annotation_agreement(store)
    by_pair = {(p.a, p.b): p for p in group.pairs}
    assert set(by_pair) == {
        ("ann-a", "ann-b"),
        ("ann-a", f"judge:{steady}"),
        ("ann-a", f"judge:{contrary}"),
        ("ann-b", f"judge:{steady}"),
        ("ann-b", f"judge:{contrary}"),
    }  # annotators with each other and with each judge; judges among themselves are the panel's
    assert by_pair[("ann-a", f"judge:{steady}")].agreement == 1.0
    flipped = by_pair[("ann-a", f"judge:{contrary}")]
    assert flipped.n == 20 and 0.2 < flipped.agreement < 0.8  # it says refused about half the time
    store.close()
