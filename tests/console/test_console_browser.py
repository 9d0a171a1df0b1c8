"""The staff console in Debian's chromium: keyboard-only take-over of a live web chat, the live
queue, the idle warning, and axe-core WCAG 2.2 A/AA on every console page."""

from __future__ import annotations

import subprocess
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from tests.browser_support import AppServer, audit
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

PASSWORD = "console-test-pass-1"
DEPARTMENT_NAME = "测试区残联"


@pytest.fixture(scope="module")
def console_users(web_server: AppServer) -> dict[str, str]:
    """One account per role in the web server's database, made with the real CLI."""
    env = {**web_server.env, "HOTLINE_NEW_USER_PASSWORD": PASSWORD}
    users = {"operator": "console-op", "supervisor": "console-sup", "auditor": "console-aud"}
    for role, name in users.items():
        subprocess.run(
            [str(ROOT / ".venv/bin/hotline"), "user", "create", name, "--role", role, "--full-name", f"测试{role}"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    return users


def _tab_to(page: Any, selector: str, limit: int = 60) -> None:
    """Press Tab until the element matching `selector` has focus (keyboard only, no clicks)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} never got focus by Tab")


def _login_by_keyboard(page: Any, base: str, username: str) -> None:
    page.goto(base + "/staff/login")
    _tab_to(page, "#username")
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/staff")


def _citizen_asks_for_a_person(page: Any, base: str, text: str) -> None:
    page.goto(base + "/")
    page.focus("#chat-text")
    page.keyboard.insert_text(text)
    page.keyboard.press("Enter")
    page.wait_for_selector(".answering-waiting", timeout=30000)


def test_keyboard_take_over_of_a_live_web_chat(
    web_server: AppServer, console_users: dict[str, str], context_factory: Any, axe: Any
) -> None:
    base = web_server.url
    staff = context_factory().new_page()
    _login_by_keyboard(staff, base, console_users["operator"])
    audit(axe, staff, "console-queue")

    citizen = context_factory().new_page()
    _citizen_asks_for_a_person(citizen, base, "我看不清屏幕，想请工作人员帮我查补贴")

    # The queue updates without a reload and says so to screen readers.
    staff.wait_for_selector("#queue-lists a[href^='/staff/conversations/']", timeout=20000)
    staff.wait_for_function("() => document.getElementById('queue-news').textContent.includes('新的转人工对话')")
    audit(axe, staff, "console-queue-live")

    _tab_to(staff, "#queue-lists a[href^='/staff/conversations/']")
    staff.keyboard.press("Enter")
    staff.wait_for_selector("#take-over")
    assert "我看不清屏幕" in staff.locator(".transcript").inner_text()
    audit(axe, staff, "console-conversation")
    _tab_to(staff, "#take-over")
    staff.keyboard.press("Enter")
    staff.wait_for_selector("#send-reply")
    assert "您已接手" in staff.locator("#holder-state").inner_text()
    audit(axe, staff, "console-conversation-held")

    _tab_to(staff, "#text")
    staff.keyboard.type("您好，我是话务员，我来帮您查补贴。")
    _tab_to(staff, "#send-reply")
    staff.keyboard.press("Enter")
    staff.wait_for_selector(".notice")
    citizen.wait_for_function(  # shown on the citizen's page, no reload (after the take-over note)
        "t => [...document.querySelectorAll('.msg-staff')].some(m => m.textContent.includes(t))",
        arg="我来帮您查补贴",
        timeout=20000,
    )

    _tab_to(staff, "#release")
    staff.keyboard.press("Enter")
    staff.wait_for_selector("#take-over")
    citizen.wait_for_function(
        "() => [...document.querySelectorAll('.msg-system')].some(m => m.textContent.includes('智能助手继续'))",
        timeout=20000,
    )


def test_idle_warning_can_be_extended_by_keyboard(
    web_server: AppServer, console_users: dict[str, str], context_factory: Any, axe: Any
) -> None:
    page = context_factory().new_page()
    page.clock.install()
    _login_by_keyboard(page, web_server.url, console_users["operator"])
    page.goto(web_server.url + "/staff/tickets")
    focus_before = "status"
    page.focus("#" + focus_before)
    page.clock.fast_forward("18:30")  # the default idle limit is 20 minutes; the warning comes 2 minutes ahead
    page.wait_for_selector("#idle-warning:not([hidden])")
    assert page.evaluate("document.activeElement.id") == "idle-extend"
    audit(axe, page, "console-idle-warning")
    page.keyboard.press("Enter")
    page.wait_for_selector("#idle-warning", state="hidden")
    assert page.evaluate("document.activeElement.id") == focus_before


def test_every_console_page_passes_axe(
    web_server: AppServer, console_users: dict[str, str], context_factory: Any, axe: Any
) -> None:
    base = web_server.url
    # A request the assistant could not take (it is down in this fixture) becomes a work order.
    filed = httpx.post(
        base + "/api/chat/messages", json={"session_id": "web-axe-ticket", "text": "盲道被占了", "channel": "web"}
    )
    assert filed.json()["ticket_number"]
    page = context_factory().new_page()
    page.goto(base + "/staff/login")
    audit(axe, page, "console-login")
    page.fill("#username", "nobody")
    page.fill("#password", "wrong-password")
    page.keyboard.press("Enter")
    page.wait_for_selector(".error-summary")
    audit(axe, page, "console-login-error")

    _login_by_keyboard(page, base, console_users["supervisor"])
    page.goto(base + "/staff/tickets")
    audit(axe, page, "console-tickets")
    page.goto(base + "/staff/tickets/" + filed.json()["ticket_number"])
    page.wait_for_selector("#details-title")
    audit(axe, page, "console-ticket")
    page.goto(base + "/staff/oversight")
    audit(axe, page, "console-oversight")
    page.goto(base + "/staff/audit?verify=1")
    page.wait_for_selector("#verify-result")
    audit(axe, page, "console-audit")

    auditor = context_factory().new_page()
    auditor.goto(base + "/staff/login")
    auditor.fill("#username", console_users["auditor"])
    auditor.fill("#password", PASSWORD)
    auditor.keyboard.press("Enter")
    auditor.wait_for_url("**/staff/tickets")
    auditor.goto(base + "/staff")
    assert "不能使用此页面" in auditor.title()
    audit(axe, auditor, "console-forbidden")


def test_work_order_loop_to_follow_up_and_reopen(
    web_server: AppServer, console_users: dict[str, str], context_factory: Any, axe: Any
) -> None:
    base = web_server.url
    env = {**web_server.env, "HOTLINE_NEW_USER_PASSWORD": PASSWORD}
    subprocess.run(
        [str(ROOT / ".venv/bin/hotline"), "user", "create", "console-admin", "--role", "admin"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    token = httpx.post(base + "/api/auth/token", data={"username": "console-admin", "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    httpx.post(base + "/api/departments", json={"code": "test-dpf", "name": DEPARTMENT_NAME}, headers=headers)
    filed = httpx.post(
        base + "/api/chat/messages",
        json={"session_id": "web-loop-ticket", "text": "我家门口的盲道被占了", "channel": "web"},
    ).json()
    number = filed["ticket_number"]

    staff = context_factory().new_page()
    _login_by_keyboard(staff, base, console_users["operator"])
    staff.goto(f"{base}/staff/tickets/{number}")

    def act(action: str) -> None:
        staff.click(f"#do-{action}")
        staff.wait_for_selector(".notice")

    staff.select_option("#dispatch-department_id", label=DEPARTMENT_NAME)
    act("dispatch")
    act("accept")
    act("start")
    staff.fill("#reply-public_reply", "已联系物业清理盲道。")
    act("reply")
    act("resolve")
    assert staff.locator("#ticket-status").inner_text() == "办结"
    staff.click("#do-follow-up")
    staff.wait_for_selector("a[href*='/feedback/']")
    assert staff.locator("#ticket-status").inner_text() == "回访"
    audit(axe, staff, "console-ticket-follow-up")
    link = staff.locator("a[href*='/feedback/']").first.get_attribute("href")
    assert link

    citizen = context_factory().new_page()
    citizen.goto(base + urlparse(link).path)  # the link names the public address; this server is on a test port
    citizen.check("#score-2")
    citizen.fill("#comment", "盲道又被占了")
    with citizen.expect_navigation():
        citizen.click("main button[type=submit]")
    assert "重新办理" in citizen.locator("main").inner_text() or "重办" in citizen.locator("main").inner_text()

    staff.goto(f"{base}/staff/tickets/{number}")
    assert staff.locator("#ticket-status").inner_text() == "重办"
    assert "盲道又被占了" in staff.locator("table").last.inner_text()
