"""Which items an annotator meets and how: seeded blinded pairwise order (recorded, stored by
run), the annotation page (ratings stored as given, resume at the first unrated item, forms
from elsewhere refused, harmful text shown escaped)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient
from tests.annotation.conftest import ORACLE, SAFE, SUITE

from assay.annotation.items import Item, Selection, left_first, select
from assay.store import schema
from assay.store.db import Store
from assay.web.annotate import create_annotation_app


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    found = Store(f"sqlite:///{db}")
    yield found
    found.close()


def pairs(store: Store, seed: int = 0, pair: str = f"{SAFE},{ORACLE}") -> list[Item]:
    return select(store, Selection(benchmarks=["xstest"], pairwise=pair, suite=SUITE, seed=seed))


def model_of(store: Store, run_id: str) -> str:
    with store.connect() as conn:
        return str(
            conn.execute(sa.select(schema.runs.c.model).where(schema.runs.c.id == run_id)).scalar()
        )


def test_pairwise_order_is_drawn_from_the_seed_and_recorded(db: Path, tmp_path: Path) -> None:
    store = Store(f"sqlite:///{db}")
    items = pairs(store, seed=7)
    assert len(items) == 40
    lefts = [i.left_run_id == i.run_id for i in items]
    assert 8 < sum(lefts) < 32  # a coin per item, not one side for all
    assert lefts == [left_first(7, i.id) for i in items]
    assert all(i.seed == 7 for i in items)
    # the same seed draws the same order; the pair named the other way round is the same items
    assert [i.left_run_id for i in pairs(store, seed=7, pair=f"{ORACLE},{SAFE}")] == [
        i.left_run_id for i in items
    ]
    store.close()
    # another seed draws another order (on a fresh copy, where nothing is recorded yet)
    fresh = tmp_path / "fresh.db"
    fresh.write_bytes(db.read_bytes())
    store = Store(f"sqlite:///{fresh}")
    with store.begin() as conn:
        conn.execute(schema.annotation_items.delete())
    reseeded = pairs(store, seed=8)
    assert [i.id for i in reseeded] == [i.id for i in items]
    assert [i.left_run_id for i in reseeded] != [i.left_run_id for i in items]
    store.close()


def test_a_pairwise_item_keeps_its_recorded_order_under_another_seed(store: Store) -> None:
    first = pairs(store, seed=1)
    later = pairs(store, seed=2)
    assert [(i.left_run_id, i.seed) for i in later] == [(i.left_run_id, 1) for i in first]


def test_a_pairwise_answer_is_stored_by_run_whichever_side_it_was_shown(store: Store) -> None:
    items = pairs(store)
    app = create_annotation_app(store, items, "pat")
    client = TestClient(app)
    token = app.state.annotator.token
    flipped = next(n for n, i in enumerate(items) if i.left_run_id != i.run_id)
    straight = next(n for n, i in enumerate(items) if i.left_run_id == i.run_id)
    for n in (flipped, straight):
        page = client.get(f"/items/{n}").text
        assert "mock/" not in page  # no model name on the page
        client.post(f"/items/{n}", data={"token": token, "rating": "1"})  # left is better
    stored = {r["item_id"]: r["value"] for r in ratings_of(store)}
    # the stored value says which run's response won: 1.0 run_id's, 0.0 other_run_id's
    assert stored[items[flipped].id] == 0.0 and stored[items[straight].id] == 1.0
    for n in (flipped, straight):
        shown_left = items[n].shown_runs()[0]
        winner = items[n].run_id if stored[items[n].id] == 1.0 else items[n].other_run_id
        assert winner == shown_left
    # the page shows the responses in the recorded order
    page = client.get(f"/items/{flipped}").text
    texts = re.findall(r'<pre class="response" id="response-\d">(.*?)</pre>', page, re.S)
    left_model = model_of(store, items[flipped].shown_runs()[0])
    assert (texts[0].startswith("Sure")) == (left_model == SAFE)


def ratings_of(store: Store, annotator: str | None = None) -> list[dict[str, Any]]:
    from assay.store import ratings

    return ratings.ratings_of(store, annotator=annotator)


def rate(client: TestClient, n: int, token: str, rating: str) -> Any:
    return client.post(
        f"/items/{n}", data={"token": token, "rating": rating}, follow_redirects=False
    )


def test_ratings_are_stored_as_given_and_the_annotator_resumes_at_the_first_unrated(
    store: Store,
) -> None:
    items = select(store, Selection(benchmarks=["mmlu"], suite=SUITE, rubric="1-10", limit=4))
    assert len(items) == 8 and all(i.rubric.name == "1-10" for i in items)
    app = create_annotation_app(store, items, "alice")
    client = TestClient(app)
    token = app.state.annotator.token
    assert client.get("/", follow_redirects=False).headers["location"] == "/items/0"
    for n, value in ((0, "7"), (1, "10"), (3, "1")):  # item 2 skipped
        answer = rate(client, n, token, value)
        assert answer.status_code == 303
        stored = {r["item_id"]: r["value"] for r in ratings_of(store, "alice")}
        assert stored[items[n].id] == float(value)  # in the store as soon as it is given
    assert answer.headers["location"] == "/items/4"  # on to the next unrated
    assert {r["source"] for r in ratings_of(store)} == {"web"}
    # the annotator stops; a new server (the same command again) resumes at the skipped item
    again = create_annotation_app(store, items, "alice")
    resumed = TestClient(again)
    assert resumed.get("/", follow_redirects=False).headers["location"] == "/items/2"
    page = resumed.get("/items/0").text
    assert 'class="chosen">7<' in page and "3</span> rated" in page
    # another annotator starts at the beginning, and the first's ratings are not theirs
    other = TestClient(create_annotation_app(store, items, "bob"))
    assert other.get("/", follow_redirects=False).headers["location"] == "/items/0"
    # rating the rest ends on the done page; a changed rating replaces the old one
    for n in (2, 4, 5, 6, 7):
        rate(resumed, n, again.state.annotator.token, "5")
    assert resumed.get("/", follow_redirects=False).headers["location"] == "/done"
    assert "Every item is rated" in resumed.get("/done").text
    rate(resumed, 0, again.state.annotator.token, "2")
    stored = {r["item_id"]: r["value"] for r in ratings_of(store, "alice")}
    assert len(stored) == 8 and stored[items[0].id] == 2.0


def test_a_form_from_elsewhere_or_a_bad_rating_is_refused(store: Store) -> None:
    items = select(store, Selection(benchmarks=["xstest"], suite=SUITE, limit=2))
    app = create_annotation_app(store, items, "alice")
    client = TestClient(app)
    token = app.state.annotator.token
    assert rate(client, 0, "forged", "refused").status_code == 403
    assert rate(client, 0, token, "5").status_code == 400  # not an answer of the refusal rubric
    assert rate(client, 0, token, "").status_code == 400
    assert rate(client, 99, token, "refused").status_code == 404
    assert client.get("/items/-1").status_code == 404
    assert ratings_of(store) == []
    assert rate(client, 0, token, "refused").status_code == 303
    assert [r["value"] for r in ratings_of(store)] == [1.0]


def test_the_page_shows_harmful_text_and_markup_as_text(store: Store) -> None:
    harmful = select(store, Selection(benchmarks=["xstest"], suite=SUITE, models=[SAFE]))
    client = TestClient(create_annotation_app(store, harmful, "alice"))
    page = client.get("/items/0")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "Did the assistant refuse" in page.text
    assert "A response COMPLIED if" in page.text  # the judge prompt's own criteria
    markup = select(store, Selection(benchmarks=["markup"], suite=SUITE))
    page = TestClient(create_annotation_app(store, markup, "alice")).get("/items/0").text
    assert "<script>window.__xss" not in page and "<img src=x" not in page
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in page  # shown, escaped
    assert page.count("&lt;script&gt;") >= 2  # in the prompt and the response


def test_items_leave_out_samples_whose_request_failed(db: Path, data_dir: Path, cli: Any) -> None:
    args = ["--db", db, "--no-progress", "--data-dir", data_dir, "--suite", "flaky-suite"]
    flaky = ["run", "gsm8k", "-m", "mock/flaky?fail_rate=0.3", "--limit", "20", "--max-attempts"]
    assert cli(*flaky, "1", "--retry-delay", "0", *args).code == 0
    store = Store(f"sqlite:///{db}")
    items = select(store, Selection(suite="flaky-suite"))
    s = schema.samples
    with store.connect() as conn:
        errors = set(conn.execute(sa.select(s.c.sample_id).where(s.c.status == "error")).scalars())
    assert errors and len(items) == 20 - len(errors)
    assert not {i.sample_id for i in items} & errors
    store.close()
