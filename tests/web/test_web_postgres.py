"""The viewer's page tests again, on a store in a real PostgreSQL server.

The tests are imported from test_web_pages, so pytest runs them here too, with this module's
`store` and `client`: the same runs, written to PostgreSQL by the CLI and read back through a
read-only session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.postgres import PostgresServer
from tests.web.conftest import fill_store
from tests.web.test_web_pages import (
    test_bad_input_gets_a_clear_status,
    test_compare_filters_to_disagreements,
    test_every_page_is_small,
    test_every_sort_pages_through_each_sample_once_in_order,
    test_filter_incorrect_returns_exactly_the_wrong_answers,
    test_filters_page_through_exactly_their_matches,
    test_leaderboard_shows_models_with_cis_and_sorts,
    test_metadata_filter_by_subject,
    test_metadata_values_offered_are_every_value_of_the_run,
    test_metric_range_and_status_filters,
    test_run_page_lists_every_sample_with_summary,
    test_sample_page_shows_exact_prompt_raw_json_and_scores,
    test_search_finds_a_word_in_prompts_and_responses,
    test_sort_by_score_descending,
    test_xss_payload_is_escaped,
)

from assay.store import schema
from assay.store.db import Store

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

__all__ = [
    "test_bad_input_gets_a_clear_status",
    "test_compare_filters_to_disagreements",
    "test_every_page_is_small",
    "test_every_sort_pages_through_each_sample_once_in_order",
    "test_filter_incorrect_returns_exactly_the_wrong_answers",
    "test_filters_page_through_exactly_their_matches",
    "test_leaderboard_shows_models_with_cis_and_sorts",
    "test_metadata_filter_by_subject",
    "test_metadata_values_offered_are_every_value_of_the_run",
    "test_metric_range_and_status_filters",
    "test_run_page_lists_every_sample_with_summary",
    "test_sample_page_shows_exact_prompt_raw_json_and_scores",
    "test_search_finds_a_word_in_prompts_and_responses",
    "test_sort_by_score_descending",
    "test_xss_payload_is_escaped",
]


@pytest.fixture(scope="module")
def store(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> Iterator[Store]:
    url = postgres_server.create_database("viewer")
    fill_store(url, tmp_path_factory.mktemp("viewer-pg"), data_dir)
    store = Store(url, readonly=True)
    yield store
    store.close()


@pytest.fixture(scope="module")
def client(store: Store) -> Iterator[Any]:
    from starlette.testclient import TestClient

    from assay.web.app import create_app

    with TestClient(create_app(store)) as test_client:
        yield test_client


def test_the_store_is_opened_read_only(store: Store) -> None:
    with pytest.raises(sa.exc.InternalError, match="read-only transaction"), store.begin() as conn:
        conn.execute(schema.suites.insert().values(name="x", created_at=0.0))


def test_histogram_bins_every_score(client: Any, store: Store, find_run: Any) -> None:
    from assay.store.browse import score_histogram

    run = find_run("mmlu", "mock/random?seed=1")
    bins = score_histogram(store, run, "exact_match")
    assert len(bins) == 10 and sum(n for _, _, n in bins) == 60
    assert bins[0][2] > 0 and bins[-1][2] > 0  # scores of 0 and of 1
