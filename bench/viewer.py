"""Viewer speed on a large store: p50/p95 server time and bytes per page.

Generates a store with `--samples` samples (default 1,000,000) spread over models x benchmarks,
written straight into the store's tables with executemany, then loads pages through the viewer
app in-process and reads the app's `Server-Timing` header (time to the response start, template
rendering included). Targets: every page under 100 KB, p95 under 50 ms. Covers the leaderboard
and its metric-group tabs, run pages with every filter and sort, sample, compare, model and
benchmark pages. On SQLite it also prints the SQL work per page in VM instructions ("steps"),
a figure that does not depend on how busy the machine is, to compare changes by, and the
process CPU time per load (the test client's share included; background work that runs at the
same time too, such as the compare page's statistics), which depends on it much less than the
wall time does.

    python bench/viewer.py                      # generate (once) and measure
    python bench/viewer.py --db /tmp/v.db --samples 200000 --regenerate

An existing store at `--db` (a file, or a database URL whose store has runs) is reused as it is
(opened for writing once, so an older one gets the current indexes); `--regenerate` builds a
file store again.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import sqlalchemy as sa

from assay.analysis.stats import mean_ci
from assay.store import schema
from assay.store.db import Store, resolve_url
from assay.store.writes import record_run_stats

WORDS = [
    "apple",
    "river",
    "theorem",
    "enzyme",
    "senate",
    "orbit",
    "lattice",
    "verdict",
    "glacier",
    "sonnet",
    "market",
    "protein",
    "harbor",
    "circuit",
    "dialect",
    "fossil",
    "mortgage",
    "neutron",
    "pigment",
    "quarry",
    "ribbon",
    "saddle",
    "tariff",
    "vaccine",
    "walnut",
    "yeast",
    "zenith",
    "anchor",
    "ballot",
    "cactus",
    "dolphin",
    "ember",
    "falcon",
    "granite",
    "hollow",
    "island",
    "jasmine",
]
SUBJECTS = [f"subject_{i:02d}" for i in range(20)]
BENCHMARK_WEIGHTS = {"bench-a": 8, "bench-b": 4, "bench-c": 2, "bench-d": 1, "bench-e": 1}
BATCH = 10_000


def generate(store: Store, total: int, n_models: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    models = [f"provider/model-{i}" for i in range(n_models)]
    weight_sum = sum(BENCHMARK_WEIGHTS.values())
    started = time.perf_counter()
    with store.begin() as conn:
        conn.execute(schema.suites.insert(), [{"name": "default", "created_at": time.time()}])
    for b_index, (benchmark, weight) in enumerate(BENCHMARK_WEIGHTS.items()):
        per_run = total * weight // weight_sum // n_models
        questions = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 45))) + "?"
            for _ in range(per_run)
        ]
        answers = [rng.choice("ABCD") for _ in range(per_run)]
        for m_index, model in enumerate(models):
            run_id = f"r{b_index}m{m_index:02d}".ljust(20, "0")
            skill = 0.3 + 0.6 * m_index / max(n_models - 1, 1)
            _write_run(store, rng, run_id, benchmark, model, questions, answers, skill)
            done = time.perf_counter() - started
            print(f"  {benchmark} x {model}: {per_run:,} samples ({done:.0f}s)", file=sys.stderr)


def _write_run(
    store: Store,
    rng: random.Random,
    run_id: str,
    benchmark: str,
    model: str,
    questions: list[str],
    answers: list[str],
    skill: float,
) -> None:
    now = time.time()
    spec = {"benchmark": benchmark, "model": {"model": model}, "limit": None, "seed": 0}
    values: list[float] = []
    statuses = {"ok": 0, "unparsed": 0, "error": 0}
    tokens_in = tokens_out = 0
    latency = 0.0
    with store.begin() as conn:
        conn.execute(
            schema.runs.insert(),
            [
                {
                    "id": run_id,
                    "benchmark": benchmark,
                    "benchmark_name": benchmark,
                    "benchmark_version": "1",
                    "model": model,
                    "spec": spec,
                    "groups": ["knowledge"] if benchmark < "bench-c" else ["reasoning"],
                    "main_metric": "exact_match",
                    "higher_is_better": True,
                    "dataset_hash": "0" * 16,
                    "assay_version": "bench",
                    "status": "finished",
                    "n_samples": len(questions),
                    "summary": None,
                    "created_at": now,
                    "started_at": now,
                    "finished_at": now,
                    "duration_s": 1.0,
                }
            ],
        )
        conn.execute(
            schema.suite_runs.insert(), [{"suite": "default", "run_id": run_id, "added_at": now}]
        )
        conn.execute(
            schema.run_provenance.insert(),
            [{"run_id": run_id, "provenance": {"assay_version": "bench"}, "recorded_at": now}],
        )
        for start in range(0, len(questions), BATCH):
            samples, requests, scores = [], [], []
            for i in range(start, min(start + BATCH, len(questions))):
                sample_id = f"{SUBJECTS[i % len(SUBJECTS)]}/test/{i}"
                roll = rng.random()
                status = "error" if roll < 0.005 else "unparsed" if roll < 0.025 else "ok"
                statuses[status] += 1
                right = answers[i] if rng.random() < skill else rng.choice("ABCD")
                reply = f"Thinking about {rng.choice(WORDS)} and {rng.choice(WORDS)}: {right}"
                n_in, n_out = 60 + len(questions[i]) // 4, 12
                took = rng.uniform(0.05, 2.0)
                tokens_in, tokens_out, latency = (
                    tokens_in + n_in,
                    tokens_out + n_out,
                    latency + took,
                )
                samples.append(
                    {
                        "run_id": run_id,
                        "sample_id": sample_id,
                        "idx": i,
                        "input": questions[i],
                        "references": [answers[i]],
                        "choices": ["first", "second", "third", "fourth"],
                        "correct": "ABCD".index(answers[i]),
                        "metadata": {"subject": SUBJECTS[i % len(SUBJECTS)]},
                        "split": "test",
                        "status": status,
                        "prediction": None if status != "ok" else right,
                        "error": "timeout: no answer in 600s" if status == "error" else None,
                        "updated_at": now,
                    }
                )
                requests.append(
                    {
                        "run_id": run_id,
                        "sample_id": sample_id,
                        "idx": 0,
                        "cache_key": f"{run_id}{i:012d}",
                        "request": {
                            "max_tokens": 16,
                            "temperature": 0.0,
                            "messages": [
                                {"role": "user", "content": f"Answer A-D.\n\n{questions[i]}"}
                            ],
                        },
                        "response": None
                        if status == "error"
                        else {"text": reply, "input_tokens": n_in, "output_tokens": n_out},
                        "text": None if status == "error" else reply,
                        "error": {"kind": "timeout", "message": "no answer"}
                        if status == "error"
                        else None,
                        "latency_s": took,
                        "input_tokens": n_in,
                        "output_tokens": n_out,
                        "cached": False,
                        "attempts": 1,
                        "created_at": now,
                    }
                )
                if status != "error":
                    value = 1.0 if status == "ok" and right == answers[i] else 0.0
                    values.append(value)
                    scores.append(
                        {
                            "run_id": run_id,
                            "sample_id": sample_id,
                            "metric": "exact_match",
                            "value": value,
                        }
                    )
            conn.execute(schema.samples.insert(), samples)
            conn.execute(schema.requests.insert(), requests)
            conn.execute(schema.scores.insert(), scores)
        n = len(questions)
        summary = {
            "main_metric": "exact_match",
            "metrics": {"exact_match": mean_ci(np.asarray(values)).to_dict()},
            "n_samples": n,
            "n_scored": n - statuses["error"],
            "n_errors": statuses["error"],
            "n_unparsed": statuses["unparsed"],
            "errors_by_kind": {"timeout": statuses["error"]},
            "requests": n,
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "latency_mean_s": latency / n,
            "cache_hits": 0,
        }
        conn.execute(schema.runs.update().where(schema.runs.c.id == run_id).values(summary=summary))
        record_run_stats(conn, run_id)  # as the runner does when a run finishes


STEP = 1_000  # SQLite VM instructions between two calls of the progress handler
_steps = [0]


def count_work(store: Store) -> None:
    """Count the SQLite VM instructions the pages' queries run: work that does not depend on
    how busy the machine is (rows and index entries visited, values computed). Only the
    request handlers' (AnyIO's worker threads), not the viewer's background computations."""
    if store.engine.dialect.name != "sqlite":
        return

    def tick() -> int:
        if threading.current_thread().name.startswith("AnyIO worker"):
            _steps[0] += STEP
        return 0

    @sa.event.listens_for(store.engine, "checkout")
    def _on_checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        dbapi_conn.set_progress_handler(tick, STEP)


_cpu: list[float] = []  # process CPU ms per load of the last measure()


def measure(client: Any, urls: list[str]) -> tuple[list[float], list[int]]:
    times, sizes = [], []
    _steps[0] = 0
    _cpu.clear()
    for url in urls:
        started = time.process_time()
        response = client.get(url)
        _cpu.append((time.process_time() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url}: HTTP {response.status_code}")
        timing = response.headers["server-timing"]
        times.append(float(timing.split("dur=")[1]))
        sizes.append(len(response.content))
    return times, sizes


def report(name: str, times: list[float], sizes: list[int]) -> bool:
    ordered = sorted(times)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    ok = p95 < 50 and max(sizes) < 100_000
    work = f"  SQL {_steps[0] / len(times) / 1e3:6.0f}k steps" if _steps[0] else ""
    work += f"  CPU p50 {statistics.median(_cpu):5.1f} ms" if _cpu else ""
    print(
        f"{name:<42} n={len(times):>4}  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
        f"max {ordered[-1]:6.1f} ms  bytes p50 {int(statistics.median(sizes)):>6,}  "
        f"max {max(sizes):>6,}{work}  {'ok' if ok else 'OVER TARGET'}"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="/tmp/assay-viewer-bench.db")
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="loads per page kind and run")
    parser.add_argument("--loads", type=int, default=20, help="loads of each single page")
    args = parser.parse_args()
    from starlette.testclient import TestClient

    from assay.web.app import create_app
    from assay.web.metric_groups import METRIC_GROUPS

    tab_urls = [f"/?tab={t}" for t in METRIC_GROUPS]

    url = resolve_url(args.db)
    path = Path(args.db)
    if args.regenerate and path.exists():
        for p in path.parent.glob(path.name + "*"):
            p.unlink()
    if "://" in args.db:  # a database server: generate into an empty one only
        with Store(url).connect() as conn:
            empty = conn.execute(sa.select(sa.func.count()).select_from(schema.runs)).scalar() == 0
    else:
        empty = not path.exists()
    if empty:
        print(f"generating {args.samples:,} samples into {args.db} ...", file=sys.stderr)
        started = time.perf_counter()
        generate(Store(url), args.samples, args.models)
        print(f"generated in {time.perf_counter() - started:.0f}s", file=sys.stderr)

    Store(url).close()  # a store made by an earlier assay: bring its indexes up to date
    store = Store(url, readonly=True)
    count_work(store)
    with store.connect() as conn:
        n_samples = conn.execute(sa.select(sa.func.count()).select_from(schema.samples)).scalar()
        runs_models = conn.execute(
            sa.select(
                schema.runs.c.id,
                schema.runs.c.benchmark,
                schema.runs.c.n_samples,
                schema.runs.c.model,
            )
        ).all()
        runs = [(r[0], r[1], r[2]) for r in runs_models]
        rng = random.Random(1)
        picks = []
        for run_id, _, n in runs:
            for _ in range(args.repeat):
                i = rng.randrange(n)
                picks.append((run_id, f"{SUBJECTS[i % len(SUBJECTS)]}/test/{i}"))
    largest = max(runs, key=lambda r: r[2])
    print(f"store: {n_samples:,} samples in {len(runs)} runs; largest run {largest[2]:,} samples")
    app = create_app(store)
    client = TestClient(app)
    started = time.perf_counter()
    client.get("/")
    app.state.viewer.standings.wait(timeout=3600)
    print(
        f"win-rate intervals (background, once per suite change): "
        f"{time.perf_counter() - started:.1f}s"
    )

    ok = True
    first_run = [f"/runs/{r[0]}" for r in runs]
    ok &= report("leaderboard", *measure(client, ["/"] * 30))
    ok &= report("run page, first load of each run", *measure(client, first_run))
    ok &= report("run page, again", *measure(client, first_run * (args.repeat - 1)))
    ok &= report("sample page", *measure(client, [f"/runs/{r}/samples/{s}" for r, s in picks]))
    big = largest[0]
    last = (largest[2] + 49) // 50
    extra = {
        "run: incorrect only": f"/runs/{big}?outcome=incorrect",
        "run: errors only": f"/runs/{big}?status=error",
        "run: metadata subject": f"/runs/{big}?meta=subject&value=subject_07",
        "run: search common word": f"/runs/{big}?q=glacier",
        "run: search rare word": f"/runs/{big}?q=zzzunseen",
        "run: sort by score": f"/runs/{big}?sort=score&desc=1",
        "run: sort by latency": f"/runs/{big}?sort=latency&desc=1",
        "run: page 100": f"/runs/{big}?page=100",
        "run: incorrect, page 50": f"/runs/{big}?outcome=incorrect&page=50",
        "run: sort by score, page 100": f"/runs/{big}?sort=score&desc=1&page=100",
        "run: sort by score, last page": f"/runs/{big}?sort=score&page={last}",
        "run: sort by latency, ascending": f"/runs/{big}?sort=latency",
        "run: sort by latency, last page": f"/runs/{big}?sort=latency&page={last}",
        "run: sort by output tokens": f"/runs/{big}?sort=tokens&desc=1",
        "run: sort by sample id": f"/runs/{big}?sort=id",
        "run: last page": f"/runs/{big}?page={last}",
        "run: errors, sorted by score": f"/runs/{big}?status=error&sort=score",
        "run: correct, by latency": f"/runs/{big}?outcome=correct&sort=latency&desc=1",
        "run: score range, page 20": f"/runs/{big}?min=0.5&max=1&page=20",
        "run: metadata subject, page 10": f"/runs/{big}?meta=subject&value=subject_07&page=10",
        "run: unparsed, subject": f"/runs/{big}?status=unparsed&meta=subject&value=subject_03",
    }
    for name, page in extra.items():
        ok &= report(name + " (largest run)", *measure(client, [page] * args.loads))
    same = [r[0] for r in runs if r[1] == largest[1]][:2]
    compare = f"/compare?run={same[0]}&run={same[1]}"
    ok &= report("compare two models", *measure(client, [compare] * args.loads))
    ok &= report(
        "compare: disagreements", *measure(client, [compare + "&differ=score"] * args.loads)
    )
    ok &= report("live progress JSON", *measure(client, [f"/api/runs/{big}/progress"] * args.loads))
    ok &= report("leaderboard, each metric-group tab", *measure(client, tab_urls * 3))
    models = sorted({m for _, _, _, m in runs_models})
    model_urls = [f"/models/{quote(m, safe='/')}?suite=default" for m in models]
    ok &= report("model page", *measure(client, model_urls * 3))
    benchmarks = sorted({b for _, b, _, _ in runs_models})
    bench_urls = [f"/benchmarks/{quote(b, safe='')}?suite=default" for b in benchmarks]
    from assay.web.benchmark_page import wait_breakdowns

    ok &= report("benchmark page, first load", *measure(client, bench_urls))
    started = time.perf_counter()
    wait_breakdowns(timeout=3600)
    print(
        "  by-subject breakdowns (background, once per finished run): "
        f"{time.perf_counter() - started:.1f}s more"
    )
    ok &= report("benchmark page, with breakdown", *measure(client, bench_urls * 3))
    print("all pages within target" if ok else "some pages over target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
