"""Human evaluation at scale: items selected and registered, exported, imported and compared.

Builds a store with two instant mock models on an N-sample local benchmark, then times: item
selection (registering N x 2 items), `annotate export` to CSV, importing two annotators' full
ratings (2 x 2N rows, one transaction each), re-importing (nothing written), the agreement
report, and the annotation page (p50/p95 of 200 renders of items spread over the list).

    python bench/annotate.py [N]        # default 5000
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from assay.analysis.annotation_agreement import annotation_agreement
from assay.annotation.exchange import export_rows, import_ratings, render
from assay.annotation.items import Selection, select
from assay.cli import main
from assay.store.db import Store
from assay.web.annotate import create_annotation_app


def timed(what: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    out = fn()
    print(f"{what}: {time.perf_counter() - start:.2f} s")
    return out


def run(n: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="assay-annotate-bench-"))
    rows = [
        {"id": f"q{i}", "question": f"What is {i} plus 1?", "answer": str(i + 1)} for i in range(n)
    ]
    (folder / "data.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (folder / "b.yaml").write_text(
        "name: sums\ndata: {path: data.jsonl}\nfields: {id: id, input: question, target: answer}\n"
        "prompt: {format: generate}\nmetrics: [exact_match]\n"
    )
    db = folder / "bench.db"
    args = ["run", str(folder / "b.yaml"), "-m", "mock/oracle", "-m", "mock/random?seed=1"]
    assert main([*args, "--db", str(db), "--no-progress", "--suite", "bench"]) == 0
    store = Store(f"sqlite:///{db}")
    items = timed(f"select and register {2 * n} items", lambda: select(store, Selection()))
    text = timed("export CSV", lambda: render(export_rows(store, items, None), "csv"))
    exported = list(csv.DictReader(io.StringIO(text, newline="")))
    for who, differ in (("ann-a", False), ("ann-b", True)):  # ann-b differs on 1 item in 10
        rated = [
            {
                "id": r["id"],
                "annotator": who,
                "rating": "pass" if (i % 2 == 0) != (differ and i % 10 == 0) else "fail",
            }
            for i, r in enumerate(exported)
        ]
        path = folder / f"{who}.csv"
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["id", "annotator", "rating"])
            writer.writeheader()
            writer.writerows(rated)
        timed(f"import {len(rated)} ratings ({who})", lambda p=path: import_ratings(store, p))
    timed("re-import (nothing written)", lambda: import_ratings(store, folder / "ann-b.csv"))
    groups = timed("agreement", lambda: annotation_agreement(store))
    print(f"  alpha {groups[0].alpha:.3f} over {groups[0].items} items")
    client = TestClient(create_annotation_app(store, items, "ann-a"))
    times = []
    for k in range(200):
        start = time.perf_counter()
        assert client.get(f"/items/{(k * 7919) % len(items)}").status_code == 200
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = times[int(0.95 * len(times)) - 1]
    print(f"annotation page: p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms")
    store.close()
    shutil.rmtree(folder)


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
