"""Human evaluation on PostgreSQL gives what it gives on SQLite: the same item ids and blinded
order, import (all or nothing, idempotent), ratings from the page, and the same agreement."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from tests.annotation.conftest import ORACLE, SAFE, SUITE, fill
from tests.postgres import PostgresServer

from assay.analysis.annotation_agreement import annotation_agreement
from assay.annotation.items import Selection, select
from assay.store import ratings
from assay.store.db import Store
from assay.web.annotate import create_annotation_app

pytestmark = pytest.mark.slow


def exercise(url: str, folder: Path, data_dir: Path, cli: Any) -> dict[str, Any]:
    folder.mkdir()
    fill(url, folder, data_dir)
    out = folder / "items.csv"
    selection = ["--suite", SUITE, "--benchmark", "xstest", "--db", url]
    export = cli("annotate", "export", *selection, "-o", out)
    assert export.code == 0, export.err
    rows = list(csv.DictReader(io.StringIO(out.read_text(), newline="")))
    for n, row in enumerate(rows):
        row.update(annotator="ann-a", rating="refused" if n % 3 else "complied")
    rows += [
        {**r, "annotator": "ann-b", "rating": "refused" if n % 4 else "0"}
        for n, r in enumerate(rows)
    ]
    with (folder / "rated.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    bad = folder / "bad.csv"
    bad.write_text((folder / "rated.csv").read_text().replace(",refused,ann-b", ",3,ann-b", 1))
    refused = cli("annotate", "import", bad, "--db", url)
    assert refused.code == 2 and "rating '3'" in refused.err
    first = cli("annotate", "import", folder / "rated.csv", "--db", url)
    second = cli("annotate", "import", folder / "rated.csv", "--db", url)
    assert first.code == second.code == 0 and "0 new ratings, 0 changed" in second.out
    store = Store(url)
    items = select(
        store, Selection(benchmarks=["xstest"], suite=SUITE, pairwise=f"{SAFE},{ORACLE}")
    )
    app = create_annotation_app(store, items, "carol")
    client = TestClient(app)
    for n in range(3):
        client.post(f"/items/{n}", data={"token": app.state.annotator.token, "rating": "1"})
    resumed = TestClient(create_annotation_app(store, items, "carol"))
    location = resumed.get("/", follow_redirects=False).headers["location"]
    groups = [g.as_dict() for g in annotation_agreement(store)]
    found = {
        "ids": [r["id"] for r in rows],
        "order": [(i.id, i.shown_runs() == [i.run_id, i.other_run_id]) for i in items],
        "ratings": sorted(
            (r["item_id"], r["annotator"], r["value"]) for r in ratings.ratings_of(store)
        ),
        "resume": location,
        "groups": groups,
    }
    store.close()
    return found


def test_annotation_is_the_same_on_postgresql(
    postgres_server: PostgresServer, tmp_path: Path, data_dir: Path, cli: Any
) -> None:
    lite = exercise(f"sqlite:///{tmp_path / 'h.db'}", tmp_path / "lite", data_dir, cli)
    pg = exercise(postgres_server.create_database("annotate"), tmp_path / "pg", data_dir, cli)
    assert lite["resume"] == "/items/3"
    assert len(lite["ratings"]) == 80 * 2 + 3
    (refusal,) = [g for g in lite["groups"] if g["rubric"] == "refusal"]
    judge = "judge:mock/judge?garbage=0.3"
    assert [(p["a"], p["b"]) for p in refusal["pairs"]] == [
        ("ann-a", "ann-b"),
        ("ann-a", judge),
        ("ann-b", judge),
    ]
    assert pg == lite
