"""Work orders in the console: the list, one order's page, its moves through the 12345 loop, notes, follow-up."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from accessibility import security
from api import vocabulary
from api.deps import SessionDep, SettingsDep
from api.errors import ApiError
from api.models.ticket import (
    OPEN_STATUSES,
    STATUS_LABELS,
    TicketKind,
    TicketNoteCreate,
    TicketStatus,
    TransitionAction,
    TransitionCreate,
)
from api.services import access, deadline_watch, dispatch, follow_up, outbox, staff
from api.services.grievance_log import utcnow
from api.workorders import lifecycle, queries, workflow
from staff_console import sessions
from staff_console.deps import FormDep, form_text, page
from staff_console.ui import china_time, render
from staff_console.views import ACTORS, CHANNELS, notice_query, read_notice, time_left

router = APIRouter(prefix="/staff/tickets")
ReadLogin = Annotated[sessions.ConsoleLogin, Depends(page("ticket.read"))]
WriteLogin = Annotated[sessions.ConsoleLogin, Depends(page("ticket.write"))]
PAGE_SIZE = 50

# What each move asks for, beyond an optional note (the form fields the page shows).
ACTION_FIELDS: dict[TransitionAction, tuple[str, ...]] = {
    TransitionAction.dispatch: ("department_id", "assignee", "note"),
    TransitionAction.reject: ("reason",),
    TransitionAction.accept: ("note",),
    TransitionAction.start: ("note",),
    TransitionAction.reply: ("public_reply",),
    TransitionAction.resolve: ("note",),
    TransitionAction.close: ("note",),
    TransitionAction.reopen: ("reason",),
    TransitionAction.extend: ("reason", "working_days"),
}

EVENT_LABELS = lifecycle.EVENT_LABELS


def _redirect(url: str) -> Response:
    return security.apply_security_headers(RedirectResponse(url, status_code=303))


def _message(request: Request, login: sessions.ConsoleLogin, title: str, message: str, status: int) -> Response:
    ctx = {"title": title, "message": message, "back": "/staff/tickets", "back_label": "返回工单列表"}
    return render(request, "staff/message.html", ctx, login=login, status_code=status)


@router.get("")
def list_page(
    request: Request,
    db: SessionDep,
    login: ReadLogin,
    status: str = "",
    kind: str = "",
    overdue: str = "",
    page: str = "1",
    number: str = "",
) -> Response:
    flt = queries.TicketFilter()
    errors: dict[str, str] = {}
    if number.strip():
        found = vocabulary.parse_work_order(number[:40])
        if found:  # the grouped form read off a page or an SMS works as well as the plain digits
            return _redirect(f"/staff/tickets/{found}")
        errors["number"] = "工单号是12位数字（可以带空格），请检查后重新输入。"
    if status:
        try:
            flt.status = TicketStatus(status)
        except ValueError:
            errors["status"] = "没有这个状态，已显示全部。"
    if kind:
        try:
            flt.kind = TicketKind(kind)
        except ValueError:
            errors["kind"] = "没有这个类型，已显示全部。"
    if overdue == "1":
        flt.overdue = True
    flt.department_id = access.department_scope(login.principal)
    page_no = max(1, min(int(page), 10_000)) if page.isdigit() else 1
    now = utcnow()
    rows, total = queries.list_tickets(db, flt=flt, offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE, now=now)
    db.rollback()
    views = [
        {
            "view": queries.to_public(t, principal=login.principal, now=now),
            "left": time_left(t.deadline, now, open_=t.status in OPEN_STATUSES),
        }
        for t in rows
    ]
    ctx = {
        "title": "工单 - 工作台",
        "rows": views,
        "total": total,
        "page_no": page_no,
        "pages": max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
        "status": status if "status" not in errors else "",
        "kind": kind if "kind" not in errors else "",
        "overdue": overdue == "1",
        "statuses": STATUS_LABELS,
        "kinds": [k.value for k in TicketKind],
        "filter_errors": errors,
        "number": number[:40] if errors.get("number") else "",
        "channels": CHANNELS,
        "warnings": [
            {"alert": w, "left": time_left(w.deadline, now)} for w in deadline_watch.active(db, login.principal)
        ],
    }
    return render(request, "staff/tickets.html", ctx, login=login, status_code=400 if "number" in errors else 200)


def _ticket_page(request: Request, db: SessionDep, login: sessions.ConsoleLogin, number: str, **extra: Any) -> Response:
    try:
        ticket = queries.get_ticket(db, number=number)
    except ApiError:
        db.rollback()
        return _message(request, login, "没有找到工单", "没有找到这个工单，请核对工单号。", 404)
    if not access.sees_ticket(login.principal, ticket):
        db.rollback()
        return _message(request, login, "不能查看这个工单", "这个工单没有派给您的部门。", 403)
    now = utcnow()
    view = queries.to_public(ticket, principal=login.principal, now=now)
    events = queries.list_events(db, number=number)
    notes = queries.list_notes(db, number=number)
    follow_ups = follow_up.list_for_ticket(db, number=number)
    messages = outbox.for_ticket(db, ticket.id or 0)
    departments = [d for d in staff.list_departments(db) if d.active]
    db.rollback()
    writer = access.may(login.principal, "ticket.write")
    ctx = {
        "title": f"工单 {vocabulary.format_work_order(number)} - 工作台",
        "t": view,
        "left": time_left(ticket.deadline, now, open_=ticket.status in OPEN_STATUSES),
        "events": events,
        "notes": notes,
        "follow_ups": follow_ups,
        "messages": messages,
        "departments": departments,
        "department_names": {d.id: d.name for d in departments},
        "suggested": dispatch.suggest_department(
            departments,
            category=ticket.category,
            place=" ".join([ticket.location_text, ticket.district, ticket.street, ticket.community]),
        ),
        "channels": CHANNELS,
        "writer": writer,
        "actions": [a for a in lifecycle.allowed_actions(ticket.status) if a in ACTION_FIELDS] if writer else [],
        "labels": lifecycle.ACTION_LABELS,
        "event_labels": EVENT_LABELS,
        "status_labels": STATUS_LABELS,
        "score_labels": vocabulary.SCORE_LABELS,
        "fields": ACTION_FIELDS,
        "can_follow_up": writer and ticket.status is TicketStatus.resolved,
        "can_rate": writer and ticket.status is TicketStatus.follow_up,
        "conversation_link": ticket.session_id and access.may(login.principal, "conversation"),
        "notice": read_notice(request),
        "form": {},
        **extra,
    }
    status = 409 if extra.get("conflict") else (400 if extra.get("errors") else 200)
    return render(request, "staff/ticket.html", ctx, login=login, status_code=status)


def _plain(number: str) -> str:
    """The plain digits of a number in an address, also when it was typed grouped ('2026 1204 0001')."""
    return vocabulary.parse_work_order(number[:40]) or number[:12]


@router.get("/{number}")
def ticket_page(request: Request, number: str, db: SessionDep, login: ReadLogin) -> Response:
    return _ticket_page(request, db, login, _plain(number))


# The field a refused move is about, so that the error is shown at it and the summary links to it.
ERROR_FIELDS = {
    "department_required": "department_id",
    "department_not_found": "department_id",
    "reply_required": "public_reply",
    "assignee_not_found": "assignee",
    "extension_too_long": "working_days",
    "too_many_extensions": "working_days",
}
FIELD_PROBLEMS = {
    "department_id": "请选择承办部门。",
    "public_reply": "请填写给市民的答复（不超过规定字数）。",
    "reason": "请填写原因。",
    "note": "备注太长，请缩短。",
    "working_days": "请填写延长的工作日数（整数）。",
    "assignee": "承办人用户名不对，请核对。",
}


def _error_key(action: TransitionAction, field: str) -> str:
    """The id of the input the error is about (`dispatch-department_id`), else of the move's form."""
    return f"{action.value}-{field}" if field and field in ACTION_FIELDS[action] else f"{action.value}-form"


def _transition_data(form: FormData, action: TransitionAction) -> dict[str, Any]:
    data: dict[str, Any] = {"action": action, "version": form_text(form, "version") or None}
    for name in ACTION_FIELDS[action]:
        value = form_text(form, name)
        if value:
            data[name] = value
    return data


@router.post("/{number}/act")
def act(request: Request, number: str, db: SessionDep, login: WriteLogin, form: FormDep) -> Response:
    """One move of the loop; the page's hidden version makes two people's moves at once safe."""
    number = number[:12]
    try:
        action = TransitionAction(form_text(form, "action"))
    except ValueError:
        return _ticket_page(request, db, login, number, errors={"action": "请选择要做的操作。"})
    if action not in ACTION_FIELDS:
        return _ticket_page(request, db, login, number, errors={"action": "这个操作请用回访表单。"})
    raw = _transition_data(form, action)
    try:
        data = TransitionCreate.model_validate(raw)
    except ValidationError as exc:
        fields = [str(err["loc"][0]) for err in exc.errors() if err.get("loc")]
        field = next((f for f in fields if f in ACTION_FIELDS[action]), "")
        message = FIELD_PROBLEMS.get(field, "填写的内容不符合要求，请检查这一项。")
        return _ticket_page(request, db, login, number, errors={_error_key(action, field): message}, form=raw)
    try:
        workflow.transition(db, number=number, data=data, actor=login.principal)
    except ApiError as exc:
        db.rollback()
        if exc.code == "ticket_not_found":  # no such order, or not this department's: the page says which
            return _ticket_page(request, db, login, number)
        message = exc.message.split(" / ")[0]
        if exc.code == "stale_version":
            conflict = _conflict(db, number=number, given=data.version)
            return _ticket_page(request, db, login, number, conflict=conflict, form=raw)
        field = ERROR_FIELDS.get(exc.code, "")
        return _ticket_page(request, db, login, number, errors={_error_key(action, field): message}, form=raw)
    return _redirect(f"/staff/tickets/{number}?" + notice_query(f"已{lifecycle.ACTION_LABELS[action]}。"))


def _who(db: SessionDep, name: str) -> str:
    """'王芳（wangfang）' for a staff account, '智能助手' for the assistant, the name itself otherwise."""
    if name in ACTORS:
        return ACTORS[name]
    user = staff.get_user(db, username=name)
    return f"{user.full_name}（{name}）" if user is not None and user.full_name else name


def _conflict(db: SessionDep, *, number: str, given: int | None) -> dict[str, Any]:
    """What others did since the version the staff member read: who, when (China time), what."""
    ticket = queries.get_ticket(db, number=number)
    events = queries.list_events(db, number=number)
    newer = lifecycle.events_since(events, version=given or ticket.version, current=ticket.version)
    changes = [{"who": _who(db, e.actor), "when": china_time(e.at), "what": lifecycle.describe_event(e)} for e in newer]
    db.rollback()
    return {"given": given, "current": ticket.version, "changes": changes}


@router.post("/{number}/notes")
def add_note(request: Request, number: str, db: SessionDep, login: WriteLogin, form: FormDep) -> Response:
    number = number[:12]
    text = form_text(form, "note_text", limit=4001)
    if not text or len(text) > 4000:
        message = "请填写备注内容。" if not text else "备注太长，请不超过4000字。"
        return _ticket_page(request, db, login, number, errors={"note_text": message})
    try:
        workflow.add_note(db, number=number, data=TicketNoteCreate(text=text), actor=login.principal)
    except ApiError as exc:
        db.rollback()
        if exc.code == "ticket_not_found":
            return _ticket_page(request, db, login, number)
        return _ticket_page(request, db, login, number, errors={"note_text": exc.message.split(" / ")[0]})
    return _redirect(f"/staff/tickets/{number}?" + notice_query("备注已保存，市民看不到。") + "#notes-title")


@router.post("/{number}/follow-up")
async def request_follow_up(
    request: Request, number: str, db: SessionDep, settings: SettingsDep, login: WriteLogin, form: FormDep
) -> Response:
    """Ask the citizen for a rating: SMS (or the link to read out) and, with Twilio, a call with keypad rating
    (both written to the outbox with the request; the task worker sends them)."""
    number = number[:12]
    try:
        result = await run_in_threadpool(
            follow_up.request_follow_up, db, number=number, actor=login.principal, settings=settings
        )
    except ApiError as exc:
        db.rollback()
        if exc.code == "ticket_not_found":
            return await run_in_threadpool(_ticket_page, request, db, login, number)
        return await run_in_threadpool(
            _ticket_page, request, db, login, number, errors={"follow-up-form": exc.message.split(" / ")[0]}
        )
    return await run_in_threadpool(
        _ticket_page, request, db, login, number, notice=result.message, feedback_link=result.link
    )


@router.post("/{number}/rating")
def record_rating(
    request: Request, number: str, db: SessionDep, settings: SettingsDep, login: WriteLogin, form: FormDep
) -> Response:
    """A rating the citizen gave on a call-back, entered by staff."""
    number = number[:12]
    raw = form_text(form, "score")
    if raw not in ("1", "2", "3", "4", "5"):
        return _ticket_page(request, db, login, number, errors={"score": "请选择市民给出的评分（1到5分）。"})
    try:
        result = follow_up.record_rating(
            db,
            ticket=number,
            score=int(raw),
            comment=form_text(form, "comment", limit=500) or None,
            channel="voice",
            actor=login.principal,
            settings=settings,
        )
    except ApiError as exc:
        db.rollback()
        if exc.code == "ticket_not_found":
            return _ticket_page(request, db, login, number)
        return _ticket_page(request, db, login, number, errors={"score": exc.message.split(" / ")[0]})
    return _redirect(f"/staff/tickets/{number}?" + notice_query(result.message))
