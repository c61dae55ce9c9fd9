"""`assay run --executor ray`: the same stored results as the local scheduler, into SQLite and
PostgreSQL, with mock models and SmolLM2; a worker killed mid-shard loses and duplicates
nothing; an API provider's limit holds across the cluster; bad Ray options are one line.

The cluster tests share one Ray instance started in-process on 127.0.0.1 with two CPUs (no
dashboard, no usage reporting), shut down when the module ends.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.conftest import REPO, env_with
from tests.execution.ray_models import path_setting
from tests.postgres import free_port

from assay.execution.ray_cluster import limit_key
from assay.execution.runner import Runner
from assay.models.registry import create_model
from assay.store import schema
from assay.store.db import Store, resolve_url

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
MODELS = Path(__file__).with_name("ray_models.py")
RETRY = ("--retry-delay", "0", "--max-retry-wait", "0")
WAIT_S = 180  # the longest any cluster test may take to finish a run


# -- no cluster needed -----------------------------------------------------------------------


def test_api_models_of_one_endpoint_share_a_limit_and_local_models_are_limited_per_worker() -> None:
    server = "@http://127.0.0.1:8080/v1"
    a = create_model(f"openai-compatible/a{server}")
    b = create_model(f"openai-compatible/b{server}?concurrency=4")
    other = create_model("openai-compatible/a@http://127.0.0.1:9090/v1")
    assert limit_key(a) == limit_key(b) == f"openai-compatible{server}"
    assert limit_key(other) != limit_key(a)
    assert limit_key(create_model("mock/oracle")) != limit_key(create_model("mock/random"))
    assert limit_key(create_model("mock/oracle")) == "mock/oracle"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--ray-workers", "2"), "--ray-workers needs --executor ray"),
        (("--ray-address", "127.0.0.1:6379"), "--ray-address needs --executor ray"),
        (("--executor", "ray", "--ray-workers", "0"), "--ray-workers"),
        (("--executor", "ray", "--ray-workers", str(2**80)), "--ray-workers"),
        (("--executor", "ray", "--batch"), "leave out --batch or --executor ray"),
        (("--executor", "ray", "--ray-address", f"127.0.0.1:{free_port()}"), "no Ray cluster"),
    ],
)
def test_ray_options_out_of_place_are_one_line(
    cli: Any, tmp_path: Path, args: tuple[str, ...], says: str
) -> None:
    spec = qa_benchmark(tmp_path, "qa", 5)
    result = cli("run", spec, "-m", "mock/oracle", *args)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.err
    assert not (tmp_path / "assay.db").exists()


# -- helpers ---------------------------------------------------------------------------------


def qa_benchmark(folder: Path, name: str, rows: int) -> Path:
    """A generate benchmark of `rows` distinct questions with numeric metadata."""
    data = folder / f"{name}.jsonl"
    with data.open("w") as f:
        for i in range(rows):
            row = {"id": f"r{i}", "q": f"{name} question {i}: {i} * 3?", "a": str(3 * i), "n": i}
            f.write(json.dumps(row) + "\n")
    spec = folder / f"{name}.yaml"
    spec.write_text(
        f"name: {name}\n"
        f"data: {{path: {data.name}}}\n"
        "fields: {id: id, input: q, target: a, metadata: [n]}\n"
        "prompt: {format: generate, max_tokens: 8}\n"
        "metrics: [exact_match]\n"
    )
    return spec


def snapshot(url: str) -> dict[str, Any]:
    """Everything a run stored that does not depend on timing, in a comparable form."""
    store = Store(url)
    s, rq, sc, r, c = schema.samples, schema.requests, schema.scores, schema.runs, schema.cache
    try:
        with store.connect() as conn:
            runs = {
                row.id: (row.status, row.n_samples, _means(row.summary))
                for row in conn.execute(sa.select(r.c.id, r.c.status, r.c.n_samples, r.c.summary))
            }
            samples = sorted(
                (*row[:6], json.dumps(row[6], sort_keys=True))  # the same text on both stores
                for row in conn.execute(
                    sa.select(
                        s.c.run_id,
                        s.c.sample_id,
                        s.c.status,
                        s.c.prediction,
                        s.c.error,
                        s.c.idx,
                        s.c.metadata,
                    )
                )
            )
            requests = sorted(
                (
                    row.run_id,
                    row.sample_id,
                    row.idx,
                    row.cache_key,
                    row.text,
                    row.cached,
                    _kind(row),
                )
                for row in conn.execute(sa.select(rq))
            )
            scores = sorted(tuple(row) for row in conn.execute(sa.select(sc)))
            cache = sorted(conn.execute(sa.select(c.c.key)).scalars())
    finally:
        store.close()
    return {
        "runs": runs,
        "samples": samples,
        "requests": requests,
        "scores": scores,
        "cache": cache,
    }


def _means(summary: dict[str, Any] | None) -> dict[str, Any]:
    summary = summary or {}
    return {
        "metrics": {k: (v["mean"], v["n"]) for k, v in summary.get("metrics", {}).items()},
        "errors": summary.get("n_errors"),
        "by_kind": summary.get("errors_by_kind"),
    }


def _kind(row: Any) -> str | None:
    return None if row.error is None else row.error["kind"]


def count_records(monkeypatch: pytest.MonkeyPatch) -> Counter[tuple[str, str]]:
    """How often the runner records each (run, sample) in this process (the driver)."""
    counts: Counter[tuple[str, str]] = Counter()
    record = Runner._record

    def counted(self: Runner, item: Any, responses: Any, buffer: Any) -> None:
        counts[(self.run_id, item.sample.id)] += 1
        record(self, item, responses, buffer)

    monkeypatch.setattr(Runner, "_record", counted)
    return counts


# -- on a Ray cluster ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    ray = pytest.importorskip("ray", reason="needs assay[ray]")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        _node_ip_address="127.0.0.1",
    )
    try:
        yield ray
    finally:
        ray.shutdown()


def suite_args(tmp_path: Path, data_dir: Path) -> list[str]:
    """Two benchmarks (60 of 500 generate questions; MMLU anatomy by log-likelihood, four
    requests a sample) x three mock models (one failing for good on some requests, one failing
    once on others), in a suite not named default."""
    spec = qa_benchmark(tmp_path, "arith", 500)
    return [
        "run",
        str(spec),
        "mmlu:subject=anatomy",
        "-m",
        "mock/oracle",
        "-m",
        "mock/flaky?fail_rate=0.1&transient_rate=0.3",
        "-m",
        "mock/random?seed=3",
        "--limit",
        "60",
        "--data-dir",
        str(data_dir),
        "--suite",
        "ray-suite",
        "--max-attempts",
        "2",
        *RETRY,
        "--no-progress",
    ]


@pytest.mark.slow
@pytest.mark.timeout(WAIT_S * 2)
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_mock_suite_through_ray_stores_what_the_local_scheduler_stores(
    ray_cluster: Any,
    cli: Any,
    tmp_path: Path,
    data_dir: Path,
    backend: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = suite_args(tmp_path, data_dir)
    local = resolve_url(str(tmp_path / "local.db"))
    assert cli(*args, "--db", local).code == 0
    url = (
        request.getfixturevalue("postgres_url")
        if backend == "postgres"
        else resolve_url(str(tmp_path / "ray.db"))
    )
    records = count_records(monkeypatch)
    result = cli(*args, "--db", url, "--executor", "ray", "--ray-workers", "2")
    assert result.code == 0, result.err
    expected = snapshot(local)
    assert snapshot(url) == expected
    # 6 runs x 60 samples, each recorded once; some failed requests (never scored) among them
    assert len(expected["samples"]) == 360
    assert sorted(records.values()) == [1] * 360
    assert any(row[4] for row in expected["samples"])
    # the same command again resumes: only the errored samples are redone, through Ray again
    records.clear()
    again = cli(*args, "--db", url, "--executor", "ray", "--ray-workers", "2")
    assert again.code == 0, again.err
    errored = sum(1 for row in expected["samples"] if row[2] == "error")
    assert sum(records.values()) == errored > 0
    assert "resumed" in again.out


@pytest.mark.slow
@pytest.mark.timeout(WAIT_S * 2)
def test_a_judged_run_through_ray_stores_what_a_local_one_does(
    ray_cluster: Any, cli: Any, tmp_path: Path, data_dir: Path
) -> None:
    """The judge's calls go through Ray too: verdicts, unreadable ones and judge errors alike."""
    judge = "mock/judge?garbage=0.3&fail_rate=0.1"
    args = ["run", "xstest", "-m", "mock/constant?text=Sure", "--judge", judge, "--limit", "80"]
    args += ["--data-dir", str(data_dir), "--max-attempts", "1", *RETRY, "--no-progress"]
    local = resolve_url(str(tmp_path / "local.db"))
    assert cli(*args, "--db", local).code == 0
    url = resolve_url(str(tmp_path / "ray.db"))
    result = cli(*args, "--db", url, "--executor", "ray", "--ray-workers", "2")
    assert result.code == 0, result.err
    stored = snapshot(url)
    assert stored == snapshot(local)
    statuses = Counter(json.loads(row[6])["judge_status"] for row in stored["samples"])
    assert set(statuses) == {"ok", "unparsed", "error"}, statuses
    assert sum(1 for row in stored["requests"] if row[2] == 1) == 80  # one judge call each


@pytest.mark.slow
@pytest.mark.timeout(WAIT_S * 2)
def test_a_worker_killed_mid_shard_loses_and_duplicates_nothing(
    ray_cluster: Any, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = qa_benchmark(tmp_path, "crashy", 150)
    flag = tmp_path / "crashed"
    model = f"{MODELS}:CrashOnce?marker=question 123:&flag={path_setting(flag)}"
    args = ["run", str(spec), "-m", model, "--suite", "crash", "--no-progress"]
    args += [*RETRY, "--max-attempts", "1"]  # a provider error would be stored, not retried
    records = count_records(monkeypatch)
    url = resolve_url(str(tmp_path / "ray.db"))
    result = cli(*args, "--db", url, "--executor", "ray", "--ray-workers", "2")
    assert result.code == 0, result.err
    # a worker process (not this one) died on the marked sample, mid-run
    assert flag.exists() and int(flag.read_text()) != os.getpid()
    stored = snapshot(url)
    sample_ids = [row[1] for row in stored["samples"]]
    assert len(sample_ids) == len(set(sample_ids)) == 150
    assert "r123" in sample_ids
    assert all(row[2] == "ok" for row in stored["samples"])
    assert sorted(records.values()) == [1] * 150
    local = resolve_url(str(tmp_path / "local.db"))
    assert cli(*args, "--db", local).code == 0  # the flag is there: no crash this time
    assert snapshot(url) == snapshot(local)


@pytest.mark.slow
@pytest.mark.timeout(WAIT_S)
def test_a_shared_limit_holds_across_workers(ray_cluster: Any, cli: Any, tmp_path: Path) -> None:
    spec = qa_benchmark(tmp_path, "limited", 60)
    log = tmp_path / "calls.log"
    model = f"{MODELS}:Tracked?log={path_setting(log)}&latency=0.05"
    args = ["run", str(spec), "-m", model, "--concurrency", "3", "--no-progress"]
    result = cli(*args, "--executor", "ray", "--ray-workers", "2")
    assert result.code == 0, result.err
    in_flight, most, pids = 0, 0, set()
    for line in log.read_text().splitlines():
        if line.startswith("+"):
            in_flight += 1
            pids.add(line.split()[1])
        else:
            in_flight -= 1
        most = max(most, in_flight)
    assert len(pids) == 2  # both workers called the model...
    assert most <= 3  # ...never more than the one limit's 3 at once in all
    assert in_flight == 0


@pytest.mark.slow
@pytest.mark.timeout(WAIT_S * 2)
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_smollm2_through_ray_answers_as_it_does_locally(
    ray_cluster: Any,
    cli: Any,
    tmp_path: Path,
    data_dir: Path,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    pytest.importorskip("llama_cpp", reason="needs assay[llamacpp]")
    spec = qa_benchmark(tmp_path, "tiny", 40)
    args = ["run", str(spec), "mmlu:subject=astronomy", "-m", "llamacpp/smollm2?threads=1"]
    args += ["--limit", "3", "--data-dir", str(data_dir), "--suite", "small", "--no-progress"]
    local = resolve_url(str(tmp_path / "local.db"))
    assert cli(*args, "--db", local).code == 0
    url = (
        request.getfixturevalue("postgres_url")
        if backend == "postgres"
        else resolve_url(str(tmp_path / "ray.db"))
    )
    result = cli(*args, "--db", url, "--executor", "ray", "--ray-workers", "1")
    assert result.code == 0, result.err
    stored = snapshot(url)
    assert stored == snapshot(local)
    assert len(stored["samples"]) == 6 and all(row[2] != "error" for row in stored["samples"])


@pytest.mark.slow
@pytest.mark.timeout(WAIT_S)
def test_more_workers_than_the_cluster_has_cpus_is_one_line(
    ray_cluster: Any, cli: Any, tmp_path: Path
) -> None:
    spec = qa_benchmark(tmp_path, "qa", 5)
    result = cli("run", spec, "-m", "mock/oracle", "--executor", "ray", "--ray-workers", "3")
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        "assay: error: --ray-workers 3: the Ray cluster has 2 CPUs and each worker takes one: "
        "pass --ray-workers 2 or fewer, or add nodes to the cluster"
    ]


@pytest.mark.slow
@pytest.mark.timeout(WAIT_S)
def test_a_run_starts_and_stops_its_own_ray(tmp_path: Path) -> None:
    """Without a cluster, `--executor ray` starts one for the command and leaves nothing."""
    pytest.importorskip("ray", reason="needs assay[ray]")
    spec = qa_benchmark(tmp_path, "own", 30)
    args = ["run", str(spec), "-m", "mock/oracle", "--executor", "ray", "--ray-workers", "1"]
    env = env_with(PYTHONPATH=str(REPO / "src"), RAY_USAGE_STATS_ENABLED="0")
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run(
        [sys.executable, "-m", "assay", *args, "--no-progress"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S - 30,
    )
    assert done.returncode == 0, done.stderr
    assert "own · mock/oracle  exact_match 1.000" in done.stdout
    stored = snapshot(resolve_url(str(tmp_path / "assay.db")))
    assert len(stored["samples"]) == 30


@pytest.fixture
def ray_head(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`ray start --head` on 127.0.0.1 in its own process group: (its address, the environment
    to reach it with). Stopped by signalling that process, never by `ray stop`."""
    pytest.importorskip("ray", reason="needs assay[ray]")
    port = free_port()
    # a throwaway cluster on 127.0.0.1: no token to share between the head and the client
    env = env_with(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
    env.pop("RAY_ADDRESS", None)
    env.pop("PYTHONPATH", None)
    ray_cli = Path(sys.executable).with_name("ray")
    start = ["start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port)]
    head = subprocess.Popen(
        [str(ray_cli), *start, "--num-cpus", "2", "--include-dashboard", "false", "--block"],
        env=env,
        stdout=(tmp_path / "head.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not _listening(port):
            assert head.poll() is None, (tmp_path / "head.log").read_text()
            assert time.monotonic() < deadline, "the Ray head did not start within 90 s"
            time.sleep(0.5)
        yield f"127.0.0.1:{port}", env
    finally:
        head.terminate()  # it stops the processes it started (after draining, up to 30 s)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, 9)
            head.wait(timeout=30)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.timeout(WAIT_S * 2)
def test_a_run_joins_a_running_cluster_by_address(
    ray_head: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """The workers run the driver's assay (shipped with the job), not whatever the nodes have:
    this head was started without assay on its path."""
    address, env = ray_head
    spec = qa_benchmark(tmp_path, "joined", 40)
    args = ["run", str(spec), "-m", "mock/flaky", "--executor", "ray", "--ray-address", address]
    env = {**env, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "assay", *args, *RETRY, "--no-progress"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert done.returncode == 0, done.stderr
    local = subprocess.run(
        [sys.executable, "-m", "assay", *args[:4], *RETRY, "--no-progress", "--db", "local.db"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert local.returncode == 0, local.stderr
    stored = snapshot(resolve_url(str(tmp_path / "assay.db")))
    assert stored == snapshot(resolve_url(str(tmp_path / "local.db")))
    assert len(stored["samples"]) == 40
