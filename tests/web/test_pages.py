"""Web pages without a browser: chat (no-JS form and JSON), status, complaint; bad input; CSRF."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from accessibility import conversation
from api.models.grievance import GrievanceRecord
from api.models.ticket import Ticket

PAGES = ["/", "/status", "/complaint", "/transcript", "/chat/new"]


def _csrf(client: TestClient, path: str = "/") -> str:
    page = client.get(path)
    assert page.status_code == 200
    match = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
    assert match
    return match.group(1)


def _send(client: TestClient, text: str, token: str):
    return client.post("/chat/send", json={"text": text, "after": 0}, headers={"X-CSRF-Token": token})


def test_every_page_is_chinese_local_and_locked_down(client: TestClient) -> None:
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 200, path
        assert '<html lang="zh-CN"' in page.text
        assert "http://" not in page.text and "https://" not in page.text, f"{path} loads something remote"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        assert "<script>" not in page.text, f"{path} has an inline script"
        assert 'class="skip-link"' in page.text and "<main" in page.text
    chat = client.get("/").text
    assert 'role="log"' in chat and 'aria-live="polite"' in chat and "转人工" in chat
    assert "hotline_sid" in client.cookies


def test_no_js_form_posts_and_rerenders_the_conversation(client: TestClient) -> None:
    token = _csrf(client)
    resp = client.post(
        "/chat", data={"csrf": token, "text": "残疾人证怎么办理", "action": "send"}, follow_redirects=False
    )
    assert resp.status_code == 303 and resp.headers["location"] == "/#latest"
    page = client.get("/").text
    assert "残疾人证怎么办理" in page and "我：" in page and "智能助手：" in page
    assert 'id="latest"' in page
    # The gateway's fallback hands over: the page says a person will answer.
    assert 'data-state="waiting"' in page and "转接工作人员" in page


def test_human_button_without_javascript(client: TestClient, db: Session) -> None:
    token = _csrf(client)
    resp = client.post("/chat", data={"csrf": token, "text": "", "action": "human"}, follow_redirects=False)
    assert resp.status_code == 303
    db.rollback()
    rec = db.exec(select(GrievanceRecord).where(GrievanceRecord.text == "转人工")).one()
    assert rec.channel == "web" and rec.session_id.startswith("web-")


def test_forms_refuse_a_missing_or_wrong_csrf_token(client: TestClient) -> None:
    _csrf(client)
    assert client.post("/chat", data={"text": "你好"}).status_code == 403
    assert client.post("/chat", data={"text": "你好", "csrf": "0" * 32}).status_code == 403
    assert client.post("/chat/send", json={"text": "你好"}).status_code == 403
    assert client.post("/complaint", data={"description": "盲道被占用了很久"}).status_code == 403
    assert client.post("/status", data={"number": "202611230007", "phone_last4": "1234"}).status_code == 403
    refused = client.post("/chat", data={"text": "你好"})
    assert "页面已经失效" in refused.text


def test_json_send_returns_labelled_messages(client: TestClient) -> None:
    token = _csrf(client)
    body = _send(client, "我想问问补贴", token).json()
    senders = [m["sender"] for m in body["messages"]]
    assert senders[0] == "me" and "bot" in senders
    assert body["log_id"] > 0 and body["last_id"] == body["log_id"]
    assert body["answering"] == "waiting" and body["handoff"] is True
    again = client.get(f"/chat/updates?after={body['last_id']}").json()
    assert again["messages"] == [] and again["answering"] == "waiting"


def test_html_and_script_are_shown_as_text(client: TestClient) -> None:
    token = _csrf(client)
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    assert _send(client, evil, token).status_code == 200
    page = client.get("/").text
    assert evil not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;script&gt;" in client.get("/transcript").text


def test_empty_and_too_long_messages_get_chinese_messages_tied_to_the_box(client: TestClient) -> None:
    token = _csrf(client)
    empty = client.post("/chat", data={"csrf": token, "text": "   ", "action": "send"})
    assert empty.status_code == 422
    assert "请先输入您要说的话" in empty.text and 'aria-invalid="true"' in empty.text
    assert 'aria-describedby="chat-help chat-error"' in empty.text
    assert empty.text.count("<title>错误：") == 1
    long_text = "盲道被占" * 600
    too_long = client.post("/chat", data={"csrf": token, "text": long_text, "action": "send"})
    assert too_long.status_code == 422 and "消息太长了（2400 个字）" in too_long.text
    assert long_text in too_long.text  # kept in the box so it can be split, not lost
    json_empty = _send(client, "", token)
    assert json_empty.status_code == 422 and "请先输入" in json_empty.json()["error"]["message"]


def test_rapid_repeats_are_refused_with_a_clear_message(client: TestClient, db: Session) -> None:
    token = _csrf(client)
    assert _send(client, "我家的轮椅坏了", token).status_code == 200
    repeat = _send(client, "我家的轮椅坏了", token)
    assert repeat.status_code == 429 and "已经发送过同样的内容" in repeat.json()["error"]["message"]
    statuses = [_send(client, f"第{i}条消息", token).status_code for i in range(20)]
    assert 429 in statuses
    too_fast = _send(client, "还有一件事", token)
    assert too_fast.status_code == 429 and "太快" in too_fast.json()["error"]["message"]
    db.rollback()
    refused = db.exec(select(GrievanceRecord).where(GrievanceRecord.error_code == "rate_limited")).all()
    assert len(refused) >= 2  # refused input is still logged


def test_history_survives_and_a_new_conversation_starts_clean(client: TestClient) -> None:
    token = _csrf(client)
    _send(client, "第一条问题", token)
    assert "第一条问题" in client.get("/").text
    assert "第一条问题" in client.get("/transcript").text
    txt = client.get("/transcript.txt")
    assert txt.headers["content-disposition"].startswith("attachment") and "我：第一条问题" in txt.text
    assert "开始新对话" in client.get("/chat/new").text
    client.post("/chat/new", data={"csrf": token})
    page = client.get("/").text
    assert "第一条问题" not in page and "还没有消息" in page


def test_staff_replies_appear_labelled_and_switch_who_is_answering(client: TestClient, db: Session) -> None:
    token = _csrf(client)
    body = _send(client, "我需要人帮忙", token).json()
    sid = db.exec(select(GrievanceRecord.session_id).where(GrievanceRecord.id == body["log_id"])).one()
    conversation.post_staff_message(db, session_id=sid, text="您好，我是工作人员小李。", staff_name="小李")
    update = client.get(f"/chat/updates?after={body['last_id']}").json()
    assert [m["sender"] for m in update["messages"]] == ["staff"]
    assert update["messages"][0]["label"] == "工作人员（小李）"
    assert update["answering"] == "staff" and "小李" in update["answering_text"]
    assert "工作人员（小李）" in client.get("/").text


def test_quick_reply_payloads_are_shown_by_their_title() -> None:
    assert conversation.shown_text("/affirm", {}) == "是"
    assert conversation.shown_text("/choose_x", {"/choose_x": "康复"}) == "康复"
    assert conversation.shown_text("你好", {}) == "你好"


def test_prefs_switches_work_without_javascript(client: TestClient) -> None:
    token = _csrf(client)
    resp = client.post("/prefs", data={"csrf": token, "toggle": "contrast", "next": "/status"}, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/status#prefs"
    page = client.get("/status").text
    assert "theme-contrast" in page and 'value="contrast" aria-pressed="true"' in page
    client.post("/prefs", data={"csrf": token, "toggle": "large", "next": "https://evil.example/"})
    page = client.get("/").text
    assert 'class="text-large theme-contrast' in page
    off = client.post(
        "/prefs", data={"csrf": token, "toggle": "large", "next": "//evil.example"}, follow_redirects=False
    )
    assert off.headers["location"] == "/#prefs"


def test_easy_read_switch_rewrites_the_assistants_answers(client: TestClient) -> None:
    token = _csrf(client)
    _send(client, "请问办证要带什么", token)
    normal = client.get("/").text
    assert "智能助手暂时无法回复，工作人员会在三个工作日内联系您" in normal
    client.post("/prefs", data={"csrf": token, "toggle": "easy", "next": "/"})
    easy = client.get("/").text
    assert 'class="easy-read"' in easy or "easy-read" in easy
    assert "智能助手暂时无法回复。\n工作人员会在三个工作日内联系您。" in easy


# --- status page ----------------------------------------------------------------------


def _complaint(client: TestClient, token: str, **fields: str):
    data = {
        "csrf": token,
        "kind": "投诉",
        "category": "无障碍",
        "description": "小区门口的盲道被电动车占了好几个星期。",
        "district": "海淀区",
        "street": "中关村街道",
        "community": "科源社区",
        "occurred_at_text": "这个月一直都有",
        "wish": "希望清理盲道",
        "contact_name": "王女士",
        "contact_phone": "138 0013 8000",
        **fields,
    }
    return client.post("/complaint", data=data, follow_redirects=False)


def test_complaint_form_creates_the_same_work_order_as_the_assistant(client: TestClient, db: Session) -> None:
    token = _csrf(client, "/complaint")
    resp = _complaint(client, token, confidential="1")
    assert resp.status_code == 303
    number = re.search(r"number=(\d{12})", resp.headers["location"]).group(1)
    done = client.get(resp.headers["location"]).text
    assert "已经提交成功" in done and " ".join([number[:4], number[4:8], number[8:]]) in done
    db.rollback()
    ticket = db.exec(select(Ticket).where(Ticket.number == number)).one()
    assert ticket.kind.value == "投诉" and ticket.category == "无障碍" and ticket.channel == "web"
    assert ticket.contact_phone == "13800138000" and ticket.confidential is True
    assert "盲道" in ticket.description
    assert getattr(ticket, "district", "海淀区") == "海淀区"
    rec = db.exec(select(GrievanceRecord).where(GrievanceRecord.ticket_number == number)).one()
    assert rec.text.startswith("[网上表单] 投诉") and rec.outcome == "answered"


def test_complaint_form_errors_are_chinese_and_tied_to_their_fields(client: TestClient) -> None:
    token = _csrf(client, "/complaint")
    resp = _complaint(client, token, kind="", description="占", contact_phone="12ab")
    assert resp.status_code == 422
    page = resp.text
    assert "<title>错误：" in page and 'class="error-summary"' in page
    assert "请选择您要办理的事项" in page and "至少 5 个字" in page and "电话号码格式不对" in page
    assert 'id="description-error"' in page
    assert re.search(r'<textarea id="description"[^>]*aria-describedby="description-hint description-error"', page)
    assert re.search(r'<input id="contact_phone"[^>]*aria-invalid="true"', page)
    assert 'href="#kind-complaint"' in page
    assert "12ab" in page  # what was typed is kept
    missing = _complaint(client, token, contact_phone="")
    assert "请填写联系电话" in missing.text


def test_status_lookup_needs_number_and_last_four_digits(client: TestClient) -> None:
    token = _csrf(client, "/complaint")
    number = re.search(r"number=(\d{12})", _complaint(client, token).headers["location"]).group(1)
    found = client.post("/status", data={"csrf": token, "number": number, "phone_last4": "8000"})
    assert found.status_code == 200
    assert "受理" in found.text and "的进度" in found.text and "投诉" in found.text
    assert "13800138000" not in found.text and "王女士" not in found.text
    wrong = client.post("/status", data={"csrf": token, "number": number, "phone_last4": "1234"})
    assert wrong.status_code == 404 and "没有找到这个工单" in wrong.text
    bad = client.post("/status", data={"csrf": token, "number": "2026", "phone_last4": "12a"})
    assert bad.status_code == 422 and "12 位数字" in bad.text and "4 位数字" in bad.text
    assert re.search(r'<input id="number"[^>]*aria-describedby="number-hint number-error"', bad.text)


def test_status_lookups_are_limited(client: TestClient) -> None:
    token = _csrf(client, "/status")
    codes = [
        client.post("/status", data={"csrf": token, "number": "202601010001", "phone_last4": "0000"}).status_code
        for _ in range(12)
    ]
    assert codes[-1] == 429 and set(codes[:10]) == {404}
