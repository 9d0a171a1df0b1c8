"""The knowledge page against the real app, database and policy index: unanswered questions are listed,
an entry is written, approved by a supervisor, then answers citizens with its source; versions and expiry."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.console.conftest import Staff

QUESTION = "盲人按摩师资格证去哪里考"
ENTRY = {
    "questions": "盲人按摩师资格证去哪里考\n盲人按摩资格考试在哪报名",
    "answer": "盲人医疗按摩人员考试由省级残联和卫生健康部门组织，请向所在市残联就业服务机构报名。",
    "easy_read": "请到市残联就业服务机构报名。",
    "source_title": "盲人医疗按摩管理办法",
    "source_article": "第六条",
    "source_date": "2009年12月23日",
}


def _ask(client: TestClient, question: str = QUESTION) -> dict[str, Any]:
    resp = client.post("/api/knowledge/ask", json={"question": question, "channel": "web"})
    assert resp.status_code == 200, resp.text
    return resp.json()


def _notice(staff: Staff, resp: Any) -> str:
    found = re.search(r'<p class="notice" role="status">([^<]*)</p>', staff.get(resp.headers["location"]).text)
    return found.group(1) if found else ""


def _entry_id(page: str, button: str) -> int:
    found = re.search(rf'action="/staff/knowledge/entries/(\d+)/{button}"', page)
    assert found, page[-3000:]
    return int(found.group(1))


def test_unanswered_question_gets_an_approved_answer_with_its_source(
    client: TestClient, staff_as: Callable[..., Staff]
) -> None:
    assert _ask(client)["answered"] is False
    assert _ask(client, "盲人按摩师资格证去哪考呀")["answered"] is False

    op = staff_as("operator")
    page = op.get("/staff/knowledge").text
    assert "盲人按摩师资格证去哪里考" in page and "问过2次" in page  # two wordings, one question

    bad = op.post("/staff/knowledge/entries", {"questions": QUESTION, "answer": "", "source_url": "ftp://x"})
    assert bad.status_code == 400
    assert 'href="#answer"' in bad.text and 'href="#source_title"' in bad.text and 'href="#source_url"' in bad.text

    saved = op.post("/staff/knowledge/entries", ENTRY)
    assert "等待值班主管审核" in _notice(op, saved)
    assert _ask(client)["answered"] is False  # a draft is never given to citizens
    drafts = op.get("/staff/knowledge").text.split('id="drafts-title"')[1].split('id="approved-title"')[0]
    assert "市残联就业服务机构报名" in drafts and "/approve" not in drafts  # an operator cannot approve

    sup = staff_as("supervisor")
    entry_id = _entry_id(sup.get("/staff/knowledge").text, "approve")
    assert op.post(f"/staff/knowledge/entries/{entry_id}/approve").status_code == 403
    assert "审核通过" in _notice(sup, sup.post(f"/staff/knowledge/entries/{entry_id}/approve"))

    answer = _ask(client, "请问盲人按摩资格考试在哪报名")
    assert answer["answered"] is True
    assert "市残联就业服务机构报名" in answer["answer"]
    assert "《盲人医疗按摩管理办法》" in answer["answer"] and "第六条" in answer["answer"]
    assert answer["citation"] and "盲人医疗按摩管理办法" in answer["citation"]
    assert "请到市残联就业服务机构报名" in answer["voice_answer"]  # the easy-read version is what a caller hears
    more = client.post("/api/knowledge/ask", json={"question": QUESTION, "more": True}).json()
    assert more["answer"].startswith("详细内容") and "简单说" in more["answer"]
    assert _ask(client, "残疾人证怎么换证")["answer"] != answer["answer"]  # other questions are not caught


def test_a_new_version_waits_and_an_expired_entry_stops(client: TestClient, staff_as: Callable[..., Staff]) -> None:
    sup, sup2 = staff_as("supervisor"), staff_as("supervisor", username="sup.two")
    sup.post("/staff/knowledge/entries", ENTRY)
    first = _entry_id(sup2.get("/staff/knowledge").text, "approve")
    own = sup.post(f"/staff/knowledge/entries/{first}/approve")
    assert "不能审核自己写的答复" in _notice(sup, own)
    sup2.post(f"/staff/knowledge/entries/{first}/approve")

    revised = {**ENTRY, "answer": "请向户籍所在地的市残联报名参加盲人医疗按摩人员考试。", "revises": str(first)}
    sup.post("/staff/knowledge/entries", revised)
    assert "就业服务机构" in _ask(client)["answer"]  # version 1 answers until version 2 is approved
    second = _entry_id(sup2.get("/staff/knowledge").text, "approve")
    sup2.post(f"/staff/knowledge/entries/{second}/approve")
    now = _ask(client)["answer"]
    assert "户籍所在地" in now and "就业服务机构" not in now
    assert "第2版" in sup.get("/staff/knowledge").text

    expired = {**ENTRY, "questions": "盲文图书去哪里借", "expires_on": "2020-01-01"}
    sup.post("/staff/knowledge/entries", expired)
    third = _entry_id(sup2.get("/staff/knowledge").text, "approve")
    sup2.post(f"/staff/knowledge/entries/{third}/approve")
    assert "已过期" in sup.get("/staff/knowledge").text
    assert "就业服务机构" not in _ask(client, "盲文图书去哪里借")["answer"]
    bad_date = sup.post("/staff/knowledge/entries", {**ENTRY, "expires_on": "明年"})
    assert bad_date.status_code == 400 and 'id="expires_on-error"' in bad_date.text


GUIDE = """<html><head><title>残疾人证办理指南_测试市残疾人联合会</title></head><body>
<h1>测试市残疾人证办理指南</h1>
<p>测试市残疾人联合会</p>
<p>2026年1月5日</p>
<p>一、办理条件</p>
<p>具有本市户籍、符合残疾标准的残疾人，可以申请办理残疾人证。</p>
<p>二、办理流程</p>
<p>申请人携带居民身份证、户口簿和近期两寸照片，到户籍所在地街道残联窗口提交申请，填写残疾人证申请表。</p>
<p>街道残联受理后，申请人到指定医院进行残疾评定，评定结果合格的，区残联在十个工作日内发证。</p>
</body></html>"""


def test_staff_add_a_document_after_seeing_how_it_splits(client: TestClient, staff_as: Callable[..., Staff]) -> None:
    op, sup = staff_as("operator"), staff_as("supervisor")
    before = _ask(client, "测试市残疾人证怎么办理")
    assert not before["answered"]

    op.get("/staff/knowledge/documents")
    bad = op.client.post(
        "/staff/knowledge/documents/preview",
        data={"csrf": op.csrf},
        files={"document": ("guide.pdf", b"%PDF-1.4", "application/pdf")},
    )
    assert bad.status_code == 400 and 'id="document-error"' in bad.text and 'href="#document"' in bad.text

    sup.get("/staff/knowledge/documents")
    shown = sup.client.post(
        "/staff/knowledge/documents/preview",
        data={"csrf": sup.csrf},
        files={"document": ("guide.html", GUIDE.encode(), "text/html")},
    )
    assert shown.status_code == 200, shown.text[-2000:]
    assert "分段结果：《测试市残疾人证办理指南》" in shown.text and "二、办理流程" in shown.text
    assert "3句" in shown.text and "没有识别出来" in shown.text  # what was not recognised is said, not guessed
    assert _ask(client, "测试市残疾人证怎么办理")["answered"] is False  # a preview changes nothing
    pending = re.search(r'name="pending" value="([^"]+)"', shown.text)
    assert pending
    assert op.post("/staff/knowledge/documents/add", {"pending": pending.group(1)}).status_code == 403
    added = sup.post("/staff/knowledge/documents/add", {"pending": pending.group(1)})
    assert "已加入知识库" in _notice(sup, added)

    answer = _ask(client, "测试市残疾人证怎么办理")
    assert answer["answered"], answer["answer"]
    assert "街道残联窗口提交申请" in answer["answer"] and "《测试市残疾人证办理指南》" in answer["answer"]


def test_a_change_made_by_another_instance_is_seen_within_the_snapshot_time(
    client: TestClient, staff_as: Callable[..., Staff], monkeypatch: Any
) -> None:
    """Answers come from an in-memory snapshot; a retirement written by another app instance
    (here: straight into the database) reaches this one once the snapshot is older than its limit."""
    from sqlmodel import Session, select

    from api.db import get_engine
    from api.knowledge import entries
    from api.models.knowledge import EntryStatus, KnowledgeEntry

    staff_as("operator").post("/staff/knowledge/entries", ENTRY)
    sup = staff_as("supervisor")
    sup.post(f"/staff/knowledge/entries/{_entry_id(sup.get('/staff/knowledge').text, 'approve')}/approve")
    assert _ask(client)["answered"] is True

    with Session(get_engine()) as other_instance:
        for entry in other_instance.exec(select(KnowledgeEntry)).all():
            entry.status = EntryStatus.retired
            other_instance.add(entry)
        other_instance.commit()
    assert _ask(client)["answered"] is True  # still the snapshot: no database read per question
    monkeypatch.setattr(entries, "SNAPSHOT_SECONDS", 0.0)
    assert _ask(client)["answered"] is False
