"""Shared fixtures: the default corpus and an index built once per session in a temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.knowledge.index import KnowledgeIndex, build_index
from api.knowledge.ingest import Document, load_corpus

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "nlu_data" / "policies"


@pytest.fixture(scope="session")
def corpus_docs() -> dict[str, Document]:
    return {d.doc_id: d for d in load_corpus(CORPUS)}


@pytest.fixture(scope="session")
def kb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kb")


@pytest.fixture(scope="session")
def kb_index(kb_dir: Path) -> KnowledgeIndex:
    return build_index(CORPUS, kb_dir)


@pytest.fixture(autouse=True)
def own_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """`ask` looks up staff entries in the configured database: never the developer's var/, and never one
    shared by parallel test workers."""
    from api.db import get_engine
    from api.settings import get_settings

    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HOTLINE_DATABASE_URL", "")
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()
