"""Shared fixtures: the default corpus and an index built once per session in a temporary folder."""

from __future__ import annotations

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
