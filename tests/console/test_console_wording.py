"""Console defects of issue 20 over HTTP: the login form's CSRF defence, the true time limit in the
footer, a 409 that says what others did, grouped work-order numbers and one status vocabulary."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api import vocabulary
from api.models.console import StaffSession
from api.models.ticket import Ticket, TicketStatus
from api.settings import get_settings
from tests.console.conftest import PASSWORD, Staff, login_form_token, make_user, new_ticket

BROWSER = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}


def _version(number: str, db: Session) -> int:
    db.rollback()
    return db.exec(select(Ticket).where(Ticket.number == number)).one().version


def test_login_form_carries_a_csrf_token_and_a_forged_login_is_refused(client: TestClient, db: Session) -> None:
    name = make_user(db, "operator")
    sessions_before = len(db.exec(select(StaffSession)).all())
    # Another site's form (a browser request without our page's token) signs nobody in, and is no 500.
    forged = client.post(
        "/staff/login",
        data={"username": name, "password": PASSWORD},
        headers={**BROWSER, "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert "页面已过期，请重新登录" in forged.text and 'class="error-summary"' in forged.text
    assert not re.search(r"(^|[ ,])hotline_staff=", forged.headers.get("set-cookie", ""))
    db.rollback()
    assert len(db.exec(select(StaffSession)).all()) == sessions_before
    # A wrong or stale token from a browser is refused the same way; the page offers a fresh one.
    stale = client.post(
        "/staff/login",
        data={"username": name, "password": PASSWORD, "login_csrf": "0" * 64},
        headers=BROWSER,
        follow_redirects=False,
    )
    assert stale.status_code == 403 and "页面已过期" in stale.text
    assert re.search(r'name="login_csrf" value="[0-9a-f]{64}"', stale.text)
    # The real form: GET sets the cookie and the token; POST with both signs in.
    browser = TestClient(client.app)
    token = login_form_token(browser)
    assert "hotline_staff_login" in browser.cookies
    ok = browser.post(
        "/staff/login",
        data={"username": name, "password": PASSWORD, "login_csrf": token},
        headers=BROWSER,
        follow_redirects=False,
    )
    assert ok.status_code == 303
    # The token belongs to its browser's cookie: copied into another browser it does not work.
    other = TestClient(client.app)
    other.get("/staff/login")
    copied = other.post(
        "/staff/login",
        data={"username": name, "password": PASSWORD, "login_csrf": token},
        headers=BROWSER,
        follow_redirects=False,
    )
    assert copied.status_code == 403


def test_staff_pages_state_the_true_time_limit(client: TestClient, staff_as: Callable[..., Staff]) -> None:
    idle = get_settings().staff_idle_minutes
    login_page = client.get("/staff/login").text
    tickets_page = staff_as("operator").get("/staff/tickets").text
    for page in (login_page, tickets_page):
        assert "没有时间限制" not in page
        assert f"{idle}分钟没有操作会自动退出登录" in page and "退出前2分钟会提醒您" in page
    assert 'data-warn="120000"' in tickets_page and 'role="alertdialog"' in tickets_page
    assert "本网站没有时间限制" in client.get("/status").text  # citizens keep theirs: it is true for them


def test_a_conflict_says_who_did_what_and_when(staff_as: Callable[..., Staff], department: int, db: Session) -> None:
    number = new_ticket()
    a = staff_as("operator", username="op-first")
    b = staff_as("operator", username="op-second")
    seen = _version(number, db)
    assert a.post(f"/staff/tickets/{number}/notes", {"note_text": "只是备注，不改版本"}).status_code == 303
    first = a.post(f"/staff/tickets/{number}/act", {"action": "dispatch", "version": seen, "department_id": department})
    assert first.status_code == 303
    accepted = a.post(f"/staff/tickets/{number}/act", {"action": "accept", "version": seen + 1, "note": "马上处理"})
    assert accepted.status_code == 303
    late = b.post(f"/staff/tickets/{number}/act", {"action": "extend", "version": seen, "reason": "需要核实"})
    assert late.status_code == 409
    box = re.search(r'<div class="error-summary"[^>]*id="conflict".*?</div>', late.text, re.S)
    assert box, late.text
    text = re.sub(r"<[^>]+>", "", box.group(0))
    assert "当前版本" not in text  # no bare version numbers
    lines = re.findall(r"<li>(.*?)</li>", box.group(0))
    assert len(lines) == 2, lines  # the two moves since the version read, not the note, not older history
    assert "op-first" in lines[0] and "派单" in lines[0] and "状态从“受理”变为“派单”" in lines[0]
    assert "签收" in lines[1] and "备注：马上处理" in lines[1]
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}（北京时间）", lines[0])
    assert _version(number, db) == seen + 2


def test_numbers_are_grouped_on_console_pages_and_accepted_grouped(
    staff_as: Callable[..., Staff], department: int
) -> None:
    number = new_ticket()
    grouped = vocabulary.format_work_order(number)
    sup = staff_as("supervisor")
    listing = sup.get("/staff/tickets").text
    assert f'href="/staff/tickets/{number}"' in listing  # links keep the plain digits
    assert f">{grouped}</a>" in listing
    page = sup.get(f"/staff/tickets/{number}").text
    assert grouped in re.search(r"<h1>(.*?)</h1>", page, re.S).group(1)  # type: ignore[union-attr]
    found = sup.client.get("/staff/tickets", params={"number": grouped}, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == f"/staff/tickets/{number}"
    bad = sup.client.get("/staff/tickets", params={"number": "2026 12"})
    assert bad.status_code == 400 and "工单号是12位数字" in bad.text
    assert re.search(r'<input id="number"[^>]*aria-invalid="true"', bad.text)
    assert sup.get(f"/staff/tickets/{grouped}").status_code == 200


def test_every_console_page_uses_the_vocabulary(staff_as: Callable[..., Staff], department: int) -> None:
    number = new_ticket(contact_preference="sms")
    label = vocabulary.STATUS_LABELS[TicketStatus.received]
    sup = staff_as("supervisor")
    listing = sup.get("/staff/tickets").text
    row = re.search(rf"<tr[^>]*>\s*<td><a href=\"/staff/tickets/{number}\".*?</tr>", listing, re.S)
    assert row and f"<td>{label}</td>" in row.group(0)
    page = sup.get(f"/staff/tickets/{number}").text
    assert f'<dd id="ticket-status">{label}</dd>' in page
    assert f"<strong>{vocabulary.CONTACT_PREFERENCE_LABELS['sms']}</strong>" in page  # type: ignore[index]
    queue = staff_as("operator").get("/staff").text
    assert f"<td>{label}</td>" in queue and f">{vocabulary.format_work_order(number)}</a>" in queue


def test_recorded_ratings_use_the_vocabulary(staff_as: Callable[..., Staff], department: int, db: Session) -> None:
    number = new_ticket()
    op = staff_as("operator")
    for action, extra in (
        ("dispatch", {"department_id": department}),
        ("accept", {}),
        ("start", {}),
        ("reply", {"public_reply": "已处理。"}),
        ("resolve", {}),
    ):
        resp = op.post(f"/staff/tickets/{number}/act", {"action": action, "version": _version(number, db), **extra})
        assert resp.status_code == 303, resp.text
    assert op.post(f"/staff/tickets/{number}/follow-up").status_code == 200
    page = op.get(f"/staff/tickets/{number}").text
    shown = dict(re.findall(r'<label for="score-(\d)">\d分：(.*?)</label>', page))
    assert {int(k): v for k, v in shown.items()} == vocabulary.SCORE_LABELS
