"""The evaluation: questions written from the documents as citizens ask them (see eval_questions.yml).

Prints top-1 source accuracy, fact accuracy and the no-answer rate; fails below 0.85.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from api.knowledge.answer import answer_question
from api.knowledge.index import KnowledgeIndex

EVAL = Path(__file__).with_name("eval_questions.yml")
MIN_ACCURACY = 0.85
MIN_NO_ANSWER_RATE = 0.85


def test_eval_set_is_big_enough() -> None:
    data = yaml.safe_load(EVAL.read_text(encoding="utf-8"))
    assert len(data["answerable"]) >= 80 and len(data["unanswerable"]) >= 10
    for item in data["answerable"]:
        source = (Path(__file__).resolve().parents[2] / "nlu_data" / "policies" / item["doc"]).read_text("utf-8")
        assert item["fact"] in source, item  # every expected fact is really in its document


def test_policy_answer_accuracy(kb_index: KnowledgeIndex, capsys: pytest.CaptureFixture[str]) -> None:
    data = yaml.safe_load(EVAL.read_text(encoding="utf-8"))
    answerable, unanswerable = data["answerable"], data["unanswerable"]
    source_ok = fact_ok = 0
    misses = []
    for item in answerable:
        a = answer_question(kb_index, item["q"])
        top_doc = a.passages[0].citation.doc_id if a.passages else None
        s = top_doc == item["doc"]
        f = a.answered and a.citation is not None and a.citation.doc_id == item["doc"] and item["fact"] in a.text
        source_ok += s
        fact_ok += f
        if not (s and f):
            misses.append(f"  {'S' if s else '-'}{'F' if f else '-'} {a.confidence:.2f} {item['q']} -> {top_doc}")
    declined = [q for q in unanswerable if not answer_question(kb_index, q).answered]
    source_acc = source_ok / len(answerable)
    fact_acc = fact_ok / len(answerable)
    no_answer_rate = len(declined) / len(unanswerable)
    report = [
        f"\nknowledge eval: {len(answerable)} answerable, {len(unanswerable)} unanswerable",
        f"top-1 source accuracy: {source_acc:.3f}",
        f"fact accuracy:         {fact_acc:.3f}",
        f"no-answer rate (unanswerable questions declined): {no_answer_rate:.3f}",
        "misses (S=source ok, F=fact ok, confidence):",
        *misses,
        "unanswerable but answered: " + (", ".join(q for q in unanswerable if q not in declined) or "none"),
    ]
    with capsys.disabled():  # shown in every run, not only on failure
        print("\n".join(report))
    assert source_acc >= MIN_ACCURACY
    assert fact_acc >= MIN_ACCURACY
    assert no_answer_rate >= MIN_NO_ANSWER_RATE
