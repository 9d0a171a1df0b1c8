"""Administration for a new office and every day after: departments, staff accounts and the duty roster.

An office installs the hotline with one administrator account; everything else is set up
here, in the browser. While there is no department or no operator, the administration
page opens with the set-up steps, so the first sign-in leads straight to them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from accessibility import security
from api.deps import SessionDep
from api.errors import ApiError
from api.models.staff import DepartmentCreate, DepartmentUpdate, StaffRole, StaffUserCreate, StaffUserUpdate
from api.models.ticket import TicketCategory
from api.services import staff as staff_service
from staff_console import sessions
from staff_console.deps import FormDep, form_text, page
from staff_console.ui import ROLE_LABELS, render
from staff_console.views import notice_query, read_notice

router = APIRouter(prefix="/staff/admin")
AdminLogin = Annotated[sessions.ConsoleLogin, Depends(page("users"))]

# Chinese messages for the fields of the admin forms, by the reason pydantic gives.
FIELD_MESSAGES = {
    "code": "部门代码：2到32个小写英文字母、数字、- 或 _，以字母或数字开头。",
    "name": "部门名称：2到64个字。",
    "categories": "负责的类别：不超过200个字。",
    "areas": "负责的地区：不超过500个字。",
    "username": "用户名：3到32个小写英文字母、数字、. _ -，以字母或数字开头。",
    "full_name": "姓名：不超过64个字。",
    "password": "密码：10到128个字符。",
    "department_id": "请选择部门。",
    "role": "请选择角色。",
}


def _errors(exc: ValidationError) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in exc.errors():
        name = str(item["loc"][0]) if item.get("loc") else "form"
        found.setdefault(name, FIELD_MESSAGES.get(name, "请检查这一项。"))
    return found


def _back(url: str, notice: str) -> Response:
    return security.apply_security_headers(RedirectResponse(f"{url}?{notice_query(notice)}", status_code=303))


def setup_steps(db: Session) -> list[dict[str, Any]]:
    """What a new office still has to do before citizens can be served by a person."""
    departments = [d for d in staff_service.list_departments(db) if d.active]
    users = [u for u in staff_service.list_users(db, limit=1000) if u.active]
    operators = [u for u in users if u.role in (StaffRole.operator, StaffRole.supervisor)]
    return [
        {"text": "创建第一个承办部门（派单时选择它）", "done": bool(departments), "href": "#dept-form-title"},
        {"text": "创建第一个话务员账户（接手对话、处理工单）", "done": bool(operators), "href": "#user-form-title"},
        {
            "text": "把在岗的话务员排入值班表（智能助手据此告诉市民能否转人工）",
            "done": any(u.on_duty for u in operators),
            "href": "#roster-title",
        },
    ]


def _page(
    request: Request, db: Session, login: sessions.ConsoleLogin, status_code: int = 200, **extra: Any
) -> Response:
    departments = staff_service.list_departments(db)
    users = staff_service.list_users(db, limit=1000)
    db.rollback()
    names = {d.id: d.name for d in departments}
    ctx: dict[str, Any] = {
        "title": "系统管理 - 工作台",
        "steps": setup_steps(db),
        "departments": departments,
        "users": users,
        "dept_names": names,
        "dept_options": [("", "热线中心（不属于承办部门）")] + [(d.id, d.name) for d in departments if d.active],
        "role_options": [(r.value, ROLE_LABELS[r.value]) for r in StaffRole],
        "categories": [c.value for c in TicketCategory],
        "notice": read_notice(request),
        "dept_form": {},
        "user_form": {},
        "dept_errors": {},
        "user_errors": {},
        **extra,
    }
    ctx["errors"] = {**ctx["dept_errors"], **ctx["user_errors"]}
    return render(request, "staff/admin/index.html", ctx, login=login, status_code=status_code)


@router.get("")
def index(request: Request, db: SessionDep, login: AdminLogin) -> Response:
    return _page(request, db, login)


@router.post("/departments")
def create_department(request: Request, db: SessionDep, login: AdminLogin, form: FormDep) -> Response:
    fields = {k: form_text(form, k, 600) for k in ("code", "name", "categories", "areas")}
    fields["code"] = fields["code"].lower()
    try:
        data = DepartmentCreate.model_validate(fields)
        staff_service.create_department(db, data=data, actor=login.principal)
    except ValidationError as exc:
        return _page(request, db, login, 400, dept_form=fields, dept_errors=_errors(exc))
    except ApiError as exc:
        return _page(request, db, login, 400, dept_form=fields, dept_errors={"code": exc.message.split(" / ")[0]})
    return _back("/staff/admin", f"已创建部门“{data.name}”。")


@router.post("/departments/{department_id}")
def update_department(
    request: Request, department_id: int, db: SessionDep, login: AdminLogin, form: FormDep
) -> Response:
    fields: dict[str, Any] = {k: form_text(form, k, 600) for k in ("name", "categories", "areas")}
    fields["active"] = form_text(form, "active") != "0"
    try:
        data = DepartmentUpdate.model_validate(fields)
        dept = staff_service.update_department(db, department_id=department_id, data=data, actor=login.principal)
    except (ValidationError, ApiError) as exc:
        message = exc.message.split(" / ")[0] if isinstance(exc, ApiError) else "；".join(_errors(exc).values())
        return _back("/staff/admin", f"部门没有修改：{message}")
    return _back("/staff/admin", f"已保存部门“{dept.name}”。")


@router.post("/users")
def create_user(request: Request, db: SessionDep, login: AdminLogin, form: FormDep) -> Response:
    fields: dict[str, Any] = {k: form_text(form, k, 200) for k in ("username", "full_name", "role", "password")}
    dept = form_text(form, "department_id")
    fields["department_id"] = int(dept) if dept.isdigit() else None
    shown = {**fields, "password": ""}
    try:
        data = StaffUserCreate.model_validate(fields)
        user = staff_service.create_user(db, data=data, actor=login.principal)
    except ValidationError as exc:
        return _page(request, db, login, 400, user_form=shown, user_errors=_errors(exc))
    except ApiError as exc:
        field = "department_id" if exc.code == "department_not_found" else "username"
        return _page(request, db, login, 400, user_form=shown, user_errors={field: exc.message.split(" / ")[0]})
    role = ROLE_LABELS[user.role.value]
    return _back("/staff/admin", f"已创建账户“{user.username}”（{role}）。请把初始密码当面告诉本人。")


@router.post("/users/{username}")
def update_user(request: Request, username: str, db: SessionDep, login: AdminLogin, form: FormDep) -> Response:
    """One form per account row; the button pressed (`do`) says which change is meant."""
    action = form_text(form, "do")
    changes: dict[str, Any] = {}
    if action == "save":
        dept = form_text(form, "department_id")
        changes = {"role": form_text(form, "role"), "department_id": int(dept) if dept.isdigit() else None}
    elif action in ("disable", "enable"):
        changes = {"active": action == "enable"}
    elif action in ("duty_on", "duty_off"):
        changes = {"on_duty": action == "duty_on"}
    elif action == "password":
        changes = {"password": form_text(form, "password", 200), "unlock": True}
    else:
        return _back("/staff/admin", "没有识别出要做的修改，请重试。")
    try:
        data = StaffUserUpdate.model_validate(changes)
        staff_service.update_user(db, username=username[:64], data=data, actor=login.principal)
    except (ValidationError, ApiError) as exc:
        message = exc.message.split(" / ")[0] if isinstance(exc, ApiError) else "；".join(_errors(exc).values())
        return _back("/staff/admin", f"账户“{username[:64]}”没有修改：{message}")
    done = {
        "save": "已保存角色和部门",
        "disable": "已停用账户，它不能再登录",
        "enable": "已启用账户",
        "duty_on": "已排入值班表",
        "duty_off": "已移出值班表",
        "password": "已重设密码并解除锁定，原有登录已结束",
    }[action]
    return _back("/staff/admin", f"账户“{username[:64]}”：{done}。")
