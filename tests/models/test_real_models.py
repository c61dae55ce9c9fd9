"""SmolLM2-135M-Instruct for real: in-process through llama.cpp and through the llama.cpp
server with the official openai SDK."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.models.conftest import need_model_file

from assay.store import schema
from assay.store.db import Store

pytestmark = pytest.mark.slow


def stored(db: Path) -> tuple[list[Any], list[Any], list[Any]]:
    store = Store(f"sqlite:///{db}", readonly=True)
    with store.connect() as conn:
        runs = list(
            conn.execute(
                sa.select(schema.runs.c.benchmark, schema.runs.c.status, schema.runs.c.summary)
            )
        )
        samples = list(
            conn.execute(sa.select(schema.samples.c.status, schema.samples.c.prediction))
        )
        requests = list(
            conn.execute(
                sa.select(
                    schema.requests.c.text,
                    schema.requests.c.input_tokens,
                    schema.requests.c.output_tokens,
                    schema.requests.c.response,
                    schema.requests.c.cached,
                )
            )
        )
    store.close()
    return runs, samples, requests


def check_real_run(db: Path, n_per_benchmark: int) -> list[Any]:
    runs, samples, requests = stored(db)
    assert {r[0] for r in runs} == {"mmlu", "gsm8k"}
    assert all(status == "finished" for _, status, _ in runs)
    assert len(samples) == len(requests) == 2 * n_per_benchmark
    assert all(status in ("ok", "unparsed") for status, _ in samples)  # no provider errors
    for text, input_tokens, output_tokens, response, _ in requests:
        assert text and text.strip()
        assert input_tokens > 100 and output_tokens >= 1  # 5-shot prompts are long
        assert response["raw"]["usage"]["prompt_tokens"] == input_tokens
    for _, _, summary in runs:
        stats = summary["metrics"][summary["main_metric"]]
        assert stats["n"] == n_per_benchmark and 0.0 <= stats["mean"] <= 1.0
    return runs


def test_in_process_llamacpp(cli: Any, data_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="needs assay[llamacpp]")
    db = tmp_path / "inproc.db"
    args = [
        "run",
        "mmlu",
        "gsm8k",
        "-m",
        "llamacpp/smollm2",
        "--limit",
        "3",
        "--db",
        db,
        "--data-dir",
        data_dir,
        "--no-progress",
    ]
    result = cli(*args)
    assert result.code == 0, result.err
    first = {r[0]: r[2]["metrics"] for r in check_real_run(db, 3)}
    # the same command again: nothing left to do, same scores
    again = cli(*args)
    assert "resumed 3 done" in again.out
    assert {r[0]: r[2]["metrics"] for r in stored(db)[0]} == first


def test_llamacpp_server_through_openai_sdk(
    cli: Any, data_dir: Path, tmp_path: Path, llama_server: str
) -> None:
    db = tmp_path / "server.db"
    model = f"openai-compatible/smollm2@{llama_server}"
    result = cli(
        "run",
        "mmlu",
        "gsm8k",
        "-m",
        model,
        "--limit",
        "3",
        "--db",
        db,
        "--data-dir",
        data_dir,
        "--no-progress",
        "--concurrency",
        "2",
    )
    assert result.code == 0, result.err
    check_real_run(db, 3)
    _, _, requests = stored(db)
    assert all(r[3]["raw"]["object"] == "chat.completion" for r in requests)


def test_llamacpp_server_text_completions(
    cli: Any, data_dir: Path, tmp_path: Path, llama_server: str
) -> None:
    db = tmp_path / "completions.db"
    model = f"openai-compatible/smollm2@{llama_server}?api=completions"
    result = cli(
        "run",
        "mmlu:shots=2",
        "-m",
        model,
        "--limit",
        "4",
        "--db",
        db,
        "--data-dir",
        data_dir,
        "--no-progress",
    )
    assert result.code == 0, result.err
    store = Store(f"sqlite:///{db}", readonly=True)
    with store.connect() as conn:
        requests = list(
            conn.execute(sa.select(schema.requests.c.request, schema.requests.c.response))
        )
    assert len(requests) == 4
    for request, response in requests:
        assert "prompt" in request and "messages" not in request
        assert request["prompt"].endswith("Answer:") and request["stop"] == ["\n"]
        assert response["raw"]["object"] == "text_completion"


@pytest.mark.parametrize(
    ("model", "chat"),
    [("hf/smollm2", True), ("llamacpp/gemma3-270m", False), ("hf/gemma3-270m", False)],
)
def test_generation_with_each_local_backend(
    cli: Any, data_dir: Path, tmp_path: Path, model: str, chat: bool
) -> None:
    """Chat-tuned models get their own chat template; the base Gemma gets plain text."""
    provider, name = model.split("/")
    pytest.importorskip(
        "llama_cpp" if provider == "llamacpp" else "transformers", reason=f"needs assay[{provider}]"
    )
    need_model_file(name)
    db = tmp_path / "gen.db"
    result = cli(
        "run",
        "mmlu:shots=2",
        "-m",
        model,
        "--limit",
        "3",
        "--db",
        db,
        "--data-dir",
        data_dir,
        "--no-progress",
    )
    assert result.code == 0, result.err
    store = Store(f"sqlite:///{db}", readonly=True)
    with store.connect() as conn:
        rows = list(
            conn.execute(
                sa.select(
                    schema.requests.c.request,
                    schema.requests.c.text,
                    schema.requests.c.output_tokens,
                    schema.samples.c.status,
                ).join(
                    schema.samples,
                    (schema.samples.c.run_id == schema.requests.c.run_id)
                    & (schema.samples.c.sample_id == schema.requests.c.sample_id),
                )
            )
        )
    store.close()
    assert len(rows) == 3
    for request, text, output_tokens, status in rows:
        assert ("messages" in request) is chat and ("prompt" in request) is not chat
        assert status in ("ok", "unparsed") and output_tokens >= 1 and text is not None
