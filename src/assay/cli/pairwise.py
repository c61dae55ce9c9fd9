"""`assay pairwise`: judge finished runs' answers two by two, in both orders; print each pair's
wins, ties and losses and Bradley-Terry ratings with bootstrap CIs."""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from assay.analysis.pairwise import (
    PairwiseResult,
    outcomes,
    panel_agreement,
    panel_outcomes,
    report,
    stored_verdict,
    tally,
)
from assay.checks import COUNT_MAX, check_distinct, check_range, check_seed
from assay.cli.leaderboard import pick_suite
from assay.display import json_visible, visible
from assay.errors import UserError
from assay.execution.executor import Executor, probe
from assay.execution.pairwise import Judgment, find_contestants, judge_pairs
from assay.execution.retry import RetryPolicy
from assay.metrics.judge import JudgeSettings
from assay.metrics.metric import Unparsed
from assay.metrics.pairwise import Winner
from assay.metrics.panel import model_family, same_family
from assay.models.registry import create_model
from assay.store.db import Store, resolve_url


def main(args: argparse.Namespace) -> int:
    check_seed("--seed", args.seed)
    check_range("--limit", args.limit, at_least=1, at_most=COUNT_MAX)
    check_range("--resamples", args.resamples, at_least=1, at_most=100_000)
    check_range("--prior", args.prior, at_least=0)
    check_range("--judge-temperature", args.judge_temperature, at_least=0)
    check_seed("--judge-seed", args.judge_seed)
    check_range("--concurrency", args.concurrency, at_least=1, at_most=COUNT_MAX)
    check_range("--max-attempts", args.max_attempts, at_least=1, at_most=COUNT_MAX)
    models = [m.strip() for m in args.models.split(",")] if args.models else None
    if models is not None:
        if any(not m for m in models):
            raise UserError("--models: a comma-separated list of model labels, none empty")
        check_distinct("--models", models)
    url = resolve_url(args.db)
    reader = Store(url, readonly=True)  # an absent or foreign store is refused, not created
    try:
        suite = pick_suite(reader, args.suite)
        contestants = find_contestants(reader, suite, args.benchmark, models)
    finally:
        reader.close()
    check_distinct("--judge", args.judges)
    judge_models = [create_model(j) for j in args.judges]
    flagged = [
        c.model for c in contestants if any(same_family(j.label, c.model) for j in judge_models)
    ]
    if flagged and args.exclude_same_family:
        contestants = [c for c in contestants if c.model not in flagged]
        if len(contestants) < 2:
            families = ", ".join(sorted({model_family(j.label) for j in judge_models}))
            raise UserError(
                f"all but one model share a family with the judges ({families}): "
                "--exclude-same-family leaves no pair; choose another --judge"
            )
        flagged = []
    store = Store(url)
    policy = RetryPolicy(max_attempts=args.max_attempts)
    settings = JudgeSettings(args.judge_temperature, args.judge_seed)

    async def work() -> list[list[Judgment]]:
        try:
            for model in judge_models:
                await probe(model, policy)
            return list(
                await asyncio.gather(
                    *(
                        judge_pairs(
                            store,
                            contestants,
                            Executor(model, concurrency=args.concurrency, policy=policy),
                            limit=args.limit,
                            seed=args.seed,
                            settings=settings,
                        )
                        for model in judge_models
                    )
                )
            )
        finally:
            for model in judge_models:
                await model.close()

    try:
        judged = asyncio.run(work())
    finally:
        store.close()
    label = {c.run_id: c.model for c in contestants}
    per_judge = {
        model.label: outcomes(
            (label[j.run_a], label[j.run_b], j.sample_id, j.order, _verdict(j)) for j in found
        )
        for model, found in zip(judge_models, judged, strict=True)
    }
    panel = len(per_judge) > 1
    result = tally(
        [c.model for c in contestants],
        panel_outcomes(per_judge, args.panel_aggregate)
        if panel
        else next(iter(per_judge.values())),
        same_family=flagged,
        prior=args.prior,
        resamples=args.resamples,
        seed=args.seed,
    )
    if args.format == "json":
        agreement = (
            {"aggregate": args.panel_aggregate, "agreement": panel_agreement(per_judge)}
            if panel
            else None
        )
        data = report(suite, args.benchmark, list(per_judge), flagged, result, agreement)
        text = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
        sys.stdout.write(json_visible(text.decode()) + "\n")
        return 0
    agreement = panel_agreement(per_judge) if panel else None
    sys.stdout.write(render(result, list(per_judge), flagged, agreement, args.panel_aggregate))
    return 0


def _verdict(judgment: Judgment) -> Winner | Unparsed:
    return stored_verdict(judgment.status, judgment.winner, judgment.reason)


def render(
    result: PairwiseResult,
    judges: list[str],
    flagged: list[str],
    agreement: dict[str, Any] | None = None,
    aggregate: str = "mean",
) -> str:
    by = ", ".join(visible(j) for j in judges)
    panel = f"; a panel of {len(judges)}, aggregated by {aggregate}" if len(judges) > 1 else ""
    pairs = Table(
        title=f"pairwise judging by {by} (both orders{panel})",
        caption="a win needs both orders to agree; orders that disagree count as a tie "
        "(inconsistent); unparsed verdicts, judge errors and split panels are not scored",
    )
    headers = ["model A", "model B", "A wins", "ties", "B wins", "n", "inconsistent", "unparsed",
               "judge errors"]  # fmt: skip
    if len(judges) > 1:
        headers.append("split")
    for h in headers:
        if h.startswith("model"):
            pairs.add_column(h, overflow="fold")
        else:
            pairs.add_column(h, justify="right")
    for p in result.pairs:
        mark = " ⚑" if p.same_family_judge else ""
        pairs.add_row(
            Text(visible(p.model_a)),
            Text(visible(p.model_b) + mark),
            str(p.wins_a),
            str(p.ties),
            str(p.wins_b),
            str(p.n),
            str(p.inconsistent),
            str(p.unparsed),
            str(p.errors),
            *([str(p.split)] if len(judges) > 1 else []),
        )
    ratings = Table(
        title="Bradley-Terry ratings (Elo scale, mean 1000)",
        caption=f"95% percentile bootstrap CI over {result.samples} samples; ties count half",
    )
    for h in ("rank", "model", "rating", "95% CI"):
        if h == "model":
            ratings.add_column(h, overflow="fold")
        else:
            ratings.add_column(h, justify="right")
    for rank, r in enumerate(result.ratings, 1):
        ratings.add_row(str(rank), Text(visible(r.model)), f"{r.rating:.0f}",
                        f"[{r.lo:.0f}, {r.hi:.0f}]")  # fmt: skip
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, highlight=False, soft_wrap=True)
    console.print(pairs)
    if result.ratings:
        console.print(ratings)
    for note in result.notes:
        console.print(Text(note))
    if agreement is not None:
        name = (
            "Cohen's kappa" if agreement["statistic"] == "cohen_kappa" else "Krippendorff's alpha"
        )
        value = "n/a" if agreement["value"] is None else f"{agreement['value']:.3f}"
        console.print(Text(f"judges' agreement: {name} {value} over {agreement['n']} comparisons"))
    if flagged:
        console.print(
            Text(
                f"⚑ a judge is of the same family as {', '.join(visible(m) for m in flagged)}: "
                "it may prefer its own kind (--exclude-same-family leaves those models out)"
            )
        )
    return buffer.getvalue()
