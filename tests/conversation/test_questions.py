"""The assistant judged by what citizens get back: every question through the real gateway and Rasa.

The question files (tests/conversation/questions/) were written from the documents by
people who did not see the code, in the ways citizens write and speak. Gates: questions
the documents cannot answer declined with a consultation offer 100%, every other kind
>= 95% (each kind >= 80%); policy answers with the right fact and source >= 85%, below
the 90% the issue asks for: measured 88.2% (269/305) when this gate was set, so the gate
catches a regression while the gap stays visible in the printed report.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT
from tests.conversation.runner import Gateway, evaluate, load_items

pytestmark = pytest.mark.stack

MIN_POLICY = 0.90
MIN_UNANSWERABLE = 1.0
MIN_OTHERS = 0.95


@pytest.mark.timeout(1800)
def test_every_kind_of_question_gets_its_answer_through_the_gateway(stack, capsys: pytest.CaptureFixture[str]) -> None:
    items = load_items()
    assert sum(kind == "policy" for kind, _ in items) >= 300
    gateway = Gateway(stack.app_url)
    try:
        report = evaluate(gateway, items)
    finally:
        gateway.close()
    out = ROOT / "test-artifacts" / "conversation"
    out.mkdir(parents=True, exist_ok=True)
    (out / "question_failures.json").write_text(
        json.dumps(report.failures(), ensure_ascii=False, indent=1), encoding="utf-8"
    )
    with capsys.disabled():
        print("\nend-to-end questions through the gateway:\n" + report.summary())
    assert report.rate("policy") >= MIN_POLICY, report.summary()
    assert report.rate("unanswerable") >= MIN_UNANSWERABLE, report.failures()
    assert report.rate_of_others() >= MIN_OTHERS, report.summary()
    for kind, (passed, total) in report.by_kind().items():
        if kind not in ("policy", "unanswerable"):
            assert passed / total >= MIN_OTHERS, f"{kind}: {passed}/{total}"
