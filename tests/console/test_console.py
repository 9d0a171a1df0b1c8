"""The staff console over HTTP against the real app and database (SQLite and PostgreSQL):
login, idle expiry, CSRF, the queue, taking over, the work-order loop, roles, conflicts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, select

from accessibility import conversation
from api.db import get_engine
from api.models.console import StaffSession
from api.models.ticket import Ticket
from api.services.grievance_log import utcnow
from tests.console.conftest import PASSWORD, Staff, make_user, new_ticket


def _chat(client: TestClient, sid: str, text_: str) -> dict:
    resp = client.post("/api/chat/messages", json={"session_id": sid, "text": text_, "channel": "web"})
    assert resp.status_code == 200, resp.text
    return resp.json()


def _status(number: str) -> str:
    with Session(get_engine()) as own:
        ticket = own.exec(select(Ticket).where(Ticket.number == number)).one()
        return ticket.status.value


def _version(number: str) -> int:
    with Session(get_engine()) as own:
        return own.exec(select(Ticket).where(Ticket.number == number)).one().version


def test_login_cookie_logout_and_csrf(client: TestClient, db: Session) -> None:
    name = make_user(db, "operator")
    resp = client.get("/staff", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/staff/login")

    wrong = client.post("/staff/login", data={"username": name, "password": "nope"}, follow_redirects=False)
    assert wrong.status_code == 400 and "用户名或密码不正确" in wrong.text

    ok = client.post("/staff/login", data={"username": name, "password": PASSWORD}, follow_redirects=False)
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/staff" in cookie
    page = client.get("/staff")
    assert page.status_code == 200 and "待办队列" in page.text

    assert client.post("/staff/logout", data={}, follow_redirects=False).status_code == 403
    csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
    assert csrf is not None
    bye = client.post("/staff/logout", data={"csrf": csrf.group(1)}, follow_redirects=False)
    assert bye.status_code == 303
    # The ended login is refused even if the old cookie is replayed.
    client.cookies.set("hotline_staff", ok.cookies["hotline_staff"], path="/staff")
    assert client.get("/staff", follow_redirects=False).status_code == 303


def test_idle_login_ends_and_can_be_extended(staff_as: Callable[..., Staff]) -> None:
    op = staff_as("operator")
    assert op.get("/staff").status_code == 200
    resp = op.post("/staff/session/extend", headers={"x-csrf-token": op.csrf})
    assert resp.status_code == 200 and resp.json()["expires_at_ms"] > 0
    with Session(get_engine()) as own:
        for row in own.exec(select(StaffSession).where(StaffSession.username == op.username)).all():
            row.expires_at = utcnow() - timedelta(seconds=1)
            own.add(row)
        own.commit()
    expired = op.client.get("/staff", follow_redirects=False)
    assert expired.status_code == 303 and "/staff/login" in expired.headers["location"]


def test_take_over_reply_and_hand_back(client: TestClient, staff_as: Callable[..., Staff]) -> None:
    sid = "web-" + "a" * 32
    first = _chat(client, sid, "我要找工作人员，电话13912345678")
    assert first["handoff"] is True

    op = staff_as("operator", username="op-wang")
    queue = op.get("/staff")
    assert f"/staff/conversations/{sid}" in queue.text and "助手暂时不可用" in queue.text

    other = staff_as("operator", username="op-li")
    assert op.post(f"/staff/conversations/{sid}/take").status_code == 303
    page = op.get(f"/staff/conversations/{sid}")
    assert "您已接手" in page.text and "13912345678" in page.text  # the hotline centre sees the number
    refused = other.post(f"/staff/conversations/{sid}/take")
    assert "op-wang" in other.get(refused.headers["location"]).text  # told who holds it

    assert op.post(f"/staff/conversations/{sid}/reply", {"text": ""}).status_code == 400
    assert op.post(f"/staff/conversations/{sid}/reply", {"text": "长" * 1001}).status_code == 400
    assert other.post(f"/staff/conversations/{sid}/reply", {"text": "插话"}).status_code == 303
    assert (
        op.post(f"/staff/conversations/{sid}/reply", {"text": "您好，我是工作人员，马上帮您处理。"}).status_code == 303
    )
    with Session(get_engine()) as own:
        seen = conversation.load(own, sid)
    staff_lines = [m.text for m in seen.messages if m.sender == "staff"]
    # the citizen was told a person took over; the other operator's words never reached the citizen
    assert staff_lines == ["工作人员op-wang已接手这段对话，马上为您服务。", "您好，我是工作人员，马上帮您处理。"]
    assert seen.answering == "staff"

    while_held = _chat(client, sid, "好的，我住在海淀区")  # the assistant is not asked, and no new work order
    assert while_held["replies"] == [] and while_held["handoff"] is True and while_held["ticket_number"] is None
    assert "我住在海淀区" in op.get(f"/staff/conversations/{sid}").text

    assert op.post(f"/staff/conversations/{sid}/release").status_code == 303
    with Session(get_engine()) as own:
        after = conversation.load(own, sid)
    assert after.answering == "bot" and after.messages[-1].sender == "system"
    assert f"/staff/conversations/{sid}" not in op.get("/staff").text

    _chat(client, sid, "还是要人工")  # a new request for a person puts it back in the queue
    assert f"/staff/conversations/{sid}" in op.get("/staff").text


def test_live_queue_stream_sends_the_lists(client: TestClient, staff_as: Callable[..., Staff]) -> None:
    sid = "web-" + "b" * 32
    _chat(client, sid, "转人工")
    op = staff_as("operator")
    op.get("/staff")
    with op.client.stream("GET", "/staff/queue/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = []
        for line in stream.iter_lines():
            lines.append(line)
            if line.startswith("data: {"):
                break
    payload = json.loads(lines[-1].removeprefix("data: "))
    assert f"/staff/conversations/{sid}" in payload["html"]
    assert "event: queue" in lines


def test_work_order_loop_with_follow_up_and_reopen(
    client: TestClient, staff_as: Callable[..., Staff], department: int
) -> None:
    number = new_ticket()
    op = staff_as("operator")
    page = op.get(f"/staff/tickets/{number}")
    assert page.status_code == 200 and "还剩" in page.text  # time left in working days

    def act(action: str, **fields: object) -> None:
        resp = op.post(f"/staff/tickets/{number}/act", {"action": action, "version": _version(number), **fields})
        assert resp.status_code == 303, resp.text

    bad = op.post(f"/staff/tickets/{number}/act", {"action": "reject", "version": _version(number)})
    assert bad.status_code == 400 and "不能" in bad.text  # received cannot be rejected; allowed moves named
    act("dispatch", department_id=department, note="请核实")
    act("accept")
    act("start")
    missing = op.post(f"/staff/tickets/{number}/act", {"action": "reply", "version": _version(number)})
    assert missing.status_code == 400
    act("reply", public_reply="已联系物业清理盲道。")
    act("resolve")
    assert op.post(f"/staff/tickets/{number}/notes", {"note_text": "内部：物业经理电话已记录"}).status_code == 303

    asked = op.post(f"/staff/tickets/{number}/follow-up")
    assert asked.status_code == 200 and _status(number) == "follow_up"
    link = re.search(r'href="(?:https?://[^/"]+)?(/feedback/[^"]+)"', asked.text)
    assert link is not None, "the feedback link is shown when no SMS could be sent"

    citizen = TestClient(client.app, raise_server_exceptions=False)
    form = citizen.get(link.group(1))
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert token is not None
    rated = citizen.post(link.group(1), data={"csrf": token.group(1), "score": "2", "comment": "盲道又被占了"})
    assert rated.status_code == 200
    assert _status(number) == "reopened"

    act("start")
    act("reply", public_reply="已安装隔离桩。")
    act("resolve")
    assert op.post(f"/staff/tickets/{number}/follow-up").status_code == 200
    assert op.post(f"/staff/tickets/{number}/rating", {"score": "9"}).status_code == 400
    assert op.post(f"/staff/tickets/{number}/rating", {"score": "5"}).status_code == 303
    assert _status(number) == "closed"
    final = op.get(f"/staff/tickets/{number}").text
    for step in ("派单", "签收", "答复", "办结", "回访", "重办", "关闭", "内部：物业经理电话已记录"):
        assert step in final


def test_two_operators_at_once_no_lost_update(staff_as: Callable[..., Staff], department: int) -> None:
    number = new_ticket()
    a, b = staff_as("operator", username="op-a"), staff_as("operator", username="op-b")
    seen = _version(number)  # both pages were loaded at this version
    first = a.post(f"/staff/tickets/{number}/act", {"action": "dispatch", "version": seen, "department_id": department})
    assert first.status_code == 303
    second = b.post(f"/staff/tickets/{number}/act", {"action": "extend", "version": seen, "reason": "需要核实"})
    assert second.status_code == 409 and "刚被别人修改过" in second.text
    assert _status(number) == "dispatched" and _version(number) == seen + 1


def test_each_role_sees_only_its_part(client: TestClient, staff_as: Callable[..., Staff], department: int) -> None:
    secret = new_ticket(confidential=True, contact_phone="13800138000", contact_name="王女士")
    other = new_ticket()
    op, sup, aud = staff_as("operator"), staff_as("supervisor"), staff_as("auditor")
    admin = staff_as("admin")
    dept = staff_as("operator", department_id=department, username="dept-op")
    assert op.post(f"/staff/tickets/{secret}/act", {"action": "dispatch", "version": 1, "department_id": department})

    assert op.get("/staff/audit").status_code == 403  # an operator cannot read the audit log
    assert op.get("/staff/oversight").status_code == 403
    assert aud.get("/staff").status_code == 403
    assert aud.get("/staff/audit").status_code == 200
    assert sup.get("/staff/audit").status_code == 200 and sup.get("/staff/oversight").status_code == 200
    assert admin.get("/staff/oversight").status_code == 200 and admin.get("/staff/tickets").status_code == 403

    audited = aud.get(f"/staff/tickets/{secret}")
    assert (
        audited.status_code == 200
        and "13800138000" not in audited.text
        and 'action="/staff/tickets' not in audited.text
    )
    assert aud.post(f"/staff/tickets/{secret}/notes", {"note_text": "x"}).status_code == 403

    assert dept.get("/staff").status_code == 403  # conversations stay with the hotline centre
    own = dept.get(f"/staff/tickets/{secret}")
    assert own.status_code == 200
    assert "13800138000" not in own.text and "王女士" not in own.text  # confidential: caller hidden
    assert dept.get(f"/staff/tickets/{other}").status_code == 403
    assert other not in dept.get("/staff/tickets").text
    assert "13800138000" in op.get(f"/staff/tickets/{secret}").text  # the hotline centre sees the caller


def test_oversight_page_and_csv(client: TestClient, staff_as: Callable[..., Staff]) -> None:
    _chat(client, "web-" + "c" * 32, "人工")
    new_ticket(kind="紧急", category="康复")
    sup = staff_as("supervisor")
    page = sup.get("/staff/oversight")
    assert page.status_code == 200
    assert page.text.count('<svg role="img"') == 5 and page.text.count("（数据表）") == 5
    assert "紧急" in page.text
    bad = sup.get("/staff/oversight?date_from=2026-13-40")
    assert bad.status_code == 200 and "日期格式" in bad.text
    csv = sup.get("/staff/oversight.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.startswith("\ufeff") and "紧急" in csv.text


def test_audit_view_verifies_and_finds_tampering(
    client: TestClient, staff_as: Callable[..., Staff], database_url: str
) -> None:
    sid = "web-" + "d" * 32
    _chat(client, sid, "我的身份证号是110101199003071234，电话13912345678")
    aud = staff_as("auditor")
    found = aud.get(f"/staff/audit?session_id={sid}")
    assert found.status_code == 200 and sid in found.text
    assert "13912345678" not in found.text and "110101199003071234" not in found.text  # masked for auditors
    assert "校验通过" in aud.get("/staff/audit?verify=1").text
    assert aud.get("/staff/audit?ticket_number=12").status_code == 400
    if not database_url.startswith("sqlite"):
        return  # on PostgreSQL a trigger refuses the UPDATE itself (tests/backoffice cover that)
    with Session(get_engine()) as own:
        own.execute(text("UPDATE grievance_log SET text = '改过的' WHERE session_id = :s"), {"s": sid})
        own.commit()
    assert "校验没有通过" in aud.get("/staff/audit?verify=1").text


def test_bad_input_gets_pages_not_errors(client: TestClient, staff_as: Callable[..., Staff]) -> None:
    op = staff_as("operator")
    listing = op.get("/staff/tickets?status=bogus&kind=x&page=abc")
    assert listing.status_code == 200 and "没有这个状态" in listing.text
    assert op.get("/staff/tickets/123").status_code == 404
    assert op.get("/staff/conversations/web-nothing").status_code == 404
    number = new_ticket()
    assert op.post(f"/staff/tickets/{number}/act", {"action": "fly"}).status_code == 400
    assert op.post(f"/staff/tickets/{number}/act", {"action": "dispatch", "version": "x"}).status_code == 400
    assert op.post(f"/staff/tickets/{number}/notes", {"note_text": "x" * 5000}).status_code == 400
    assert op.post("/staff/conversations/web-nothing/take").status_code == 303
    assert client.get("/staff/login?next=https://evil.example").status_code == 200
    evil = client.post(
        "/staff/login", data={"username": "x", "password": "y", "next": "//evil.example"}, follow_redirects=False
    )
    assert "evil" not in evil.headers.get("location", "")
    forged = op.client.get("/staff/tickets/" + number + "?notice=伪造的通知&sig=00")
    assert "伪造的通知" not in forged.text
