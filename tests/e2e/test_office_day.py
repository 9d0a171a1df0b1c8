"""A new office's first day in a real browser on a real stack (app, Rasa, action server, as `make run`
starts them): the admin sets up a department and an operator from the console; the operator takes over
a citizen's open chat (no reload), replies, and works the citizen's order to the end; staff answer a
question the documents could not, a supervisor approves it, and the citizen then gets it with its source.
axe-core checks every new page and state."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_support import audit
from tests.conftest import ROOT, start_stack

pytestmark = [pytest.mark.stack, pytest.mark.browser]

ADMIN, ADMIN_PASSWORD = "office-admin", "办公室管理员口令-2026"
OPERATOR_PASSWORD = "话务员李娜的口令-2026"
SUPERVISOR_PASSWORD = "值班主管的口令-2026"
QUESTION = "盲人按摩师资格证去哪里考"


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A stack of this module's own: its roster and accounts must not leak into other tests."""
    stack = start_stack(tmp_path_factory.mktemp("office"))
    try:
        env = {**stack.env(), "HOTLINE_ADMIN_USERNAME": ADMIN, "HOTLINE_ADMIN_PASSWORD": ADMIN_PASSWORD}
        subprocess.run(
            [str(ROOT / ".venv/bin/hotline"), "user", "ensure-admin"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        yield stack
    finally:
        stack.stop()


def _tab_to(page: Any, selector: str, limit: int = 80) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} never got focus by Tab")


def _login(page: Any, base: str, username: str, password: str) -> None:
    page.goto(base + "/staff/login")
    _tab_to(page, "#username")
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/staff/login" not in page.url, page.locator("main").inner_text()


def _say(citizen: Any, text: str) -> None:
    before = citizen.locator("#conversation .msg-bot").count()
    citizen.focus("#chat-text")
    citizen.keyboard.insert_text(text)
    citizen.keyboard.press("Enter")
    try:
        citizen.wait_for_function(
            "n => document.querySelectorAll('#conversation .msg-bot').length > n", arg=before, timeout=60000
        )
    except Exception:
        print(citizen.locator("main").inner_text())
        raise


def _submit(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def test_admin_sets_up_and_operator_serves_an_open_chat(office: Any, context_factory: Any, axe: Any) -> None:
    base = office.app_url

    # The citizen's page stays open from here to the end, never reloaded.
    citizen = context_factory().new_page()
    citizen.goto(base + "/")
    _say(citizen, "转人工")
    asked = citizen.locator("#conversation .msg-bot").last.inner_text()
    number = re.search(r"\d{12}", asked.replace(" ", ""))
    assert number, asked  # nobody is on duty yet: the request is kept as a work order
    number_text = number.group(0)
    assert citizen.get_attribute("#answering", "data-state") == "bot"

    admin = context_factory().new_page()
    _login(admin, base, ADMIN, ADMIN_PASSWORD)
    assert admin.url.endswith("/staff/admin")
    assert "开通热线的步骤" in admin.locator("main").inner_text()
    audit(axe, admin, "admin-set-up-guide")

    _submit(admin, "form[action='/staff/admin/departments'] button")  # empty: the errors are tied to their fields
    link = admin.locator(".error-summary a").first
    target = (link.get_attribute("href") or "").lstrip("#")
    assert admin.locator(f"#{target}").get_attribute("aria-invalid") == "true"
    assert f"{target}-error" in (admin.locator(f"#{target}").get_attribute("aria-describedby") or "")
    audit(axe, admin, "admin-form-errors")

    admin.fill("#code", "hp-dpf")
    admin.fill("#name", "和平区残联")
    admin.fill("#categories", "其他、无障碍")
    admin.fill("#areas", "和平区")
    _submit(admin, "form[action='/staff/admin/departments'] button")
    assert "已创建部门" in admin.locator(".notice").inner_text()
    admin.fill("#username", "li.na")
    admin.fill("#full_name", "李娜")
    admin.fill("#password", OPERATOR_PASSWORD)
    _submit(admin, "form[action='/staff/admin/users'] button")
    admin.fill("#username", "zhang.zg")
    admin.fill("#full_name", "张主管")
    admin.select_option("#role", "supervisor")
    admin.fill("#password", SUPERVISOR_PASSWORD)
    _submit(admin, "form[action='/staff/admin/users'] button")
    _submit(admin, "#roster-title ~ ul button:has-text('李娜')")
    assert "已排入值班表" in admin.locator(".notice").inner_text()
    audit(axe, admin, "admin-office-set-up")

    staff = context_factory().new_page()
    _login(staff, base, "li.na", OPERATOR_PASSWORD)
    assert staff.url.endswith("/staff")
    staff.goto(f"{base}/staff/tickets/{number_text}")
    _tab_to(staff, "a[href^='/staff/conversations/']")
    staff.keyboard.press("Enter")
    staff.wait_for_selector("#take-over")
    _tab_to(staff, "#take-over")
    staff.keyboard.press("Enter")
    staff.wait_for_selector("#send-reply")
    assert "智能助手暂停回答" in staff.locator(".notice").inner_text()  # Rasa was told (with its token)
    citizen.wait_for_selector("#answering[data-state='staff']", timeout=20000)  # told at once, no reload
    assert "李娜已接手" in citizen.locator("#conversation .msg-staff").last.inner_text()

    _tab_to(staff, "#text")
    staff.keyboard.type("您好，我是话务员李娜，您的事我来办。")
    _tab_to(staff, "#send-reply")
    staff.keyboard.press("Enter")
    staff.wait_for_selector(".notice")
    citizen.wait_for_function(
        "t => [...document.querySelectorAll('#conversation .msg-staff')].some(m => m.textContent.includes(t))",
        arg="您的事我来办",
        timeout=20000,
    )  # inside the role="log" region, so a screen reader announces it
    audit(axe, citizen, "citizen-chat-staff-reply")

    staff.goto(f"{base}/staff/tickets/{number_text}")
    assert "推荐：和平区残联" in staff.locator("#dispatch-form").inner_text()  # proposed from its categories
    _submit(staff, "#do-dispatch")
    for action in ("accept", "start"):
        _submit(staff, f"#do-{action}")
    _submit(staff, "#do-reply")  # no answer written: refused, and the field says why
    field = staff.locator("#reply-public_reply")
    assert field.get_attribute("aria-invalid") == "true"
    assert staff.locator(".error-summary a[href='#reply-public_reply']").count() == 1
    audit(axe, staff, "ticket-reply-error")
    staff.fill("#reply-public_reply", "已与您电话联系，补贴申请已转区残联办理。")
    _submit(staff, "#do-reply")
    _submit(staff, "#do-resolve")
    _submit(staff, "#do-follow-up")
    _submit(staff, "#do-close")
    assert staff.locator("#ticket-status").inner_text() == "关闭"
    audit(axe, staff, "ticket-closed")


def _account(stack: Any, username: str, role: str, password: str) -> None:
    env = {**stack.env(), "HOTLINE_NEW_USER_PASSWORD": password}
    subprocess.run(
        [str(ROOT / ".venv/bin/hotline"), "user", "create", username, "--role", role],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def test_staff_answer_reaches_the_citizen_with_its_source(office: Any, context_factory: Any, axe: Any) -> None:
    base = office.app_url
    _account(office, "kb.op", "operator", OPERATOR_PASSWORD)
    _account(office, "kb.sup", "supervisor", SUPERVISOR_PASSWORD)
    citizen = context_factory().new_page()
    citizen.goto(base + "/")
    _say(citizen, QUESTION)
    first = citizen.locator("#conversation .msg-bot").last.inner_text()
    assert "盲人医疗按摩管理办法" not in first

    staff = context_factory().new_page()
    _login(staff, base, "kb.op", OPERATOR_PASSWORD)
    staff.goto(base + "/staff/knowledge")
    audit(axe, staff, "knowledge-unanswered")
    staff.click(f"a:has-text('为这个问题写答复'):has-text('{QUESTION}')")
    assert staff.input_value("#questions") == QUESTION
    staff.fill("#answer", "盲人医疗按摩人员考试由省级残联和卫生健康部门组织，请向所在市残联就业服务机构报名。")
    staff.fill("#easy_read", "请到市残联就业服务机构报名。")
    staff.fill("#source_title", "盲人医疗按摩管理办法")
    staff.fill("#source_article", "第六条")
    _submit(staff, "#save-entry")
    assert "等待值班主管审核" in staff.locator(".notice").inner_text()
    audit(axe, staff, "knowledge-draft")

    supervisor = context_factory().new_page()
    _login(supervisor, base, "kb.sup", SUPERVISOR_PASSWORD)
    supervisor.goto(base + "/staff/knowledge")
    _tab_to(supervisor, "button[id^='approve-']")
    with supervisor.expect_navigation():
        supervisor.keyboard.press("Enter")
    assert "审核通过" in supervisor.locator(".notice").inner_text()
    audit(axe, supervisor, "knowledge-approved")

    _say(citizen, "那请问盲人按摩师资格证到底去哪里考呢")  # asked again, in other words
    answer = citizen.locator("#conversation .msg-bot").last.inner_text()
    assert "市残联就业服务机构报名" in answer and "《盲人医疗按摩管理办法》第六条" in answer, answer
