"""Options and model strings that parse but mean nothing (out-of-range numbers, impossible
addresses, a provider whose extra is missing): one line naming what is wrong, exit 2, and
nothing stored, since they are found before any work."""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.cli.test_errors import assert_one_line_error, free_port

RUN = ["run", "gsm8k", "-m", "mock/oracle", "--no-progress"]


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        (["--seed", str(2**64)], "--seed"),
        (["--seed", str(2**200)], "--seed"),
        (["--seed", "-1"], "--seed"),
        (["--generation-seed", str(2**64)], "--generation-seed"),
        (["--timeout", "0"], "--timeout"),
        (["--timeout", "-5"], "--timeout"),
        (["--timeout", "nan"], "--timeout"),
        (["--timeout", "inf"], "--timeout"),
        (["--retry-delay", "-0.5"], "--retry-delay"),
        (["--retry-delay", "nan"], "--retry-delay"),
        (["--temperature", "nan"], "--temperature"),
        (["--temperature", "-1"], "--temperature"),
        (["--temperature", "inf"], "--temperature"),
        (["--top-p", "0"], "--top-p"),
        (["--top-p", "1.5"], "--top-p"),
        (["--top-p", "nan"], "--top-p"),
        (["--max-tokens", "0"], "--max-tokens"),
        (["--n", "0"], "--n"),
        (["--batch-poll", "0"], "--batch-poll"),
        (["--batch-wait", "nan"], "--batch-wait"),
        (["--batch-wait", "-1"], "--batch-wait"),
        (["--limit", "-3"], "--limit"),
        (["--limit", str(2**70)], "--limit"),
        (["--max-tokens", str(2**64)], "--max-tokens"),
        (["--n", str(2**63)], "--n"),
        (["--concurrency", str(2**80)], "--concurrency"),
        (["--concurrency", "0"], "--concurrency"),
        (["--max-attempts", "0"], "--max-attempts"),
        (["-m", "mock/oracle"], "given twice"),
    ],
)
def test_run_options_out_of_range(
    cli: Any, tmp_path: Path, data_dir: Path, extra: list[str], option: str
) -> None:
    db = tmp_path / "never.db"
    result = cli(*RUN, "--data-dir", data_dir, "--db", db, *extra)
    assert_one_line_error(result, option)
    assert not db.exists()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["leaderboard", "--seed", "-1"], ["--seed"]),
        (["leaderboard", "--seed", str(2**64)], ["--seed"]),
        (["leaderboard", "--min-params", "nan"], ["--min-params"]),
        (["leaderboard", "--max-params", "-1"], ["--max-params"]),
        (["leaderboard", "--min-params", "9", "--max-params", "1"], ["--min-params"]),
        (["export", "--format", "csv", "--seed", "-2"], ["--seed"]),
        (["compare", "a", "b", "--alpha", "0"], ["--alpha"]),
        (["compare", "a", "b", "--alpha", "1"], ["--alpha"]),
        (["compare", "a", "b", "--alpha", "1.5"], ["--alpha"]),
        (["compare", "a", "b", "--alpha", "-0.05"], ["--alpha"]),
        (["compare", "a", "b", "--alpha", "nan"], ["--alpha"]),
        (["compare", "a", "a"], ["'a' is given twice"]),
        (["compare", "a", "b", "a"], ["'a' is given twice"]),
        (["compare", "a", "b", "--seed", str(2**65)], ["--seed"]),
        (["serve", "--port", "0"], ["--port"]),
        (["serve", "--port", "65536"], ["--port"]),
        (["serve", "--port", "-1"], ["--port"]),
    ],
)
def test_reading_options_out_of_range(
    cli: Any, tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    result = cli(*args, "--db", tmp_path / "absent.db")  # checked before the store is opened
    assert_one_line_error(result, *fragments)


@pytest.mark.parametrize(
    "model",
    [
        "mock/oracle?timeout=0",
        "mock/oracle?timeout=nan",
        "mock/oracle?concurrency=0",
        "mock/oracle?max_concurrency=-4",
        "mock/flaky?fail_rate=1.5",
        "mock/flaky?fail_rate=nan",
        "mock/flaky?transient_rate=-0.1",
        "mock/oracle?latency=-1",
        "mock/oracle?latency=inf",
        f"mock/random?seed={2**64}",
        "openai-compatible/m@http://127.0.0.1:8080/v1?timeout=-1",
        "openai-compatible/m@http://127.0.0.1:8080/v1?concurrency=0",
        "ollama/m?num_ctx=-1",
    ],
)
def test_model_settings_out_of_range(cli: Any, data_dir: Path, model: str) -> None:
    setting = model.rsplit("?", 1)[1].split("=")[0]
    result = cli("run", "gsm8k", "-m", model, "--data-dir", data_dir, "--no-progress")
    assert_one_line_error(result, f"setting {setting}", "out of range")
    assert not Path("assay.db").exists()


@pytest.mark.parametrize(
    ("address", "fragment"),
    [
        ("http://127.0.0.1:99999/v1", "impossible port"),
        ("http://127.0.0.1:65536", "impossible port"),
        ("http://127.0.0.1:-1/v1", "impossible port"),
        ("http://127.0.0.1:port/v1", "impossible port"),
        ("http://127.0.0.1:0/v1", "port 0"),
        ("http://:8080/v1", "no host"),
        ("http:///v1", "no host"),
        ("http://bad host:8080/v1", "not a host name"),
        ("http://exa!mple.com/v1", "not a host name"),
        ("http://a..b/v1", "not a host name"),
        ("http://-leading/v1", "not a host name"),
        ("http://[::zz]:8080/v1", "IPv6"),
        ("http://[::1/v1", "malformed"),
        ("ftp://127.0.0.1/v1", "must start with http"),
    ],
)
@pytest.mark.parametrize("provider", ["openai-compatible/m", "ollama/m", "openai/gpt-4o-mini"])
def test_impossible_server_addresses(
    cli: Any, data_dir: Path, provider: str, address: str, fragment: str
) -> None:
    model = f"{provider}@{address}"
    result = cli("run", "gsm8k", "-m", model, "--data-dir", data_dir, "--no-progress")
    assert_one_line_error(result, fragment)
    assert not Path("assay.db").exists()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user:secret@127.0.0.1:99999/assay",
        "postgresql://user@bad host/assay",
        "postgresql://user@127.0.0.1:port/assay",
        "postgresql://user@127.0.0.1:FREE_PORT/assay",  # nothing listens there
    ],
)
@pytest.mark.parametrize("command", ["run", "leaderboard", "compare", "export", "serve", "import"])
def test_impossible_database_urls(cli: Any, data_dir: Path, url: str, command: str) -> None:
    url = url.replace("FREE_PORT", str(free_port()))  # chosen at run time: ids stay stable
    pytest.importorskip("psycopg")
    helm = Path(__file__).resolve().parents[1] / "fixtures" / "helm" / "benchmark_output"
    args = {
        "run": ["run", "gsm8k", "-m", "mock/oracle", "-n", "2", "--data-dir", data_dir],
        "leaderboard": ["leaderboard"],
        "compare": ["compare", "a", "b"],
        "export": ["export", "--format", "csv"],
        "serve": ["serve", "--port", free_port()],
        "import": ["import-helm", helm],
    }[command]
    result = cli(*args, "--db", url)
    assert_one_line_error(result, "assay: error: ")
    assert "secret" not in result.err


@pytest.mark.parametrize(
    ("model", "modules", "extra"),
    [
        ("ollama/llama3.2", ["ollama"], "ollama"),
        ("anthropic/claude-haiku-4-5", ["anthropic"], "anthropic"),
        ("google/gemini-2.5-flash", ["google.genai"], "google"),
        ("llamacpp/smollm2", ["llama_cpp"], "llamacpp"),
        ("hf/smollm2", ["transformers"], "hf"),
    ],
)
def test_a_provider_whose_extra_is_missing(
    cli: Any, monkeypatch: pytest.MonkeyPatch, model: str, modules: list[str], extra: str
) -> None:
    for module in modules:  # as if the package were not installed: imports of it fail
        for loaded in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
            monkeypatch.delitem(sys.modules, loaded)
        monkeypatch.setitem(sys.modules, module, None)
    result = cli("run", "gsm8k", "-m", model, "--no-progress")
    assert_one_line_error(result, f"pip install 'assay[{extra}]'")


def test_serve_on_a_busy_port(cli: Any, tmp_path: Path, data_dir: Path) -> None:
    pytest.importorskip("uvicorn")
    db = tmp_path / "s.db"
    args = ["run", "gsm8k", "-m", "mock/oracle", "-n", "2", "--data-dir", data_dir]
    assert cli(*args, "--no-progress", "--db", db).code == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = cli("serve", "--port", port, "--db", db)
    assert_one_line_error(result, "cannot listen", "another --port")
    assert "serving" not in result.err + result.out


@pytest.mark.parametrize(
    "host", ["256.1.1.1", "not a host", "no-such-host.invalid", "10.255.255.1"]
)
def test_serve_on_an_impossible_host(cli: Any, tmp_path: Path, data_dir: Path, host: str) -> None:
    pytest.importorskip("uvicorn")
    db = tmp_path / "s.db"
    args = ["run", "gsm8k", "-m", "mock/oracle", "-n", "2", "--data-dir", data_dir]
    assert cli(*args, "--no-progress", "--db", db).code == 0
    result = cli("serve", "--host", host, "--port", free_port(), "--db", db)
    assert_one_line_error(result, "cannot listen")
    assert "serving" not in result.err + result.out
