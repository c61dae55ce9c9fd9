"""A small real store for the viewer: MMLU and GSM8K with mock models, plus a benchmark whose
responses hold an XSS payload. Built once per session through the CLI."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import sqlalchemy as sa

from assay.cli import main
from assay.store import schema
from assay.store.db import Store

XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'

XSS_MARK = "<script>window.__xss"
MODELS = ["mock/oracle", "mock/constant", "mock/random?seed=1"]


def build_store(folder: Path, data_dir: Path) -> Path:
    db = folder / "viewer.db"
    fill_store(str(db), folder, data_dir)
    return db


def fill_store(db: str, folder: Path, data_dir: Path) -> None:
    """Write the viewer's runs into `db` (a SQLite path or a database URL)."""
    common = ["--db", db, "--no-progress", "--data-dir", str(data_dir)]
    models = [arg for m in MODELS for arg in ("-m", m)]
    assert main(["run", "mmlu", "gsm8k", *models, "--limit", "60", *common]) == 0
    rows = [
        {"id": f"x{i}", "q": f"Repeat this markup {i}: <b>bold</b>", "a": [f"{XSS} {i}"]}
        for i in range(6)
    ]
    (folder / "xss.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (folder / "xss.yaml").write_text(
        "name: xss\n"
        "data: {path: xss.jsonl}\n"
        "fields: {id: id, input: q, target: a}\n"
        "prompt: {format: generate}\n"
        "metrics: [exact_match]\n"
    )
    xss_models = ["-m", "mock/oracle", "-m", "mock/constant"]
    assert main(["run", str(folder / "xss.yaml"), *xss_models, *common]) == 0


@pytest.fixture(scope="session")
def viewer_db(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    return build_store(tmp_path_factory.mktemp("viewer"), data_dir)


@pytest.fixture(scope="session")
def store(viewer_db: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{viewer_db}", readonly=True)
    yield store
    store.close()


@pytest.fixture(scope="session")
def client(store: Store) -> Iterator[Any]:
    from starlette.testclient import TestClient

    from assay.web.app import create_app

    app = create_app(store)
    with TestClient(app) as test_client:
        yield test_client


def run_id(store: Store, benchmark: str, model: str) -> str:
    r = schema.runs
    with store.connect() as conn:
        found: str = conn.execute(
            sa.select(r.c.id).where(r.c.benchmark == benchmark, r.c.model == model)
        ).scalar_one()
    return found


def rows_of(html: str, table: str = "samples-table") -> list[str]:
    """The sample ids a samples or compare table lists, in order."""
    start = html.index(f'id="{table}"')
    body = html[start : html.index("</table>", start)]
    links = re.findall(r'class="sample-link" href="([^"]+)"', body)
    out = []
    for link in links:
        link = unescape(link)
        if "/samples/" in link:
            out.append(unquote(link.split("/samples/", 1)[1].split("?", 1)[0]))
        else:
            out.append(unquote(link.split("id=", 1)[1].split("&", 1)[0]))
    return out


@pytest.fixture
def find_run(store: Store) -> Callable[[str, str], str]:
    return lambda benchmark, model: run_id(store, benchmark, model)


@pytest.fixture
def listed() -> Callable[..., list[str]]:
    return rows_of


@pytest.fixture(scope="session")
def rich(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Any:
    """The store of tests/web/rich_store.py (SQLite) with its run ids."""
    from tests.web.rich_store import build_rich_store

    return build_rich_store(tmp_path_factory.mktemp("rich"), data_dir)
