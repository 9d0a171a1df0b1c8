"""The citizen web pages: chat at `/` (with a no-JavaScript fallback), status, complaint form.

The chat page works as plain HTML forms first (POST /chat, redirect, re-render from
the grievance log); chat.js only enhances it (POST /chat/send, JSON) so that the
page never depends on JavaScript. Every turn goes through the chat gateway.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from accessibility import conversation, security, ui, workorders
from accessibility.ui import STATIC_DIR, templates
from api import vocabulary, wording
from api.db import new_session
from api.deps import SessionDep
from api.models.ticket import ContactPreference, TicketCategory, TicketCreate, TicketKind
from api.services import admission, gateway, grievance_log
from api.services.admission import field_limit, log_rejected
from api.settings import Settings, get_settings
from chinese_numbers.phones import LANDLINE_RE, MOBILE_RE

__all__ = ["STATIC_DIR", "router", "templates"]

router = APIRouter(include_in_schema=False)

# "其他" first: the form's default choice.
CATEGORIES = [TicketCategory.other.value] + [c.value for c in TicketCategory if c is not TicketCategory.other]
KINDS = [
    ("complaint", TicketKind.complaint.value, "对某件事或某个单位不满意"),
    ("help", TicketKind.help_request.value, "遇到困难，需要帮助"),
    ("suggestion", TicketKind.suggestion.value, "对我们的工作提意见"),
]
TRANSCRIPT_DISPOSITION = (
    "attachment; filename=\"transcript.txt\"; filename*=UTF-8''%E5%AF%B9%E8%AF%9D%E8%AE%B0%E5%BD%95.txt"
)
# A live stream ends after a while and the browser reconnects (from the last id), so that no
# connection is held for ever by a tab left open.
LIVE_STREAM_SECONDS = 300.0
LIVE_HEARTBEAT_SECONDS = 15.0
# What people type between a phone number's digits; the patterns are in chinese_numbers.phones.
PHONE_SEPARATORS = re.compile(r"[\s\-()（）\u3000]")
# How the complaint form asks to be contacted: value (api.models.ticket.ContactPreference), label, help.
_PREF = vocabulary.CONTACT_PREFERENCE_LABELS
CONTACT_CHOICES = [
    (ContactPreference.call.value, _PREF[ContactPreference.call], "给我打电话"),
    (ContactPreference.sms.value, _PREF[ContactPreference.sms], "给我发短信，不要打电话"),
    (ContactPreference.none.value, _PREF[ContactPreference.none], "不用联系我，我自己查进度"),
]

CHAT_ERRORS = wording.texts("web", "chat")


# --- helpers ----------------------------------------------------------------


def _guard(request: Request, name: str, *, limit: int, window: float, repeat: float) -> admission.FloodGuard:
    return admission.flood_guard(request, name, limit=limit, window=window, repeat=repeat)


def chat_guard(request: Request, settings: Settings) -> admission.FloodGuard:
    return _guard(
        request,
        "chat",
        limit=settings.chat_rate_limit,
        window=settings.chat_rate_window_seconds,
        repeat=settings.chat_repeat_seconds,
    )


def _refused(guard: admission.FloodGuard, sid: str, ip: str, text: str) -> str | None:
    """The session's verdict, then the address's (the text counts as a repeat per session only)."""
    return guard.check("sid:" + sid, text) or guard.check("ip:" + ip, "")


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _validate_text(text: str, settings: Settings) -> tuple[str | None, str | None]:
    """(error code, Chinese message) or (None, None)."""
    problem = admission.text_problem(text, limit=settings.max_message_chars)
    if problem is None:
        return None, None
    return problem, CHAT_ERRORS[problem].format(n=len(text), limit=settings.max_message_chars)


def _log_rejected(db: Session, sid: str, text: str, code: str) -> None:
    log_rejected(db, channel="web", session_id=sid, text=text, code=code)


async def _chat_turn(
    request: Request, db: Session, sid: str, text: str, settings: Settings, turn_id: object = None
) -> tuple[gateway.ChatAnswer | None, str | None, str | None, int]:
    """Validate, rate-limit and pass one web turn to the gateway: (answer, code, message, status).

    A turn sent again under its id (the page retried after a lost connection, a form posted twice) was
    admitted the first time: it goes straight to the gateway, which answers it once.
    """
    turn = gateway.ChatTurn(
        session_id=sid,
        text=text.strip(),
        channel="web",
        caller=sid,
        turn_id=turn_id if gateway.valid_turn_id(turn_id) else None,
    )
    earlier = await gateway.earlier_copy(db, session_id=sid, turn_id=turn.turn_id)
    if earlier is not None:
        answer = await gateway.handle_turn(
            db, request.app.state.rasa, turn, caller_salt=settings.effective_caller_salt, earlier=earlier
        )
        return answer, None, None, 200
    code, message = _validate_text(text, settings)
    if code:
        await run_in_threadpool(_log_rejected, db, sid, text, code)
        return None, code, message, 422
    why = await run_in_threadpool(chat_guard(request, settings).check, "sid:" + sid, text.strip())
    if why is None:
        per_ip = _guard(
            request, "chat_ip", limit=settings.chat_rate_limit * 3, window=settings.chat_rate_window_seconds, repeat=0
        )
        why = await run_in_threadpool(per_ip.check, "ip:" + _client_ip(request), "")
    if why:
        await run_in_threadpool(_log_rejected, db, sid, text, "rate_limited")
        return None, "rate_limited", security.FLOOD_MESSAGES[why], 429
    answer = await gateway.handle_turn(db, request.app.state.rasa, turn, caller_salt=settings.effective_caller_salt)
    return answer, None, None, 200


def _chat_page(
    request: Request, db: Session, *, errors: dict[str, str] | None = None, value: str = "", status_code: int = 200
) -> Response:
    sid = ui.session_id(request)
    easy = "easy" in security.read_prefs(request)
    conv = conversation.load(db, sid, easy=easy)
    return ui.render(
        request,
        "chat.html",
        {
            "title": "在线咨询 · 残联服务热线",
            "conv": conv,
            "errors": errors or {},
            "value": value,
            "max_chars": get_settings().max_message_chars,
            "turn_id": uuid.uuid4().hex,  # a form posted twice is one turn
        },
        status_code=status_code,
    )


def _forbidden(request: Request) -> Response:
    return ui.render(
        request,
        "message.html",
        {"title": "页面已失效", "heading": "页面已失效", "text": CHAT_ERRORS["csrf"]},
        status_code=403,
    )


def _json_conversation(
    request: Request, db: Session, sid: str, after: int, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    easy = "easy" in security.read_prefs(request)
    conv = conversation.load(db, sid, easy=easy, after=after)
    return {
        "messages": [m.as_json() for m in conv.messages],
        "answering": conv.answering,
        "answering_text": conv.answering_text,
        "last_id": conv.last_id,
        **(extra or {}),
    }


def _safe_next(value: str) -> str:
    """Only local paths: never redirect a citizen off the site."""
    parts = urlsplit(value or "/")
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return "/"
    return parts.path


def _redirect(request: Request, url: str) -> Response:
    return ui.finish(request, RedirectResponse(url, status_code=303))


# --- chat ---------------------------------------------------------------------


@router.get("/")
def chat_page(request: Request, db: SessionDep) -> Response:
    return _chat_page(request, db)


@router.post("/chat")
async def chat_form(request: Request, db: SessionDep) -> Response:
    """The no-JavaScript path: post, then redirect to the re-rendered conversation."""
    form = await request.form()
    if not ui.check_csrf(request, str(form.get("csrf") or "")):
        return _forbidden(request)
    sid = ui.session_id(request)
    settings = get_settings()
    text = "" if form.get("action") == "human" else str(form.get("text") or "")
    if form.get("action") == "human":
        text = conversation.HUMAN_TEXT
    _answer, code, message, status = await _chat_turn(request, db, sid, text, settings, form.get("turn_id"))
    if code:
        errors = {"text": message or ""}
        return await run_in_threadpool(_chat_page, request, db, errors=errors, value=text, status_code=status)
    return _redirect(request, "/#latest")


@router.post("/chat/send")
async def chat_send(request: Request, db: SessionDep) -> Response:
    """The JavaScript path: one turn, answered with every message after the client's last one."""
    if not ui.check_csrf(request, request.headers.get(security.CSRF_HEADER)):
        return JSONResponse({"error": {"code": "csrf", "message": CHAT_ERRORS["csrf"]}}, status_code=403)
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("text", ""), str):
        return JSONResponse({"error": {"code": "invalid", "message": "发送的内容格式不对，请刷新页面。"}}, 400)
    sid = ui.session_id(request)
    after_raw = body.get("after")
    after = after_raw if isinstance(after_raw, int) and not isinstance(after_raw, bool) else 0
    answer, code, message, status = await _chat_turn(
        request, db, sid, body.get("text", ""), get_settings(), body.get("turn_id")
    )
    if code or answer is None:
        resp: Response = JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
    else:
        extra = {"log_id": answer.log_id, "handoff": answer.handoff}
        resp = JSONResponse(await run_in_threadpool(_json_conversation, request, db, sid, after, extra))
    return ui.finish(request, resp)


@router.get("/chat/updates")
def chat_updates(request: Request, db: SessionDep, after: int = 0) -> Response:
    """New messages since `after`: the fallback when the live stream cannot be held open."""
    sid = ui.session_id(request)
    return ui.finish(request, JSONResponse(_json_conversation(request, db, sid, max(after, 0))))


@router.get("/chat/events")
async def chat_events(request: Request, after: int = 0) -> Response:
    """Server-sent events: every new message of this conversation, in every state of the page.

    A staff member can take over at any moment, so the page listens all the time, not only
    while it waits for a person. The event id is the last message id, so a reconnection or a
    reload (the page carries the last id it drew) resumes exactly where it left off. Heartbeat
    comments and `X-Accel-Buffering: no` keep the stream flowing through proxies.
    """
    sid = security.read_session_id(request, get_settings().effective_secret_key)
    if sid is None:
        return ui.finish(request, Response(status_code=204))
    settings = get_settings()
    resume = request.headers.get("last-event-id", "")
    start = int(resume) if resume.isdigit() else max(after, 0)

    def _read(since: int) -> dict[str, Any]:
        with new_session() as db:
            return _json_conversation(request, db, sid, since)

    async def stream() -> AsyncIterator[str]:
        since, quiet, lived, state = start, 0.0, 0.0, None
        yield "retry: 3000\n\n"
        while lived < LIVE_STREAM_SECONDS and not await request.is_disconnected():
            data = await run_in_threadpool(_read, since)
            if data["messages"] or data["answering"] != state:
                since = max(since, data["last_id"] or 0)
                state = data["answering"]
                yield f"id: {since}\nevent: chat\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
                quiet = 0.0
            elif quiet >= LIVE_HEARTBEAT_SECONDS:
                yield ": still here\n\n"
                quiet = 0.0
            await asyncio.sleep(settings.console_poll_seconds)
            quiet += settings.console_poll_seconds
            lived += settings.console_poll_seconds

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return ui.finish(request, StreamingResponse(stream(), media_type="text/event-stream", headers=headers))


@router.get("/chat/new")
async def new_conversation_page(request: Request) -> Response:
    return ui.render(request, "new_conversation.html", {"title": "开始新对话 · 残联服务热线"})


@router.post("/chat/new")
async def new_conversation(request: Request) -> Response:
    form = await request.form()
    if not ui.check_csrf(request, str(form.get("csrf") or "")):
        return _forbidden(request)
    sid = security.new_session_id()
    resp = RedirectResponse("/", status_code=303)
    security.set_session_cookie(resp, request, sid, get_settings().effective_secret_key)
    return security.apply_security_headers(resp)


@router.get("/transcript")
def transcript(request: Request, db: SessionDep) -> Response:
    sid = ui.session_id(request)
    conv = conversation.load(db, sid, easy="easy" in security.read_prefs(request))
    return ui.render(request, "transcript.html", {"title": "对话记录 · 残联服务热线", "conv": conv})


@router.get("/transcript.txt")
def transcript_text(request: Request, db: SessionDep) -> Response:
    sid = ui.session_id(request)
    conv = conversation.load(db, sid, easy="easy" in security.read_prefs(request))
    lines = ["残疾人联合会服务热线 · 在线咨询对话记录", ""]
    lines += [f"[{m.time}] {m.label}：{m.text}" for m in conv.messages] or ["（还没有对话内容）"]
    resp = PlainTextResponse(
        "\r\n".join(lines) + "\r\n",
        headers={"Content-Disposition": TRANSCRIPT_DISPOSITION},
    )
    return ui.finish(request, resp)


# --- display preferences ---------------------------------------------------------


@router.post("/prefs")
async def toggle_pref(request: Request, db: SessionDep) -> Response:
    """Large text, high contrast, easy read: a cookie, so they also apply without JavaScript."""
    form = await request.form()
    if not ui.check_csrf(request, str(form.get("csrf") or "")):
        return _forbidden(request)
    prefs = security.read_prefs(request)
    name = str(form.get("toggle") or "")
    turned_on = False
    if name in security.PREFS:
        turned_on = name not in prefs
        prefs ^= {name}
    target = _safe_next(str(form.get("next") or "/"))
    if name == "easy" and turned_on and target == "/" and await request.app.state.rasa.health() is None:
        # Ask the assistant itself for easy-read answers (sets its reply_style slot).
        sid = ui.session_id(request)
        settings = get_settings()
        await gateway.handle_turn(
            db,
            request.app.state.rasa,
            gateway.ChatTurn(session_id=sid, text=conversation.EASY_READ_PAYLOAD, channel="web", caller=sid),
            caller_salt=settings.effective_caller_salt,
        )
    if "application/json" in request.headers.get("accept", ""):
        resp: Response = JSONResponse({"prefs": sorted(prefs)})
    else:
        resp = RedirectResponse(target + "#prefs", status_code=303)
    security.set_prefs_cookie(resp, request, prefs)
    return ui.finish(request, resp)


# --- work-order status --------------------------------------------------------------


def _status_page(request: Request, **ctx: Any) -> Response:
    base = {"title": "查询工单进度 · 残联服务热线", "ticket": None, "number_value": "", "last4_value": ""}
    status_code = ctx.pop("status_code", 200)
    return ui.render(request, "status.html", {**base, **ctx}, status_code=status_code)


def _lookup(db: Session, number: str, last4: str) -> Any:
    """The work order for the status page (worker thread: database work), loaded before the session ends."""
    ticket = workorders.lookup(db, number=number, phone_last4=last4)
    db.rollback()
    return ticket


@router.get("/status")
async def status_form(request: Request) -> Response:
    return _status_page(request)


@router.post("/status")
async def status_lookup(request: Request, db: SessionDep) -> Response:
    form = await request.form()
    if not ui.check_csrf(request, str(form.get("csrf") or "")):
        return _forbidden(request)
    number_value = str(form.get("number") or "")[:40]
    last4_value = str(form.get("phone_last4") or "")[:20]
    number, last4 = workorders.digits(number_value), workorders.digits(last4_value)
    errors: dict[str, str] = {}
    if not number_value.strip():
        errors["number"] = "请输入工单号。"
    elif len(number) != 12 or re.search(r"[^\d\s-]", number_value):
        errors["number"] = "工单号是 12 位数字，请检查后重新输入。"
    if not last4_value.strip():
        errors["phone_last4"] = "请输入联系电话的后四位数字。"
    elif len(last4) != 4 or re.search(r"[^\d\s]", last4_value):
        errors["phone_last4"] = "请输入 4 位数字，就是联系电话的最后四个数字。"
    ctx: dict[str, Any] = {"number_value": number_value, "last4_value": last4_value}
    if errors:
        return _status_page(request, errors=errors, status_code=422, **ctx)
    sid = ui.session_id(request)
    guard = _guard(request, "status", limit=10, window=300.0, repeat=0)
    if await run_in_threadpool(_refused, guard, sid, _client_ip(request), ""):
        errors["form"] = "查询次数太多了，请过几分钟再试。如果着急，请在线咨询并按“转人工”。"
        return _status_page(request, errors=errors, status_code=429, **ctx)
    ticket = await run_in_threadpool(_lookup, db, number, last4)
    if ticket is None:
        errors["form"] = "没有找到这个工单。请核对工单号和电话后四位；如果还是查不到，请在线咨询并按“转人工”。"
        return _status_page(request, errors=errors, status_code=404, **ctx)
    status = workorders.status_text(ticket)
    kind = ticket.kind.value if isinstance(ticket.kind, TicketKind) else str(ticket.kind)
    return _status_page(
        request,
        ticket=ticket,
        number_grouped=workorders.group_digits(ticket.number),
        status=status,
        status_explained=workorders.status_explained("web", status),
        kind=kind,
        created=workorders.china_date(ticket.created_at),
        deadline=workorders.deadline_text(ticket),
        reply=workorders.public_reply(ticket),
    )


# --- complaint form --------------------------------------------------------------------

# Limits of the fields that become a work order are the model's own (TicketCreate), never copies.
FORM_FIELDS = {
    "kind": 8,
    "category": 16,
    "description": field_limit(TicketCreate, "description"),
    "district": field_limit(TicketCreate, "district"),
    "street": field_limit(TicketCreate, "street"),
    "community": field_limit(TicketCreate, "community"),
    "occurred_at_text": field_limit(TicketCreate, "occurred_at_text"),
    "wish": field_limit(TicketCreate, "wish"),
    "contact_name": field_limit(TicketCreate, "contact_name"),
    "contact_phone": field_limit(TicketCreate, "contact_phone"),
    "contact_preference": 8,
}


def _form_text(form: dict[str, Any]) -> str:
    """A refused form as one text for the log, so that nothing the citizen wrote is lost."""
    return "\n".join(f"{name}: {form[name]}" for name in FORM_FIELDS if form.get(name))


def _complaint_page(
    request: Request, *, form: dict[str, Any], errors: dict[str, str], status_code: int = 200
) -> Response:
    return ui.render(
        request,
        "complaint.html",
        {
            "title": "网上投诉和求助 · 残联服务热线",
            "form": form,
            "errors": errors,
            "kinds": KINDS,
            "categories": CATEGORIES,
            "contact_choices": CONTACT_CHOICES,
            "max_chars": get_settings().max_message_chars,
        },
        status_code=status_code,
    )


def validate_complaint(form: dict[str, Any], settings: Settings) -> dict[str, str]:
    """Chinese messages per field, in the order of the form."""
    errors: dict[str, str] = {}
    if form["kind"] not in {label for _, label, _ in KINDS}:
        errors["kind"] = "请选择您要办理的事项：投诉、求助或建议。"
    description = form["description"].strip()
    if not description:
        errors["description"] = "请写一下发生了什么。"
    elif len(description) < 5:
        errors["description"] = "请多写几个字，至少 5 个字，让工作人员看明白发生了什么。"
    elif len(description) > settings.max_message_chars:
        errors["description"] = f"内容太长了（{len(description)} 个字），最多 {settings.max_message_chars} 个字。"
    for name, limit in FORM_FIELDS.items():
        if name not in errors and name != "description" and len(form[name]) > limit:
            errors[name] = f"这一项太长了，最多 {limit} 个字。"
    phone = form["contact_phone"]
    if not phone:
        errors["contact_phone"] = "请填写联系电话，我们要用它联系您，您也要用它查询进度。"
    elif normalize_phone(phone) is None:
        compact = PHONE_SEPARATORS.sub("", phone)
        if compact.isdigit() and 7 <= len(compact) <= 8:
            errors["contact_phone"] = "座机号码请加上区号，例如 010-12345678 或 0571-8765432。"
        else:
            errors["contact_phone"] = (
                "电话号码格式不对。请填写 11 位手机号（1 开头），或带区号的座机号，例如 13800138000 或 010-12345678。"
            )
    if form["contact_preference"] not in {value for value, _, _ in CONTACT_CHOICES} | {""}:
        errors["contact_preference"] = "请从电话、短信、不需要联系中选一项，或者不选。"
    elif (
        form["contact_preference"] == ContactPreference.sms.value
        and normalize_phone(phone)
        and not MOBILE_RE.match(normalize_phone(phone) or "")
    ):
        errors["contact_preference"] = "座机收不到短信。要短信联系，请填写手机号；或者选择“电话”。"
    return errors


def normalize_phone(value: str) -> str | None:
    """The digits of a mobile or an area-coded landline ('010-1234 5678' → '01012345678'), else None.

    A leading +86 / 0086 of a mobile is dropped: the work order stores the number as dialled in China.
    """
    compact = PHONE_SEPARATORS.sub("", value or "")
    if re.fullmatch(r"(?:\+86|0086)1\d{10}", compact):
        compact = compact[-11:]
    if MOBILE_RE.match(compact) or LANDLINE_RE.match(compact):
        return compact
    return None


def _file_complaint(db: Session, sid: str, form: dict[str, Any], settings: Settings) -> str:
    """Log the form and open its work order (in a worker thread: database work); its number."""
    form_session = f"{sid}-form"
    summary = f"[网上表单] {form['kind']}：{form['description']}"
    record = grievance_log.append(
        db,
        channel="web",
        session_id=form_session,
        caller=grievance_log.caller_key(sid, salt=settings.effective_caller_salt),
        text=summary,
    )
    fields = {
        **form,
        "contact_phone": normalize_phone(form["contact_phone"]),
        "contact_name": form["contact_name"] or None,
        "channel": "web",
        "session_id": form_session,
        "priority": "normal",
    }
    ticket = workorders.create_from_form(db, fields)
    grievance_log.complete(
        db,
        record_id=record.id,
        outcome="answered",
        intent="complaint_form",
        replies=[{"text": f"已登记，工单号是{ticket.number}。"}],
        handoff=True,
        ticket_number=ticket.number,
    )
    return ticket.number


@router.get("/complaint")
async def complaint_form(request: Request) -> Response:
    empty = dict.fromkeys(FORM_FIELDS, "") | {"category": "其他", "confidential": False}
    return _complaint_page(request, form=empty, errors={})


@router.post("/complaint")
async def complaint_submit(request: Request, db: SessionDep) -> Response:
    raw = await request.form()
    if not ui.check_csrf(request, str(raw.get("csrf") or "")):
        return _forbidden(request)
    settings = get_settings()
    form: dict[str, Any] = {name: str(raw.get(name) or "").strip() for name in FORM_FIELDS}
    form["confidential"] = raw.get("confidential") == "1"
    if form["category"] not in CATEGORIES:
        form["category"] = "其他"
    errors = validate_complaint(form, settings)
    sid = ui.session_id(request)
    if errors:
        await run_in_threadpool(
            log_rejected, db, channel="web", session_id=f"{sid}-form", text=_form_text(form), code="invalid_form"
        )
        return _complaint_page(request, form=form, errors=errors, status_code=422)
    guard = _guard(request, "complaint", limit=5, window=600.0, repeat=600.0)
    why = await run_in_threadpool(_refused, guard, sid, _client_ip(request), form["description"])
    if why:
        message = (
            "这份内容刚才已经提交过了，不用重复提交。" if why == admission.REPEAT else "提交太频繁了，请过几分钟再试。"
        )
        await run_in_threadpool(
            log_rejected, db, channel="web", session_id=f"{sid}-form", text=_form_text(form), code="rate_limited"
        )
        return _complaint_page(request, form=form, errors={"form": message}, status_code=429)
    number = await run_in_threadpool(_file_complaint, db, sid, form, settings)
    return _redirect(request, f"/complaint/done?number={number}")


@router.get("/complaint/done")
def complaint_done(request: Request, db: SessionDep, number: str = "") -> Response:
    if not workorders.NUMBER_RE.match(number):
        return _redirect(request, "/complaint")
    ticket = workorders.by_number(db, number)
    form_session = f"{ui.session_id(request)}-form"
    if ticket is None or ticket.session_id != form_session:
        db.rollback()
        # Only the browser that filed it learns anything: no "this number exists" nor its deadline for others.
        return _redirect(request, "/complaint")
    records = grievance_log.search(db, ticket_number=number, session_id=form_session, limit=1)
    receipt = grievance_log.receipt(records[0]) if records else None
    db.rollback()
    return ui.render(
        request,
        "complaint_done.html",
        {
            "title": "已经提交成功 · 残联服务热线",
            "number_grouped": workorders.group_digits(number),
            "deadline": workorders.deadline_text(ticket),
            "receipt": receipt,
        },
    )
