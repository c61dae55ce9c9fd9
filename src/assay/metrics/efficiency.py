"""Efficiency of a run from its stored requests: latency, tokens, throughput and cost.

Latencies are the model's own time per request (a cached response keeps the latency of the call
that produced it, so a run replayed from the cache reports the same figures). Percentiles
interpolate linearly (numpy's default). `output_tokens_per_s` is the decoding rate one request
sees: output tokens over the summed latency of the requests that report output tokens.
`cost_usd` prices every answered request's tokens with `assay.pricing` (what the run costs
from scratch, cache hits included; at the batch rate for a run sent through a provider batch API);
None for an unpriced model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assay.pricing import cost


def efficiency(
    model: str,
    latencies: Sequence[float | None],
    input_tokens: Sequence[int | None],
    output_tokens: Sequence[int | None],
    *,
    batch: bool = False,
) -> dict[str, float | int | None]:
    """Figures for one run's answered requests (each sequence has one entry per request)."""
    timed = np.asarray([t for t in latencies if t is not None], dtype=float)
    tokens_in = sum(t or 0 for t in input_tokens)
    tokens_out = sum(t or 0 for t in output_tokens)
    decoding_time = sum(
        t for t, out in zip(latencies, output_tokens, strict=True) if t and out is not None
    )
    return {
        "latency_mean_s": float(timed.mean()) if timed.size else None,
        "latency_p50_s": float(np.percentile(timed, 50)) if timed.size else None,
        "latency_p95_s": float(np.percentile(timed, 95)) if timed.size else None,
        "output_tokens_per_s": tokens_out / decoding_time if decoding_time > 0 else None,
        "cost_usd": cost(model, tokens_in, tokens_out, batch=batch),
    }
