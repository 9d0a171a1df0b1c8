"""Latency of policy answers: queries/s and p50/p95 of `ask` on the corpus and on it replicated 100 times.

Run: .venv/bin/python bench/kb_bench.py   (target: p95 <= 20 ms on the default corpus)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from api.knowledge.answer import answer_question  # noqa: E402
from api.knowledge.index import KnowledgeIndex, build_index  # noqa: E402
from api.knowledge.ingest import Document, load_corpus  # noqa: E402

CORPUS = ROOT / "nlu_data" / "policies"
QUESTIONS = ROOT / "tests" / "knowledge" / "eval_questions.yml"
TARGET_P95_MS = 20.0


def replicate(docs: list[Document], times: int) -> list[Document]:
    """The corpus copied `times` times under distinct document ids (same text, same regions)."""
    out = []
    for i in range(times):
        for d in docs:
            doc_id = f"{d.doc_id}#{i}"
            out.append(replace(d, doc_id=doc_id, sentences=[replace(s, doc_id=doc_id) for s in d.sentences]))
    return out


def measure(index: KnowledgeIndex, questions: list[str], rounds: int) -> tuple[float, float, float]:
    for q in questions[:10]:  # warm caches (jieba, pinyin)
        answer_question(index, q)
    latencies = []
    start = time.perf_counter()
    for _ in range(rounds):
        for q in questions:
            t = time.perf_counter()
            answer_question(index, q)
            latencies.append((time.perf_counter() - t) * 1000)
    elapsed = time.perf_counter() - start
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    return len(latencies) / elapsed, statistics.median(latencies), p95


def main() -> int:
    data = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    questions = [item["q"] for item in data["answerable"]] + list(data["unanswerable"])
    t = time.perf_counter()
    index = build_index(CORPUS, Path(tempfile.mkdtemp(prefix="kb-bench-")))
    print(
        f"default corpus: {len(index.docs)} docs, {len(index.sentences)} sentences, "
        f"built in {time.perf_counter() - t:.2f}s"
    )
    qps, p50, p95 = measure(index, questions, rounds=5)
    print(f"  ask: {qps:.0f} queries/s, p50 {p50:.2f} ms, p95 {p95:.2f} ms ({len(questions) * 5} queries)")
    t = time.perf_counter()
    big = KnowledgeIndex.from_documents(replicate(load_corpus(CORPUS), 100))
    print(f"corpus x100: {len(big.docs)} docs, {len(big.sentences)} sentences, built in {time.perf_counter() - t:.2f}s")
    qps100, p50_100, p95_100 = measure(big, questions, rounds=1)
    print(f"  ask: {qps100:.0f} queries/s, p50 {p50_100:.2f} ms, p95 {p95_100:.2f} ms ({len(questions)} queries)")
    ok = p95 <= TARGET_P95_MS
    print(f"target p95 <= {TARGET_P95_MS:.0f} ms on the default corpus: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
