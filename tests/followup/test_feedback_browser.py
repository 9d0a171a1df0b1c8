"""The feedback page in Debian's chromium: keyboard only, no JavaScript, axe-core WCAG 2.2 AA in every state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session, select

from api.db import make_engine
from api.models.staff import Department
from api.models.ticket import Ticket, TicketCreate, TicketStatus, TransitionAction, TransitionCreate
from api.services import follow_up, sla
from api.services.audit import Principal
from api.settings import Settings
from api.workorders import creation, workflow
from tests.browser_support import AppServer, audit

pytestmark = pytest.mark.browser

SUPERVISOR = Principal(username="supervisor-0", role="supervisor")


@pytest.fixture
def ask(web_server: AppServer) -> Iterator[Any]:
    """ask() → (token, number) of a new work order of the running app, resolved and asked for a rating."""
    engine = make_engine(web_server.database_url)
    settings = Settings(data_dir=web_server.data_dir, database_url="", twilio_account_sid="", twilio_auth_token="")
    policy = sla.load_policy(settings.sla_policy_file)

    def make() -> tuple[str, str]:
        with Session(engine, expire_on_commit=False) as s:
            dept = s.exec(select(Department).where(Department.code == "fb-test")).first()
            if dept is None:
                dept = Department(code="fb-test", name="回访测试部门")
                s.add(dept)
                s.commit()
            data = TicketCreate(
                kind="求助", category="康复", description="轮椅坏了需要维修", contact_phone="13800138000"
            )
            number = creation.create_ticket(s, data=data, actor="test", policy=policy).number
            for action, extra in [
                ("dispatch", {"department_id": dept.id}),
                ("accept", {}),
                ("start", {}),
                ("reply", {"public_reply": "已安排上门维修轮椅。"}),
                ("resolve", {}),
            ]:
                data_ = TransitionCreate(action=TransitionAction(action), **extra)
                workflow.transition(s, number=number, data=data_, actor=SUPERVISOR, policy=policy)
            asked = follow_up.request_follow_up(s, number=number, actor=SUPERVISOR, settings=settings)
            return asked.token, number

    yield make
    engine.dispose()


def _status(web_server: AppServer, number: str) -> TicketStatus:
    engine = make_engine(web_server.database_url)
    try:
        with Session(engine) as s:
            return s.exec(select(Ticket).where(Ticket.number == number)).one().status
    finally:
        engine.dispose()


def test_keyboard_only_rating_with_an_error_first(
    web_server: AppServer, context_factory: Any, axe: Any, ask: Any
) -> None:
    token, number = ask()
    page = context_factory().new_page()
    page.goto(f"{web_server.url}/feedback/{token}")
    audit(axe, page, "feedback-form")

    page.get_by_role("button", name="提交评价").focus()
    page.keyboard.press("Enter")  # nothing chosen: the error summary takes focus and names the problem
    page.wait_for_selector(".error-summary")
    assert page.evaluate("document.activeElement.className").startswith("error-summary")
    assert "请选择一个评分" in page.locator(".error-summary").inner_text()
    assert page.title().startswith("错误：")
    audit(axe, page, "feedback-error")

    page.locator(".error-summary a").first.focus()
    page.keyboard.press("Enter")  # the link leads to the first choice, focused
    assert page.evaluate("document.activeElement.id") == "score-5"
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")  # radio group: arrows move and select
    assert page.locator("#score-4").is_checked()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "comment"
    page.keyboard.type("师傅很耐心")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=谢谢您的评价")
    assert "4分，满意" in page.locator("main").inner_text()
    audit(axe, page, "feedback-done")
    assert _status(web_server, number) is TicketStatus.closed


def test_works_without_javascript(web_server: AppServer, context_factory: Any, axe: Any, ask: Any) -> None:
    token, number = ask()
    page = context_factory(java_script_enabled=False).new_page()
    page.goto(f"{web_server.url}/feedback/{token}")
    page.locator("label[for=score-2]").click()
    page.fill("#comment", "维修后还是坏的")
    page.get_by_role("button", name="提交评价").click()
    page.wait_for_selector("text=重新办理")
    assert _status(web_server, number) is TicketStatus.reopened
    page.goto(f"{web_server.url}/feedback/{token}")
    assert "已经评价过了" in page.locator("main").inner_text()
    page.goto(f"{web_server.url}/feedback/{'z' * 32}")
    assert "没有找到这次评价" in page.locator("main").inner_text()
    audit_page = context_factory().new_page()
    audit_page.goto(f"{web_server.url}/feedback/{'z' * 32}")
    audit(axe, audit_page, "feedback-unknown")
