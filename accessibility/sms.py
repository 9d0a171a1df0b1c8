"""SMS channel: `POST /sms/incoming` (Twilio webhook) → chat gateway with channel "sms".

The session is keyed by the sender's number (pseudonymised), so a citizen can text
over days and the assistant keeps the context. Replies are TwiML `<Message>` kept to
`sms_max_segments` UCS-2 segments: a long answer is cut at a sentence and the rest is
sent when the citizen replies 更多. Keywords: 人工 (a person), 进度+number (work-order
status), 退订/TD/STOP (unsubscribe, remembered by api.services.callers), 订阅/START (back on), and a
lone digit 1–5 answering a pending follow-up (回访) of one of the sender's work orders.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import unicodedata
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from twilio.twiml.messaging_response import MessagingResponse

from accessibility import conversation, easy_read, workorders
from api import vocabulary, wording
from api.deps import SessionDep
from api.integrations import twilio
from api.models.grievance import GrievanceRecord
from api.services import admission, callers, follow_up, gateway, grievance_log, text_input
from api.services.admission import log_rejected
from api.services.callers import normalize_phone
from api.settings import Settings, get_settings

log = logging.getLogger("hotline.sms")

router = APIRouter(prefix="/sms", include_in_schema=False)

UCS2_SINGLE, UCS2_MULTI = 70, 67

STOP_WORDS = {"退订", "TD", "T", "STOP", "UNSUBSCRIBE", "取消订阅", "退订短信"}
START_WORDS = {"订阅", "START", "恢复", "恢复短信"}
HUMAN_WORDS = {"人工", "转人工", "人工服务", "0"}
MORE_WORDS = {"更多", "继续", "下一页"}
EASY_WORDS = {"简单", "简单点", "简单点说", "说简单点"}
STATUS_RE = re.compile(r"^(?:查询)?进度\s*[:：]?\s*([\d\s-]*)$")
RATING_RE = re.compile(r"^([1-5])\s*分?$")

TEXTS = wording.texts("sms", "replies")


# --- segments -------------------------------------------------------------------------


def utf16_units(text: str) -> int:
    """Length as the network counts it: UCS-2/UTF-16 code units (an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2


def segment_count(text: str) -> int:
    """Segments of a UCS-2 message (Chinese text is never GSM-7)."""
    units = utf16_units(text)
    if units <= UCS2_SINGLE:
        return 1
    return -(-units // UCS2_MULTI)


def _cut(text: str, budget: int) -> int:
    """Index to cut `text` at: the last sentence end within `budget` code units, else the budget."""
    used = 0
    limit = 0
    best = 0
    for i, ch in enumerate(text):
        used += utf16_units(ch)
        if used > budget:
            break
        limit = i + 1
        if ch in "。！？!?；;\n" and i + 1 >= budget // 3:
            best = i + 1
    return best or limit


def fit(text: str, max_segments: int) -> tuple[str, str]:
    """(what to send now, the rest for 更多), within `max_segments` segments."""
    budget = UCS2_SINGLE if max_segments == 1 else UCS2_MULTI * max_segments
    if utf16_units(text) <= budget:
        return text, ""
    cut = _cut(text, budget - utf16_units(TEXTS["more_suffix"]))
    return text[:cut].rstrip() + TEXTS["more_suffix"], text[cut:].lstrip()


# --- per-number state -----------------------------------------------------------------


MORE_INTENT = "sms_more"
# Answers made here, not by the assistant: 更多 has nothing to continue after them.
LOCAL_INTENTS = {"sms_subscribe", "sms_unsubscribe", "follow_up_rating", "check_ticket_status"}


def next_page(db: Session, sid: str, *, easy: bool, max_segments: int) -> tuple[str, str] | None:
    """What 更多 sends next: (this page, what is left), or None when nothing is left.

    Read from the grievance log (the last answer, and the 更多 pages sent since), not from one process's
    memory: any app instance answers 更多, and a restart loses nothing.
    """
    found = db.exec(
        select(GrievanceRecord.intent, GrievanceRecord.replies)
        .where(
            GrievanceRecord.session_id == sid,
            GrievanceRecord.status == "received",
            col(GrievanceRecord.completed_at).is_not(None),
        )
        .order_by(col(GrievanceRecord.id).desc())
        .limit(50)
    ).all()
    db.rollback()  # end the read: on SQLite an open read would block the writers that follow
    pages_sent = 0
    for intent, replies in found:
        if intent == MORE_INTENT:
            pages_sent += 1
            continue
        if intent in LOCAL_INTENTS:
            return None
        rest = _reply_text(list(replies or []), easy=easy)
        for _ in range(pages_sent + 1):
            rest = fit(rest, max_segments)[1]
            if not rest:
                return None
        return fit(rest, max_segments)
    return None


# --- helpers ----------------------------------------------------------------------------


def sms_session_id(phone: str, settings: Settings) -> str:
    """The conversation of one phone number, keyed with the secret key.

    Not derived from the caller key (which exports show), so nobody who knows a phone
    number or an exported key can continue, confirm or cancel that citizen's conversation
    through the chat API.
    """
    mac = hmac.new(settings.effective_secret_key.encode(), f"sms-session:{phone}".encode(), hashlib.sha256)
    return f"sms-{mac.hexdigest()[:24]}"


def normalize_keyword(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().upper()
    return re.sub(r"[\s。.!！?？,，]+$", "", text)


def twiml(text: str | None) -> Response:
    resp = MessagingResponse()
    if text:
        resp.message(text)
    return Response(str(resp), media_type="application/xml")


def _log_local(
    db: Session, *, sid: str, caller: str, text: str, reply: str, intent: str, ticket: str | None = None
) -> None:
    """Keyword turns answered here still go into the grievance log, like every other request."""
    rec = grievance_log.append(db, channel="sms", session_id=sid, caller=caller, text=text)
    grievance_log.complete(
        db,
        record_id=rec.id,
        outcome="answered",
        replies=[{"text": reply}],
        intent=intent,
        intent_confidence=1.0,
        ticket_number=ticket,
    )


def _reply_text(replies: list[dict[str, Any]], easy: bool) -> str:
    parts: list[str] = []
    titles: list[str] = []
    for reply in replies:
        text = str(reply.get("text") or "").strip()
        if text:
            parts.append(easy_read.rewrite(text) if easy else text)
        titles += [str(b.get("title")) for b in reply.get("buttons") or [] if isinstance(b, dict) and b.get("title")]
    body = "\n".join(parts)
    if titles:
        body += "\n可以回复：" + "、".join(dict.fromkeys(titles))
    return body


# --- the webhook -------------------------------------------------------------------------


@router.post("/incoming")
async def sms_incoming(request: Request, db: SessionDep) -> Response:
    settings = get_settings()
    raw = await request.form()
    form = {k: str(v) for k, v in raw.items()}
    verdict = twilio.check_webhook(request, form, settings)
    if verdict is not twilio.Verdict.OK:
        return twilio.refusal(verdict)
    phone = normalize_phone(form.get("From", ""))
    if len(re.sub(r"\D", "", phone)) < 5:
        return Response(str(MessagingResponse()), status_code=400, media_type="application/xml")
    body = text_input.clean(form.get("Body", ""))
    caller = grievance_log.caller_key(phone, salt=settings.effective_caller_salt)
    sid = sms_session_id(phone, settings)
    wishes_key = callers.key_for(settings, phone)
    keyword = normalize_keyword(body)
    # Twilio's id of this message: a webhook Twilio sends again is answered once, not taken as a repeat.
    message_sid = form.get("MessageSid") if gateway.valid_turn_id(form.get("MessageSid")) else None

    if keyword in START_WORDS:
        await run_in_threadpool(callers.set_unsubscribed, wishes_key, False)
        await run_in_threadpool(
            _log_local, db, sid=sid, caller=caller, text=body, reply=TEXTS["resubscribed"], intent="sms_subscribe"
        )
        return twiml(TEXTS["resubscribed"])
    if keyword in STOP_WORDS:
        await run_in_threadpool(callers.set_unsubscribed, wishes_key, True)
        await run_in_threadpool(
            _log_local, db, sid=sid, caller=caller, text=body, reply=TEXTS["unsubscribed"], intent="sms_unsubscribe"
        )
        return twiml(TEXTS["unsubscribed"])
    wishes = await run_in_threadpool(callers.preferences, wishes_key)
    unsubscribed = wishes.unsubscribed

    def send(text: str) -> Response:
        # After 退订 the message is still logged and handled, but nothing is sent back.
        return twiml(None if unsubscribed else text)

    problem = admission.text_problem(body, limit=settings.max_message_chars)
    if problem == "empty_text":
        return send(TEXTS["welcome"])
    if problem:
        await run_in_threadpool(
            log_rejected, db, channel="sms", session_id=sid, caller=caller, text=body, code="text_too_long"
        )
        return send(TEXTS["too_long"].format(n=len(body), limit=settings.max_message_chars))

    flood = admission.flood_guard(
        request,
        "sms",
        limit=settings.chat_rate_limit,
        window=settings.chat_rate_window_seconds,
        repeat=settings.chat_repeat_seconds,
    )
    # 更多 and 进度 are meant to be sent again and again: they count for the burst limit only.
    rating = RATING_RE.match(keyword)
    repeatable = keyword in MORE_WORDS or bool(STATUS_RE.match(keyword)) or bool(rating)
    earlier = await gateway.earlier_copy(db, session_id=sid, turn_id=message_sid)
    why = None if earlier is not None else await run_in_threadpool(flood.check, sid, "" if repeatable else body.strip())
    if why:
        await run_in_threadpool(
            log_rejected, db, channel="sms", session_id=sid, caller=caller, text=body, code="rate_limited"
        )
        return send(wording.text("sms", f"admission.{why}"))

    if rating:
        rated = await run_in_threadpool(_rate, db, phone, int(rating.group(1)))
        if rated is not None:
            thanks, rated_number = rated
            await run_in_threadpool(
                _log_local,
                db,
                sid=sid,
                caller=caller,
                text=body,
                reply=thanks,
                intent="follow_up_rating",
                ticket=rated_number,
            )
            return send(thanks)

    if keyword in MORE_WORDS:
        page = await run_in_threadpool(
            next_page, db, sid, easy=wishes.easy_read, max_segments=settings.sms_max_segments
        )
        if page is None:
            return send(TEXTS["no_more"])
        await run_in_threadpool(_log_local, db, sid=sid, caller=caller, text=body, reply=page[0], intent=MORE_INTENT)
        return send(page[0])

    status = STATUS_RE.match(keyword)
    if status:
        reply, number = await run_in_threadpool(_status_reply, db, status.group(1), phone)
        await run_in_threadpool(
            _log_local, db, sid=sid, caller=caller, text=body, reply=reply, intent="check_ticket_status", ticket=number
        )
        return send(reply)

    if keyword in EASY_WORDS:
        await run_in_threadpool(callers.set_easy_read, wishes_key, True)
        text = conversation.EASY_READ_PAYLOAD
    elif keyword in HUMAN_WORDS:
        text = conversation.HUMAN_TEXT
    else:
        text = body.strip()

    answer = await gateway.handle_turn(
        db,
        request.app.state.rasa,
        gateway.ChatTurn(
            session_id=sid, text=text, channel="sms", caller=phone, contact_phone=phone, turn_id=message_sid
        ),
        caller_salt=settings.effective_caller_salt,
        earlier=earlier,
    )
    reply = _reply_text(answer.replies, easy=wishes.easy_read or keyword in EASY_WORDS)
    if keyword in EASY_WORDS and not reply:
        reply = TEXTS["easy_on"]
    if not reply and answer.handoff:
        reply = wording.text("sms", "handoff.waiting_note")
    return send(fit(reply, settings.sms_max_segments)[0])


def _status_reply(db: Session, raw_number: str, phone: str) -> tuple[str, str | None]:
    number = workorders.digits(raw_number)
    if len(number) != 12:
        return TEXTS["status_help"], None
    ticket = workorders.lookup(db, number=number, phone_last4=re.sub(r"\D", "", phone)[-4:])
    if ticket is None:
        return TEXTS["status_missing"].format(number=vocabulary.format_work_order(number)), None
    status = workorders.status_text(ticket)
    deadline = workorders.deadline_text(ticket)
    return (
        TEXTS["status_found"].format(
            number=vocabulary.format_work_order(number),
            status=status,
            explained=workorders.status_explained("sms", status),
            deadline=TEXTS["status_deadline"].format(deadline=deadline) if deadline else "",
        ),
        number,
    )


def _rate(db: Session, phone: str, score: int) -> tuple[str, str] | None:
    """Record a digit as the rating of this number's newest pending follow-up: (reply, work-order number).

    None when the number has no follow-up (pending, or answered in the last days): the
    digit is then an ordinary message for the assistant.
    """
    pending, recent = follow_up.for_phone(db, phone)
    target = pending[0][0].token if pending else recent.token if recent is not None else None
    db.rollback()  # end the read: record_rating starts its own write transaction
    if target is None:
        return None
    result = follow_up.record_rating(db, token=target, score=score, channel="sms", settings=get_settings())
    reply = result.message
    if result.reopened:
        reply += TEXTS["rating_human"]
    if len(pending) > 1 and result.changed:
        reply += TEXTS["rating_more"].format(number=vocabulary.format_work_order(pending[1][1].number))
    return reply, result.number
