"""Chart geometry: axis labels never repeat, names are never cut, whiskers never cover values."""

from __future__ import annotations

import pytest

from assay.web import charts


@pytest.mark.parametrize(
    ("xs", "log"),
    [
        ([1000.0, 1004.0, 1010.0], False),  # a narrow range: 3 significant digits repeat
        ([99.5, 100.2, 100.9], False),
        ([3.0, 40.0, 5000.0], True),
        ([0.0012, 0.0019, 0.0031], False),
        ([12.0, 12.0], False),
    ],
)
def test_scatter_tick_labels_are_distinct_and_in_order(xs: list[float], log: bool) -> None:
    points = [(f"m{i}", x, 0.5) for i, x in enumerate(xs)]
    chart = charts.scatter(points, x_label="tokens", y_label="win rate")
    labels = [label for _, label in chart.x_ticks]
    assert len(labels) >= 2 and len(labels) == len(set(labels))
    positions = [x for x, _ in chart.x_ticks]
    assert positions == sorted(positions)
    assert all(chart.plot[0] - 1 <= x <= chart.plot[2] + 1 for x in positions)


def test_axis_ticks_use_round_values() -> None:
    assert [v for v, _ in charts.axis_ticks(0.0, 1.0, log=False)] == pytest.approx(
        [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    )
    logged = [v for v, _ in charts.axis_ticks(3.0, 5000.0, log=True)]
    assert 10.0 in logged and 1000.0 in logged and len(logged) <= 6


def test_long_names_fit_and_values_clear_their_whiskers() -> None:
    long = "openai-compatible/a-rather-long-model-name@http://127.0.0.1:8080/v1"
    chart = charts.win_rate_bars([(long, 0.9, (0.7, 1.0)), ("short", 0.1, (0.0, 0.3))])
    assert chart.plot[0] >= len(long) * charts.CHAR_PX  # the label's room left of the bars
    for bar in chart.bars:
        assert bar.hi is not None and bar.value_x > bar.hi
        assert bar.value_x > bar.x + bar.width
    assert chart.width >= max(b.value_x for b in chart.bars) + 40
    scatter = charts.scatter([(long, 10.0, 0.9), ("b", 20.0, 0.1)], x_label="x", y_label="y")
    rightmost = max(p.x for p in scatter.points)
    assert scatter.width >= rightmost + len(long) * charts.CHAR_PX
