"""The new views' page tests again, on the rich store written to a real PostgreSQL server (the
JSON reads behind truncation marks, questions, breakdowns and sandbox results differ by
dialect)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.postgres import PostgresServer
from tests.web.rich_store import RichStore, build_rich_store
from tests.web.test_web_views import (
    priced,
    rich_client,
    test_benchmark_page_description_metrics_and_subject_breakdown,
    test_humaneval_sample_shows_programs_tests_and_sandbox_results,
    test_leaderboard_cost_is_the_pricing_functions_everywhere,
    test_model_page_metadata_runs_and_strengths,
    test_perturbed_sample_labels_requests_and_diffs_inputs,
    test_run_page_shows_run_level_numbers_references_and_questions,
    test_tabs_show_each_metric_group,
    test_truncated_answer_is_marked_on_the_sample_and_in_the_list,
)

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

__all__ = [
    "priced",
    "rich_client",
    "test_benchmark_page_description_metrics_and_subject_breakdown",
    "test_humaneval_sample_shows_programs_tests_and_sandbox_results",
    "test_leaderboard_cost_is_the_pricing_functions_everywhere",
    "test_model_page_metadata_runs_and_strengths",
    "test_perturbed_sample_labels_requests_and_diffs_inputs",
    "test_run_page_shows_run_level_numbers_references_and_questions",
    "test_tabs_show_each_metric_group",
    "test_truncated_answer_is_marked_on_the_sample_and_in_the_list",
]


@pytest.fixture(scope="module")
def rich(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> RichStore:
    url = postgres_server.create_database("rich")
    return build_rich_store(tmp_path_factory.mktemp("rich-pg"), data_dir, url)
