"""Taking over a handed-off conversation: the transcript, replies in the citizen's channel, hand-back."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from accessibility import conversation, security
from api.deps import SessionDep, SettingsDep
from api.errors import ApiError
from api.models.ticket import ContactPreference, Ticket, TicketNoteCreate
from api.services import grievance_log, handoff
from api.services.rasa_client import RasaClient
from api.settings import Settings
from api.workorders import workflow
from staff_console import sessions
from staff_console.deps import FormDep, form_text, page
from staff_console.outbound import QUEUED_NOTE, queue_sms
from staff_console.ui import render
from staff_console.views import CHANNELS, notice_query, read_notice, turn_lines

router = APIRouter(prefix="/staff/conversations")
ConvLogin = Annotated[sessions.ConsoleLogin, Depends(page("conversation"))]
MAX_REPLY = 1000
TAKEN_NOTE = "工作人员{name}已接手这段对话，马上为您服务。"


def assistant(request: Request) -> RasaClient:
    """The app's one Rasa client (made at start-up), which carries Rasa's token."""
    client: RasaClient = request.app.state.rasa
    return client


def _back(session_id: str, notice: str = "") -> Response:
    url = f"/staff/conversations/{quote(session_id, safe='')}"
    if notice:
        url += "?" + notice_query(notice)
    return security.apply_security_headers(RedirectResponse(url, status_code=303))


def _page(request: Request, db: SessionDep, login: sessions.ConsoleLogin, session_id: str, **extra: Any) -> Response:
    records = handoff.transcript(db, session_id=session_id)
    if not records:
        missing = {
            "title": "没有找到对话",
            "message": "没有找到这段对话，可能已超过保存期限或地址有误。",
            "back": "/staff",
        }
        return render(request, "staff/message.html", missing, login=login, status_code=404)
    hold = handoff.get_hold(db, session_id=session_id)
    ticket_numbers = sorted({r.ticket_number for r in records if r.ticket_number})
    db.rollback()
    titles: dict[str, str] = {}
    lines = [line for r in records for line in turn_lines(r, mask=False, titles=titles)]
    channel = next((r.channel for r in records if r.outcome != "staff"), records[0].channel)
    ctx: dict[str, Any] = {
        "title": f"对话记录（{CHANNELS.get(channel, channel)}） - 工作台",
        "session_id": session_id,
        "channel": channel,
        "channel_text": CHANNELS.get(channel, channel),
        "lines": lines,
        "holder": hold.holder if hold else None,
        "mine": bool(hold and hold.holder == login.username),
        "ticket_numbers": ticket_numbers,
        "notice": read_notice(request),
        "reply_text": "",
        "max_reply": MAX_REPLY,
        **extra,
    }
    return render(request, "staff/conversation.html", ctx, login=login, status_code=400 if extra.get("errors") else 200)


@router.get("/{session_id}")
def show(request: Request, session_id: str, db: SessionDep, login: ConvLogin) -> Response:
    return _page(request, db, login, session_id[:128])


def _take(db: Session, session_id: str, login: sessions.ConsoleLogin) -> str:
    """Hold the conversation for this member of staff (worker thread: database work); its channel."""
    records = handoff.transcript(db, session_id=session_id, limit=1)
    channel = records[0].channel if records else "web"
    handoff.take(db, session_id=session_id, channel=channel, actor=login.principal)
    return channel


@router.post("/{session_id}/take")
async def take(request: Request, session_id: str, db: SessionDep, login: ConvLogin, form: FormDep) -> Response:
    try:
        channel = await run_in_threadpool(_take, db, session_id[:128], login)
    except ApiError as exc:
        return _back(session_id, exc.message.split(" / ")[0])
    if channel == "web":
        # The open chat page shows at once that a person is there (and stops looking like the assistant).
        name = login.full_name or login.username
        await run_in_threadpool(
            conversation.post_staff_message,
            db,
            session_id=session_id[:128],
            text=TAKEN_NOTE.format(name=name),
            staff_name=name,
        )
    told = await assistant(request).set_handoff(session_id=session_id[:128], held=True)
    note = (
        "您已接手这段对话，智能助手暂停回答。"
        if told
        else "您已接手这段对话。注意：暂时联系不上智能助手，它恢复后也不会插话，直到您交还。"
    )
    return _back(session_id, note)


def _ticket_for(db: SessionDep, session_id: str) -> Ticket | None:
    return db.exec(select(Ticket).where(Ticket.session_id == session_id).order_by(Ticket.id.desc())).first()  # type: ignore[union-attr]


def _holder_and_channel(db: Session, session_id: str) -> tuple[str | None, str] | None:
    """(who holds the conversation, its channel), or None when nobody does (worker thread)."""
    hold = handoff.get_hold(db, session_id=session_id)
    db.rollback()
    return None if hold is None else (hold.holder, hold.channel)


def _record_call_back(
    db: Session, session_id: str, text: str, name: str, channel: str, login: sessions.ConsoleLogin
) -> None:
    """A phone conversation gets no text: the reply is kept as a call-back note (worker thread)."""
    conversation.post_staff_message(
        db, session_id=session_id, text="（回电记录）" + text, staff_name=name, channel=channel
    )
    ticket = _ticket_for(db, session_id)
    if ticket is not None:
        workflow.add_note(
            db, number=ticket.number, data=TicketNoteCreate(text="回电记录：" + text), actor=login.principal
        )


@router.post("/{session_id}/reply")
async def reply(
    request: Request, session_id: str, db: SessionDep, settings: SettingsDep, login: ConvLogin, form: FormDep
) -> Response:
    session_id = session_id[:128]
    text = form_text(form, "text", limit=MAX_REPLY + 1)
    holder = await run_in_threadpool(_holder_and_channel, db, session_id)
    if holder is None or holder[0] != login.username:
        return _back(session_id, "请先接手这段对话，再回复。")
    if not text:
        return await run_in_threadpool(_page, request, db, login, session_id, errors={"text": "请填写回复内容。"})
    if len(text) > MAX_REPLY:
        too_long = {"text": f"回复太长，请不超过{MAX_REPLY}个字。"}
        return await run_in_threadpool(_page, request, db, login, session_id, errors=too_long, reply_text=text)
    channel = holder[1]
    name = login.full_name or login.username
    if channel in ("voice", "phone"):
        await run_in_threadpool(_record_call_back, db, session_id, text, name, channel, login)
        return _back(session_id, "已记录回电内容。电话渠道不能发文字，请按记录回电。")
    return _back(session_id, await run_in_threadpool(_reply_in_writing, db, settings, session_id, channel, text, name))


def _reply_in_writing(db: Session, settings: Settings, session_id: str, channel: str, text: str, name: str) -> str:
    """Post the reply to the citizen's conversation and, when it must go by SMS, write the SMS to the outbox
    in the same commit (the worker sends it); the notice says what the citizen gets."""
    ticket = _ticket_for(db, session_id)
    phone = ticket.contact_phone if ticket is not None else None
    ticket_id = ticket.id if ticket is not None else None
    by_sms = channel == "sms" or (ticket is not None and ticket.contact_preference == ContactPreference.sms)
    db.rollback()  # nothing read stays open: the outbox row below is committed with the reply
    body = text if channel == "sms" else f"【残联服务热线】工作人员{name}回复您：{text}"
    outcome = queue_sms(db, settings, to=phone, body=body, ticket_id=ticket_id) if by_sms else "not_sent"
    conversation.post_staff_message(db, session_id=session_id, text=text, staff_name=name, channel=channel)
    if channel == "sms":
        if outcome == "unsubscribed":
            return "回复已记录，但这个号码已退订短信，没有发短信，请电话联系市民。"
        if outcome == "not_sent":
            return "回复已记录，但短信没有发出（未配置短信通道或没有联系电话），请电话联系市民。"
        return "短信已交给发送队列，马上发出；" + QUEUED_NOTE
    if not by_sms:
        return "回复已发送，市民的网页上会马上显示。"
    if outcome == "unsubscribed":
        return "回复已显示在市民的网页上。市民要求短信联系，但这个号码已退订短信，没有发短信。"
    if outcome == "queued":
        return "回复已显示在市民的网页上；市民要求短信联系，短信马上发出。" + QUEUED_NOTE
    return "回复已显示在市民的网页上。市民要求短信联系，但短信没有发出（未配置短信通道或没有号码），请记下并另行联系。"


def _release(db: Session, session_id: str, login: sessions.ConsoleLogin) -> None:
    """Hand the conversation back and tell the citizen, in the log (worker thread: database work)."""
    hold = handoff.release(db, session_id=session_id, actor=login.principal)
    rec = grievance_log.append(db, channel=hold.channel, session_id=session_id, text="")
    grievance_log.complete(
        db,
        record_id=rec.id,
        outcome="released",
        replies=[
            {
                "text": "工作人员已结束服务，现在由智能助手继续为您服务。需要真人服务，请随时说“转人工”。",
                "sender": "system",
            }
        ],
        handoff=False,
    )


@router.post("/{session_id}/release")
async def release(request: Request, session_id: str, db: SessionDep, login: ConvLogin, form: FormDep) -> Response:
    session_id = session_id[:128]
    try:
        await run_in_threadpool(_release, db, session_id, login)
    except ApiError as exc:
        return _back(session_id, exc.message.split(" / ")[0])
    told = await assistant(request).set_handoff(session_id=session_id, held=False)
    note = (
        "已交还智能助手。" if told else "已交还，但暂时联系不上智能助手：市民的新消息会按“助手暂时不可用”处理并转人工。"
    )
    return _back(session_id, note)
