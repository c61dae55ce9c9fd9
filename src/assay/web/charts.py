"""Geometry for the server-drawn SVG charts. Only numbers and labels: templates escape labels.

Charts show the data of the page they sit on, nothing more, so they never fetch anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Bar:
    label: str
    x: float  # left edge
    y: float
    width: float
    value_text: str
    lo: float | None = None  # whisker ends, in px, when an interval is known
    hi: float | None = None

    @property
    def value_x(self) -> float:
        """Where the value's label starts: past the bar and past its whisker."""
        return max(self.x + self.width, self.hi or 0.0) + 5


@dataclass
class Point:
    label: str
    x: float
    y: float
    title: str


@dataclass
class Chart:
    width: int
    height: int
    bars: list[Bar]
    points: list[Point]
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    x_label: str = ""
    y_label: str = ""
    plot: tuple[float, float, float, float] = (0, 0, 0, 0)  # left, top, right, bottom


CHAR_PX = 6.4  # width of one character of an 11 px label, generously


def label_px(labels: list[str]) -> float:
    """Room for the longest label, so that no model name is cut."""
    return max((len(t) for t in labels), default=0) * CHAR_PX


def win_rate_bars(
    rows: list[tuple[str, float | None, tuple[float, float] | None]], *, plot_width: int = 330
) -> Chart:
    """Horizontal bars of mean win rate in [0, 1], with an interval when one is known; the
    left margin fits the longest model name."""
    left = max(120.0, label_px([r[0] for r in rows]) + 14)
    right, row_h = left + plot_width, 22.0
    width = int(right + 50)
    scale = right - left
    bars = []
    for i, (label, value, interval) in enumerate(rows):
        if value is None:
            continue
        y = 10 + i * row_h
        lo = hi = None
        if interval is not None:
            lo, hi = left + interval[0] * scale, left + interval[1] * scale
        bars.append(Bar(label, left, y, value * scale, f"{value:.3f}", lo, hi))
    height = int(20 + max(len(rows), 1) * row_h + 20)
    ticks = [(left + t * scale, f"{t:.2f}") for t in (0, 0.25, 0.5, 0.75, 1.0)]
    return Chart(
        width, height, bars, [], ticks, [], "mean win rate", "", (left, 5, right, height - 20)
    )


def scatter(
    points: list[tuple[str, float, float]],
    *,
    x_label: str,
    y_label: str,
    width: int = 560,
    height: int = 300,
) -> Chart:
    """Points (label, x, y); x on a log scale when it spans more than a factor of 20. The
    chart widens so that the rightmost point's whole label fits."""
    left, top, right, bottom = 60.0, 18.0, float(width - 110), float(height - 40)
    width = int(right + max(110.0, label_px([p[0] for p in points]) + 20))
    if not points:
        return Chart(width, height, [], [], [], [], x_label, y_label, (left, top, right, bottom))
    xs = [p[1] for p in points]
    ys = [p[2] for p in points]
    log = min(xs) > 0 and max(xs) / min(xs) > 20

    def fx(v: float) -> float:
        return math.log10(v) if log else v

    x0, x1 = fx(min(xs)), fx(max(xs))
    if x1 - x0 < 1e-12:
        x0, x1 = x0 - 1, x1 + 1
    pad = (x1 - x0) * 0.05
    x0, x1 = x0 - pad, x1 + pad
    y0, y1 = min(0.0, min(ys)), max(1.0, max(ys))

    def px(v: float) -> float:
        return left + (fx(v) - x0) / (x1 - x0) * (right - left)

    def py(v: float) -> float:
        return bottom - (v - y0) / (y1 - y0) * (bottom - top)

    out = [
        Point(label, px(x), py(y), f"{label}: {x_label} {x:,.4g}, {y_label} {y:.3f}")
        for label, x, y in points
    ]
    x_ticks = [
        (left + (fx(v) - x0) / (x1 - x0) * (right - left), label)
        for v, label in axis_ticks(10**x0 if log else x0, 10**x1 if log else x1, log=log)
    ]
    y_ticks = [(py(y0 + (y1 - y0) * i / 4), f"{y0 + (y1 - y0) * i / 4:.2f}") for i in range(5)]
    return Chart(
        width, height, [], out, x_ticks, y_ticks, x_label, y_label, (left, top, right, bottom)
    )


def histogram(
    bins: list[tuple[float, float, int]], *, width: int = 560, height: int = 160
) -> Chart:
    """Vertical bars, one per bin; the bar's label is its range and count."""
    left, top, right, bottom = 40.0, 10.0, float(width - 10), float(height - 30)
    if not bins:
        return Chart(width, height, [], [], [], [], "", "", (left, top, right, bottom))
    peak = max(n for _, _, n in bins) or 1
    step = (right - left) / len(bins)
    bars = []
    for i, (lo, hi, n) in enumerate(bins):
        h = (bottom - top) * n / peak
        bars.append(
            Bar(f"[{lo:.2g}, {hi:.2g}): {n:,}", left + i * step + 1, bottom - h, h, f"{n:,}")
        )
    x_ticks = [(left + i * step, f"{bins[i][0]:.2g}") for i in range(len(bins))]
    x_ticks.append((right, f"{bins[-1][1]:.2g}"))
    return Chart(
        width,
        height,
        bars,
        [],
        x_ticks,
        [(top, f"{peak:,}"), (bottom, "0")],
        "",
        "",
        (left, top, right, bottom),
    )


def axis_ticks(lo: float, hi: float, *, log: bool, most: int = 6) -> list[tuple[float, str]]:
    """Round values between lo and hi with distinct labels: 1-2-5 steps (times powers of 10
    on a log axis), at most `most` of them."""
    if hi <= lo:
        return [(lo, f"{lo:,.3g}")]
    candidates: list[float] = []
    if log and lo > 0:
        for exponent in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
            candidates += [m * 10.0**exponent for m in (1, 2, 5)]
        candidates = [v for v in candidates if lo <= v <= hi]
        while len(candidates) > most:  # keep the powers of ten, then every other one
            thinned = [v for v in candidates if math.isclose(math.log10(v) % 1, 0, abs_tol=1e-9)]
            candidates = thinned if 2 <= len(thinned) < len(candidates) else candidates[::2]
    if len(candidates) < 2:
        raw = (hi - lo) / (most - 1)
        power = 10.0 ** math.floor(math.log10(raw))
        step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
        first = math.ceil(lo / step) * step
        candidates = [first + i * step for i in range(most + 1) if first + i * step <= hi + 1e-12]
    out: list[tuple[float, str]] = []
    for value in candidates:
        label = f"{value:,.6g}"
        if not out or out[-1][1] != label:
            out.append((value, label))
    return out
