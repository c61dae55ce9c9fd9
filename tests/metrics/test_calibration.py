"""ECE with equal-mass bins and selective accuracy, pinned on hand-made data, and the
confidences a log-likelihood run stores."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest
import sqlalchemy as sa

from assay.benchmarks.base import DataContext
from assay.benchmarks.registry import resolve_task
from assay.execution.executor import Executor
from assay.execution.runner import Runner
from assay.metrics.calibration import (
    calibration_run_metrics,
    expected_calibration_error,
    selective_accuracy,
)
from assay.models.registry import create_model
from assay.prompting.logprob import MultipleChoiceLogprob
from assay.requests import Response
from assay.samples import Sample
from assay.store import schema
from assay.store.db import Store


def test_ece_one_sample_per_bin() -> None:
    confidences = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    correct = [False] * 5 + [True] * 5
    # |c - y| per sample: .1 .2 .3 .4 .5 .4 .3 .2 .1 0 -> 2.5 / 10
    assert expected_calibration_error(confidences, correct) == pytest.approx(0.25)


def test_ece_bins_have_equal_mass_not_equal_width() -> None:
    # 12 samples in 10 bins: sizes 2, 2, 1, 1, 1, 1, 1, 1, 1, 1 over the sorted order (ties keep
    # run order). Equal-width bins would put all twelve in one bin: |0.9 - 10/12| = 0.067.
    confidences = [0.9] * 12
    correct = [True, False] + [True] * 9 + [False]
    expected = (2 * 0.4 + 2 * 0.1 + 7 * 0.1 + 1 * 0.9) / 12
    assert expected_calibration_error(confidences, correct) == pytest.approx(expected)


def test_ece_sorts_by_confidence_before_binning() -> None:
    # 20 samples, bins of two neighbours in confidence order, whatever the input order
    confidences = [0.05 * (i + 1) for i in range(20)]
    correct = [i % 2 == 0 for i in range(20)]
    shuffled = list(zip(confidences, correct, strict=True))[::-1]
    forward = expected_calibration_error(confidences, correct)
    backward = expected_calibration_error([c for c, _ in shuffled], [y for _, y in shuffled])
    pairs = [(confidences[i] + confidences[i + 1]) / 2 for i in range(0, 20, 2)]
    assert forward == pytest.approx(backward)
    assert forward == pytest.approx(sum(abs(p - 0.5) for p in pairs) / 10)
    assert math.isnan(expected_calibration_error([], []))


def test_selective_accuracy_at_coverage_and_area() -> None:
    confidences = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
    correct = [True, True, False, True, False, False, True, False, False, False]
    at, area = selective_accuracy(confidences[::-1], correct[::-1])  # order must not matter
    running = [1, 1, 2 / 3, 3 / 4, 3 / 5, 3 / 6, 4 / 7, 4 / 8, 4 / 9, 4 / 10]
    assert at[10] == 1.0 and at[30] == pytest.approx(2 / 3) and at[100] == pytest.approx(0.4)
    assert at[70] == pytest.approx(4 / 7)
    assert area == pytest.approx(sum(running) / 10)
    # 15 samples: 10% coverage is the ceil(1.5) = 2 most confident
    at15, _ = selective_accuracy([1.0 - i / 100 for i in range(15)], [True, False] + [True] * 13)
    assert at15[10] == 0.5


def test_run_metrics_read_letters_and_skip_rows_without_confidence() -> None:
    rows = [
        {"prediction": "A", "correct": 0, "choices": ["x", "y"], "confidence": 0.8},
        {"prediction": "B", "correct": 0, "choices": ["x", "y"], "confidence": 0.6},
        {"prediction": "B", "correct": 1, "choices": ["x", "y"], "confidence": None},
    ]
    out = calibration_run_metrics(rows)
    assert out["n_calibration"] == 2
    assert out["ece_10_bin"] == pytest.approx((abs(0.6 - 0) + abs(0.8 - 1)) / 2)
    assert out["selective_accuracy_50"] == 1.0 and out["selective_accuracy_100"] == 0.5
    assert calibration_run_metrics(rows[2:]) == {}


def test_logprob_confidence_is_the_softmax_of_the_chosen_option() -> None:
    sample = Sample(id="s", input="Pick", choices=["a", "b", "c"], correct=1)
    responses = [
        Response(loglikelihood=value, continuation_tokens=1) for value in (-2.0, -1.0, -3.0)
    ]
    read = MultipleChoiceLogprob().read(sample, responses)
    expected = math.exp(-1) / (math.exp(-1) + math.exp(-2) + math.exp(-3))
    assert read.answer == "B" and read.confidence == pytest.approx(expected)


def test_a_logprob_run_stores_confidences_and_reports_calibration(
    data_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "a.db"
    store = Store(f"sqlite:///{db}")
    task = resolve_task("mmlu:format=multiple_choice_logprob,shots=0")
    model = create_model("mock/random")
    runner = Runner(store, task, model, Executor(model), data=DataContext(data_dir), limit=60)
    result = asyncio.run(runner.run())
    s = schema.samples
    with store.connect() as conn:
        stored = conn.execute(sa.select(s.c.confidence, s.c.choices)).all()
    store.close()
    assert len(stored) == 60
    assert all(1 / len(choices) <= c <= 1.0 for c, choices in stored)
    calibration = result.summary["run_metrics"]
    accuracy = result.summary["metrics"]["exact_match"]["mean"]
    assert calibration["n_calibration"] == 60
    assert calibration["selective_accuracy_100"] == pytest.approx(accuracy)
    mean_confidence = sum(c for c, _ in stored) / 60
    assert calibration["confidence_mean"] == pytest.approx(mean_confidence)
    # ECE is at least the gap between mean confidence and accuracy (triangle inequality)
    assert calibration["ece_10_bin"] >= abs(mean_confidence - accuracy) - 1e-12
