"""Users' own benchmarks: a YAML file over JSONL or CSV, and the Python API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from assay.store import schema
from assay.store.db import Store


def summary(db: Path) -> dict[str, Any]:
    store = Store(f"sqlite:///{db}", readonly=True)
    with store.connect() as conn:
        value: dict[str, Any] = conn.execute(sa.select(schema.runs.c.summary)).scalar_one()
    return value


def test_yaml_generation_benchmark(cli: Any, tmp_path: Path) -> None:
    rows = [
        {"q": f"Capital of country {i}?", "a": [f"City {i}", f"city{i}"], "id": f"c{i}"}
        for i in range(30)
    ]
    (tmp_path / "caps.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (tmp_path / "caps.yaml").write_text(
        "name: capitals\n"
        "data: {path: caps.jsonl}\n"
        "fields: {id: id, input: q, target: a}\n"
        "prompt: {format: generate, input_prefix: 'Q: ', output_prefix: '\\nA:', shots: 2}\n"
        "metrics: [quasi_exact_match, f1]\n"
    )
    result = cli(
        "run",
        tmp_path / "caps.yaml",
        "-m",
        "mock/oracle",
        "--db",
        tmp_path / "c.db",
        "--no-progress",
    )
    assert result.code == 0, result.err
    assert "capitals" in result.out
    got = summary(tmp_path / "c.db")
    assert got["metrics"]["quasi_exact_match"]["mean"] == 1.0
    assert got["metrics"]["f1"]["n"] == 30
    store = Store(f"sqlite:///{tmp_path / 'c.db'}", readonly=True)
    with store.connect() as conn:
        request = conn.execute(sa.select(schema.requests.c.request)).first()[0]
    # two worked examples from the file, never the sample itself
    assert [m["role"] for m in request["messages"]] == ["user", "assistant"] * 2 + ["user"]
    assert request["messages"][-1]["content"].startswith("Q: Capital of country")


def test_yaml_multiple_choice_over_csv(cli: Any, tmp_path: Path) -> None:
    lines = ["question,o1,o2,o3,gold"]
    lines += [f"Pick {i},x{i},y{i},z{i},{'ABC'[i % 3]}" for i in range(30)]
    (tmp_path / "mc.csv").write_text("\n".join(lines))
    (tmp_path / "mc.yml").write_text(
        "name: picks\n"
        "data: {path: mc.csv}\n"
        "fields: {input: question, target: gold, choices: [o1, o2, o3]}\n"
        "prompt: {format: multiple_choice}\n"
        "metrics: [exact_match]\n"
    )
    db = tmp_path / "m.db"
    assert (
        cli("run", tmp_path / "mc.yml", "-m", "mock/oracle", "--db", db, "--no-progress").code == 0
    )
    assert summary(db)["metrics"]["exact_match"]["mean"] == 1.0


def test_yaml_mistakes_are_explained(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"q": "x", "a": "y"}\n')
    cases = {
        "name: t\ndata: {path: d.jsonl}\nfields: {input: q}\n": "fields.target: Field required",
        "name: t\ndata: {path: d.jsonl}\nfields: {input: q, target: a}\nmetrics: [bleu9]\n": (
            "unknown metric 'bleu9': did you mean bleu?"
        ),
        "name: t\ndata: {path: d.jsonl}\nfields: {input: question, target: a}\n": (
            "has no field 'question'"
        ),
        "name: t\ndata: {path: nope.jsonl}\nfields: {input: q, target: a}\n": "does not exist",
        "name: t\nfields: {input: q, target: a}\n": "data: Field required",
        "name: [unclosed\n": "not valid YAML",
        "name: t\ndata: {path: d.jsonl}\nfields: {input: q, target: a}\nprompt: {format: x}\n": (
            "prompt.format"
        ),
    }
    for text, fragment in cases.items():
        (tmp_path / "t.yaml").write_text(text)
        result = cli(
            "run",
            tmp_path / "t.yaml",
            "-m",
            "mock/oracle",
            "--no-progress",
            "--db",
            tmp_path / "t.db",
        )
        assert result.code == 2, text
        assert fragment in result.err, (text, result.err)
        assert len(result.err.strip().splitlines()) == 1


def test_python_api_benchmark(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text(
        "from assay import Sample, Task, Generate, benchmark\n"
        "from assay.benchmarks.base import Loaded\n"
        "\n"
        "@benchmark('doubling', groups=('math',))\n"
        "def doubling(n: int = 20) -> Task:\n"
        "    samples = [Sample(id=str(i), input=f'Double {i}', references=[str(2 * i)])\n"
        "               for i in range(n)]\n"
        "    return Task(load=lambda data: Loaded(samples), prompt=Generate(),\n"
        "                metrics=['exact_match'])\n"
    )
    db = tmp_path / "p.db"
    result = cli(
        "run",
        f"{tmp_path / 'mine.py'}:doubling:n=12",
        "-m",
        "mock/oracle",
        "--db",
        db,
        "--no-progress",
    )
    assert result.code == 0, result.err
    assert "doubling:n=12" in result.out
    assert summary(db)["metrics"]["exact_match"] == {
        **summary(db)["metrics"]["exact_match"],
        "mean": 1.0,
        "n": 12,
    }
    bad = cli("run", f"{tmp_path / 'mine.py'}:missing", "-m", "mock/oracle", "--db", db)
    assert bad.code == 2 and "has no benchmark named 'missing'" in bad.err


def test_python_model_class(cli: Any, data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "echo.py").write_text(
        "from assay import Model, Request, Response\n"
        "\n"
        "class AlwaysB(Model):\n"
        "    async def generate(self, request: Request) -> Response:\n"
        "        return Response(text='The answer is B')\n"
    )
    db = tmp_path / "e.db"
    result = cli(
        "run",
        "mmlu",
        "-m",
        f"{tmp_path / 'echo.py'}:AlwaysB",
        "--limit",
        "40",
        "--db",
        db,
        "--data-dir",
        data_dir,
        "--no-progress",
    )
    assert result.code == 0, result.err
    got = summary(db)
    assert got["n_unparsed"] == 0 and 0.1 < got["metrics"]["exact_match"]["mean"] < 0.5
