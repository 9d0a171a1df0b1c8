"""Administration in the console (real app and database): a new office's set-up guide, departments,
accounts, password reset, disabling, and the duty roster that decides whether a person is available."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlmodel import Session

from api.db import get_engine
from api.services import on_duty
from api.services import staff as staff_service
from tests.console.conftest import PASSWORD, Staff


def _notice(resp) -> str:  # type: ignore[no-untyped-def]
    found = re.search(r'<p class="notice" role="status">([^<]*)</p>', resp.text)
    return found.group(1) if found else ""


def test_admin_lands_on_set_up_and_builds_the_office(client: TestClient, staff_as: Callable[..., Staff]) -> None:
    admin = staff_as("admin")
    landing = admin.client.get("/staff/home", follow_redirects=True)
    assert landing.status_code == 200 and "开通热线的步骤" in landing.text
    assert "待完成" in landing.text and "不能使用此页面" not in landing.text

    made = admin.post(
        "/staff/admin/departments",
        {"code": "hp-dpf", "name": "和平区残联", "categories": "无障碍、就业", "areas": "和平区、南营门街道"},
    )
    assert made.status_code == 303
    page = admin.get(made.headers["location"])
    assert "已创建部门“和平区残联”" in _notice(page) and "无障碍、就业" in page.text

    with Session(get_engine()) as db:
        dept_id = next(d.id for d in staff_service.list_departments(db) if d.code == "hp-dpf")
    made = admin.post(
        "/staff/admin/users",
        {"username": "li.na", "full_name": "李娜", "role": "operator", "department_id": "", "password": PASSWORD},
    )
    assert made.status_code == 303
    listing = admin.get("/staff/admin").text
    assert "李娜（li.na）" in listing and "角色：话务员；部门：热线中心" in listing

    operator = Staff(TestClient(client.app, raise_server_exceptions=False), "li.na")
    assert operator.get("/staff").status_code == 200  # the new operator can work the queue at once

    # the department's own staff member, in the department
    assert (
        admin.post(
            "/staff/admin/users",
            {"username": "hp.wang", "role": "operator", "department_id": str(dept_id), "password": PASSWORD},
        ).status_code
        == 303
    )
    with Session(get_engine()) as db:
        user = staff_service.get_user(db, username="hp.wang")
        assert user is not None and user.department_id == dept_id


def test_admin_forms_mark_bad_fields(staff_as: Callable[..., Staff]) -> None:
    admin = staff_as("admin")
    bad = admin.post("/staff/admin/departments", {"code": "和平", "name": "x"})
    assert bad.status_code == 400
    assert 'href="#code"' in bad.text and 'href="#name"' in bad.text
    assert re.search(r'id="code"[^>]*aria-describedby="code-hint code-error"[^>]*aria-invalid="true"', bad.text)
    short = admin.post("/staff/admin/users", {"username": "ab", "role": "operator", "password": "short"})
    assert short.status_code == 400 and 'id="password-error"' in short.text and 'id="username-error"' in short.text
    assert 'value="short"' not in short.text  # a typed password is never sent back
    assert admin.post("/staff/admin/departments", {"code": "ok-dept", "name": "好部门"}, csrf=False).status_code == 403


def test_reset_disable_and_roster(client: TestClient, staff_as: Callable[..., Staff]) -> None:
    admin = staff_as("admin")
    operator = staff_as("operator", username="op.one")
    staff_as("operator", username="op.two")
    assert operator.get("/staff").status_code == 200

    now = datetime.now(UTC)
    with Session(get_engine()) as db:
        assert on_duty.signed_in_staff(db, now=now) == 2  # no roster kept: everyone signed in counts
    assert admin.post("/staff/admin/users/op.two", {"do": "duty_on"}).status_code == 303
    with Session(get_engine()) as db:
        assert on_duty.signed_in_staff(db, now=now) == 1  # only the one on the roster
    assert admin.post("/staff/admin/users/op.two", {"do": "duty_off"}).status_code == 303

    new_password = "另一个长期口令2026"
    assert admin.post("/staff/admin/users/op.one", {"do": "password", "password": new_password}).status_code == 303
    assert operator.get("/staff", follow_redirects=False).status_code == 303  # the old login ended
    fresh = TestClient(client.app, raise_server_exceptions=False)
    ok = fresh.post("/staff/login", data={"username": "op.one", "password": new_password}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/staff/home"

    assert admin.post("/staff/admin/users/op.one", {"do": "disable"}).status_code == 303
    again = TestClient(client.app, raise_server_exceptions=False)
    refused = again.post("/staff/login", data={"username": "op.one", "password": new_password})
    assert "/staff/home" not in str(refused.url) and refused.status_code == 400

    last = admin.post(f"/staff/admin/users/{admin.username}", {"do": "disable"})
    assert "没有修改" in _notice(admin.get(last.headers["location"]))  # the last administrator stays


def test_dispatch_proposes_the_department_and_marks_a_failed_move(staff_as: Callable[..., Staff]) -> None:
    from tests.console.conftest import new_ticket

    admin = staff_as("admin")
    admin.post("/staff/admin/departments", {"code": "other-dpf", "name": "别的区残联", "areas": "南开区"})
    admin.post(
        "/staff/admin/departments",
        {"code": "hd-dpf2", "name": "海淀区残联二", "categories": "无障碍", "areas": "海淀区"},
    )
    number = new_ticket(category="无障碍", district="海淀区")
    op = staff_as("operator")
    page = op.get(f"/staff/tickets/{number}").text
    assert "推荐：海淀区残联二（负责“无障碍”类，负责海淀区）" in page

    failed = op.post(f"/staff/tickets/{number}/act", {"action": "dispatch", "version": 1, "department_id": ""})
    assert failed.status_code == 400
    assert 'href="#dispatch-department_id"' in failed.text  # the summary links to a real field
    assert re.search(
        r'<select id="dispatch-department_id"[^>]*aria-invalid="true" aria-describedby="dispatch-department_id-error"',
        failed.text,
    )
    assert re.search(r'id="dispatch-department_id-error">.{0,60}承办部门', failed.text)


def test_oversight_shows_china_time_not_utc(staff_as: Callable[..., Staff]) -> None:
    """The unanswered questions' last time was printed as raw UTC ("2026-12-04T01:30:00+00:00")."""
    from api.clock import china_time
    from api.knowledge.unanswered import record_unanswered

    record = record_unanswered("导盲犬可以坐地铁吗", "web", 0.1)
    page = staff_as("supervisor").get("/staff/oversight").text
    assert "导盲犬可以坐地铁吗" in page
    assert china_time(record["time"]) in page and record["time"] not in page
