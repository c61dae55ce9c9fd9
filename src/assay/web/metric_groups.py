"""HELM's metric groups as leaderboard tabs, read from the runs' stored summaries.

The accuracy tab is the leaderboard itself (one column per benchmark's main metric). The others
show, per benchmark, the numbers the run summaries already hold:

- calibration: expected calibration error and selective accuracy (runs that gave confidences);
- robustness / fairness: for a run asked with perturbations (`assay run --perturb`), the
  unperturbed score, the worst case per sample over the original and every perturbation, and the
  score under each perturbation of that family;
- bias: run-level bias scores (BBQ) and the main metric of benchmarks in the `bias` group;
- safety: the main metric of benchmarks in the `safety` group;
- efficiency: per model, cost (one pricing function, `assay.pricing`), latency and throughput,
  with the model's metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assay.analysis.leaderboard import run_cost
from assay.analysis.model_info import ModelCatalog, ModelInfo
from assay.metrics.registry import RUN_LEVEL
from assay.perturbations import REGISTRY
from assay.perturbations.fairness import Dialect

METRIC_GROUPS = (
    "accuracy",
    "calibration",
    "robustness",
    "fairness",
    "bias",
    "safety",
    "efficiency",
)
_FAIRNESS_MODULE = Dialect.__module__
CALIBRATION = ("ece_10_bin", "selective_accuracy_auc")


@dataclass
class GroupValue:
    value: float | None
    ci_lo: float | None = None
    ci_hi: float | None = None
    n: int | None = None
    run_id: str | None = None


@dataclass
class GroupColumn:
    key: str
    benchmark: str
    label: str
    higher_is_better: bool | None = True  # None: closer to 0 is better (a bias score)


@dataclass
class GroupTable:
    name: str
    columns: list[GroupColumn] = field(default_factory=list)
    cells: dict[tuple[str, str], GroupValue] = field(default_factory=dict)  # (model, key)

    def spans(self) -> list[tuple[str, int]]:
        """(benchmark, number of its consecutive columns): the header's first row."""
        out: list[tuple[str, int]] = []
        for c in self.columns:
            if out and out[-1][0] == c.benchmark:
                out[-1] = (c.benchmark, out[-1][1] + 1)
            else:
                out.append((c.benchmark, 1))
        return out

    def add(self, model: str, column: GroupColumn, value: GroupValue) -> None:
        if all(c.key != column.key for c in self.columns):
            self.columns.append(column)
        self.cells[(model, column.key)] = value


def perturbation_family(name: str) -> str:
    """`fairness` for a fairness perturbation (dialect, gender, names), else `robustness`."""
    cls = REGISTRY.get(name)
    return "fairness" if cls is not None and cls.__module__ == _FAIRNESS_MODULE else "robustness"


def run_perturbations(run: dict[str, Any]) -> list[str]:
    """The perturbations a run was asked with: its summary scores `<main>_<perturbation>`."""
    main = run["main_metric"]
    metrics = (run.get("summary") or {}).get("metrics") or {}
    return [p for p in sorted(REGISTRY) if f"{main}_{p}" in metrics]


def _direction(run_metric: str) -> bool | None:
    """A run-level number's declared direction (None: closer to 0, or neither)."""
    declared = RUN_LEVEL.get(run_metric)
    return True if declared is None else declared.higher_is_better


def _stat(summary: dict[str, Any], metric: str, run_id: str) -> GroupValue | None:
    m = (summary.get("metrics") or {}).get(metric)
    if not m:
        return None
    return GroupValue(m.get("mean"), m.get("ci_lo"), m.get("ci_hi"), m.get("n"), run_id)


def group_tables(runs: list[dict[str, Any]]) -> dict[str, GroupTable]:
    """Every tab but accuracy and efficiency, from the suite's latest runs."""
    tables = {g: GroupTable(g) for g in METRIC_GROUPS if g not in ("accuracy", "efficiency")}
    for run in sorted(runs, key=lambda r: r["benchmark"]):
        summary = run.get("summary") or {}
        model, bench, main = run["model"], run["benchmark"], run["main_metric"]
        run_metrics = summary.get("run_metrics") or {}
        for name in CALIBRATION:
            if run_metrics.get(name) is not None:
                column = GroupColumn(f"{bench}|{name}", bench, name, _direction(name))
                tables["calibration"].add(
                    model, column, GroupValue(run_metrics[name], run_id=run["id"])
                )
        perturbations = run_perturbations(run)
        for family in ("robustness", "fairness"):
            mine = [p for p in perturbations if perturbation_family(p) == family]
            if not mine:
                continue
            hib = bool(run["higher_is_better"])
            picks = [(main, f"{main}: original"), (f"{main}_worst", "worst case")]
            picks += [(f"{main}_{p}", p) for p in mine]
            for metric, label in picks:
                found = _stat(summary, metric, run["id"])
                if found is not None:
                    column = GroupColumn(f"{bench}|{metric}", bench, label, hib)
                    tables[family].add(model, column, found)
        groups = set(run.get("groups") or ())
        for name, value in sorted(run_metrics.items()):
            if name.startswith("bias_") and value is not None:
                column = GroupColumn(f"{bench}|{name}", bench, name, _direction(name))
                tables["bias"].add(model, column, GroupValue(value, run_id=run["id"]))
        for family in ("bias", "safety"):
            if family in groups:
                found = _stat(summary, main, run["id"])
                if found is not None:
                    column = GroupColumn(
                        f"{bench}|{main}", bench, main, bool(run["higher_is_better"])
                    )
                    tables[family].add(model, column, found)
    return tables


@dataclass
class Efficiency:
    cost_usd: float | None
    latency_mean_s: float | None
    latency_p95_s: float | None
    output_tokens_per_s: float | None
    tokens_per_sample: float | None
    runs: int


def efficiency_rows(
    runs: list[dict[str, Any]], costs: dict[str, float | None]
) -> dict[str, Efficiency]:
    """Per model: total cost (`costs` by run id), mean of per-run latency figures, tokens."""
    by_model: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_model.setdefault(run["model"], []).append(run)
    out: dict[str, Efficiency] = {}
    for model, mine in by_model.items():
        summaries = [r.get("summary") or {} for r in mine]
        priced = [costs.get(r["id"]) for r in mine]
        known = [c for c in priced if c is not None]
        tokens = sum(
            int(s.get("input_tokens") or 0) + int(s.get("output_tokens") or 0) for s in summaries
        )
        samples = sum(int(s.get("n_samples") or 0) for s in summaries)
        out[model] = Efficiency(
            cost_usd=sum(known) if known else None,
            latency_mean_s=_mean(s.get("latency_mean_s") for s in summaries),
            latency_p95_s=_mean(s.get("latency_p95_s") for s in summaries),
            output_tokens_per_s=_mean(s.get("output_tokens_per_s") for s in summaries),
            tokens_per_sample=tokens / samples if samples else None,
            runs=len(mine),
        )
    return out


def _mean(values: Any) -> float | None:
    found = [float(v) for v in values if v is not None]
    return sum(found) / len(found) if found else None


def tab_context(
    runs: list[dict[str, Any]], models: list[str], catalog: ModelCatalog, tab: str
) -> dict[str, Any]:
    """What the leaderboard template needs for its tabs, cost/latency columns and metadata."""
    info: dict[str, ModelInfo | None] = {m: catalog.get(m) for m in models}
    costs = {r["id"]: run_cost(r, info.get(r["model"]) or catalog.get(r["model"])) for r in runs}
    tables = group_tables(runs)
    return {
        "tab": tab,
        "tabs": METRIC_GROUPS,
        "tab_sizes": {g: len(t.columns) for g, t in tables.items()},
        "group_table": tables.get(tab),
        "efficiency": efficiency_rows(runs, costs),
        "info": info,
    }
