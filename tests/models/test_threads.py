"""Local models' default thread count: the idle cores this process may use, at least one."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.models import threads


def machine(monkeypatch: pytest.MonkeyPatch, cores: int, load: float | None) -> None:
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda _pid: set(range(cores)))

    def loadavg() -> tuple[float, float, float]:
        if load is None:
            raise OSError("no load average here")
        return (load, load, load)

    monkeypatch.setattr(threads.os, "getloadavg", loadavg)


@pytest.mark.parametrize(
    ("cores", "load", "expected"),
    [
        (2, 0.1, 2),  # an idle two-core machine: both cores
        (2, 0.6, 1),  # one core mostly busy
        (2, 7.5, 1),  # every core taken several times over: one thread, never zero
        (16, 3.0, 8),  # many idle cores: capped
        (6, 2.4, 4),
        (4, None, 4),  # no load average (some platforms): every allowed core
    ],
)
def test_default_threads_are_the_idle_allowed_cores(
    monkeypatch: pytest.MonkeyPatch, cores: int, load: float | None, expected: int
) -> None:
    machine(monkeypatch, cores, load)
    assert threads.default_threads() == expected


def test_without_affinity_the_machine_count_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(threads.os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 3)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert threads.default_threads() == 3


@pytest.mark.slow
async def test_llamacpp_threads_follow_the_setting_else_the_default(
    monkeypatch: pytest.MonkeyPatch, smollm2_path: Path
) -> None:
    """The setting wins; without it the default; and the answer does not depend on the count
    (threads are not part of the model's identity, so responses are cached across counts)."""
    from assay.models.registry import create_model
    from assay.requests import Request

    machine(monkeypatch, 2, 0.0)
    chosen = create_model("llamacpp/smollm2?threads=1")
    default = create_model("llamacpp/smollm2")
    assert chosen._llama.n_threads == 1  # type: ignore[attr-defined]
    assert default._llama.n_threads == 2  # type: ignore[attr-defined]
    assert chosen.identity() == default.identity()
    ask = Request(
        prompt="The capital of France is a city called",
        max_tokens=24,
        temperature=0.0,
    )
    one, two = await chosen.generate(ask), await default.generate(ask)
    assert one.text and one.text == two.text
    await chosen.close()
    await default.close()


def test_local_models_created_together_share_the_idle_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    machine(monkeypatch, 4, 0.0)
    with threads.shared_by(2):
        assert threads.default_threads() == 2
        with threads.shared_by(3):
            assert threads.default_threads() == 1
    assert threads.default_threads() == 4


def test_assay_run_divides_the_idle_cores_among_its_local_models(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`assay run -m llamacpp/... -m hf/... -m mock/...`: the two local models, created side by
    side, get half the idle cores each by default."""
    from assay.cli import main
    from assay.cli import run as run_command
    from assay.errors import UserError

    machine(monkeypatch, 4, 0.0)
    seen: dict[str, int] = {}

    def create_model(text: str) -> object:
        seen[text] = threads.default_threads()
        if len(seen) == 3:
            raise UserError("stop here")  # nothing is loaded or run
        return object()

    monkeypatch.setattr(run_command, "create_model", create_model)
    models = ["llamacpp/a.gguf", "hf/b", "mock/oracle"]
    argv = ["run", "boolq", *(w for m in models for w in ("-m", m))]
    assert main([*argv, "--db", str(tmp_path / "x.db")]) == 2
    assert seen == {"llamacpp/a.gguf": 2, "hf/b": 2, "mock/oracle": 2}
    assert threads.default_threads() == 4
