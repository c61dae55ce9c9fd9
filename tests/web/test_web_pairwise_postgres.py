"""The pairwise pages' tests again, on a store in a real PostgreSQL server: the verdicts written
there by `assay pairwise`, read back through a read-only session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.postgres import PostgresServer
from tests.web.pairwise_store import PairwiseStore, build_pairwise_store
from tests.web.test_web_pairwise import (
    test_a_sample_shows_both_answers_and_each_orders_raw_request,
    test_bad_addresses_say_what_is_wrong,
    test_hostile_model_text_stays_text,
    test_the_benchmark_page_and_leaderboard_link_to_it,
    test_the_csv_downloads_hold_every_pair_and_rating,
    test_the_json_download_is_the_commands_json,
    test_the_judged_samples_list_is_paged,
    test_the_page_shows_the_commands_numbers_per_judge_and_for_the_panel,
    test_the_run_sample_page_links_to_its_verdicts,
    test_unparsed_verdicts_and_judge_errors_are_shown_apart,
)

from assay.store.db import Store

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

__all__ = [
    "test_a_sample_shows_both_answers_and_each_orders_raw_request",
    "test_bad_addresses_say_what_is_wrong",
    "test_hostile_model_text_stays_text",
    "test_the_benchmark_page_and_leaderboard_link_to_it",
    "test_the_csv_downloads_hold_every_pair_and_rating",
    "test_the_json_download_is_the_commands_json",
    "test_the_judged_samples_list_is_paged",
    "test_the_page_shows_the_commands_numbers_per_judge_and_for_the_panel",
    "test_the_run_sample_page_links_to_its_verdicts",
    "test_unparsed_verdicts_and_judge_errors_are_shown_apart",
]


@pytest.fixture(scope="module")
def judged(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> PairwiseStore:
    url = postgres_server.create_database("pairwise")
    return build_pairwise_store(tmp_path_factory.mktemp("pairwise-pg"), data_dir, url)


@pytest.fixture(scope="module")
def store(judged: PairwiseStore) -> Iterator[Store]:
    found = Store(judged.url, readonly=True)
    yield found
    found.close()


@pytest.fixture(scope="module")
def client(store: Store) -> Iterator[Any]:
    from starlette.testclient import TestClient

    from assay.web.app import create_app

    with TestClient(create_app(store)) as test_client:
        yield test_client
