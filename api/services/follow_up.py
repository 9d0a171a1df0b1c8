"""Follow-up (回访): ask the citizen for a 1–5 rating of a resolved work order, and act on it.

`request_follow_up` moves a resolved order to 回访, stores a `FollowUp` with a secret
token for the web link `/feedback/{token}` and, when Twilio is configured and the
order has a mobile number, writes an SMS to the citizen (reply 1–5 or open the link)
and a keypad-rating call to the outbox in the same transaction; the task worker sends
them and records the outcome on the order. Without SMS the request still exists and
staff give the link (or take the rating) on a call-back. The citizen's contact
preference is respected: no SMS to one who asked for no contact or for replies in the
web chat, and staff are never told to call, nor is a call placed (`may_call`, checked
before the call is written to the outbox), when the citizen asked for SMS, chat or no
contact. `record_rating` closes the order for 3–5 (基本满意/满意) and reopens it
(重办) for 1–2 with the comment as the reason; a second answer changes nothing.
The lifecycle moves go through `workflow.transition`, so each is a ticket event.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, func, select

from api import vocabulary, wording
from api.clock import aware
from api.db import begin_write
from api.errors import ApiError
from api.models.common import clean_text
from api.models.outbox import OutboxKind
from api.models.ticket import (
    ContactPreference,
    FollowUp,
    FollowUpChannel,
    Satisfaction,
    Ticket,
    TicketStatus,
    TransitionAction,
    TransitionCreate,
)
from api.services import access, callers, on_duty, outbox, sla
from api.services.audit import Principal
from api.services.grievance_log import utcnow
from api.settings import Settings
from api.workorders import lifecycle, queries, workflow
from chinese_numbers.phones import e164_mobile, national_mobile

CITIZEN = Principal(username="citizen", role="citizen")
SYSTEM_ACTOR = "system:follow_up"
COMMENT_MAX_CHARS = 1000
# A digit sent this long after the answer is still taken as a repeat of that answer.
REPEAT_WINDOW = timedelta(days=7)

SCORE_LABELS = vocabulary.SCORE_LABELS
CHANNEL_LABELS: dict[FollowUpChannel, str] = {
    FollowUpChannel.sms: "短信",
    FollowUpChannel.web: "网页",
    FollowUpChannel.voice: "电话",
}

MESSAGES: dict[str, str] = {
    "follow_up_not_found": (
        "没有找到这次回访，链接可能不完整或已经失效。 / No such follow-up; the link may be incomplete."
    ),
    "invalid_score": "评分只能是 1 到 5 的整数（5 最满意）。 / The score must be a whole number from 1 to 5.",
    "comment_too_long": "意见太长了，最多 {limit} 个字。 / The comment is longer than {limit} characters.",
    "invalid_comment": "意见里有无法保存的字符。 / The comment contains characters that cannot be stored.",
    "invalid_channel": "回访渠道只能是 sms、web 或 voice。 / The channel must be sms, web or voice.",
    "follow_up_target": "请指定回访链接或工单号（只能一个）。 / Give either a follow-up token or a work-order number.",
    "no_follow_up_pending": (
        "这个工单现在不在回访阶段，不能评价。 / This work order is not awaiting a follow-up rating."
    ),
}

# What the citizen is told after rating (api/wording/<channel>/rating.yml, by the channel of the answer),
# and the invitation sent by SMS (api/wording/sms/follow_up.yml).
SMS_TEXT = wording.template("sms", "follow_up.invitation")

SmsStatus = Literal["queued", "not_configured", "no_mobile", "unsubscribed", "not_wanted"]
RatingOutcome = Literal["closed", "reopened", "already_answered", "not_pending"]


def _error(status_code: int, code: str, **fmt: Any) -> ApiError:
    return ApiError(status_code, code, MESSAGES[code].format(**fmt))


# --- small helpers ------------------------------------------------------------------------------


def _preference(ticket: Ticket) -> ContactPreference:
    try:
        return ContactPreference(ticket.contact_preference or "")
    except ValueError:
        return ContactPreference.unknown


def may_call(ticket: Ticket) -> bool:
    """Whether staff or the follow-up line may phone the citizen: not when they asked for SMS
    (a deaf citizen cannot take a call), for replies in the web chat, or for no contact."""
    return _preference(ticket) in (ContactPreference.unknown, ContactPreference.call)


def may_text(ticket: Ticket) -> bool:
    """Whether an SMS may be sent: not when the citizen asked for no contact or for the web chat."""
    return _preference(ticket) not in (ContactPreference.none, ContactPreference.chat)


def satisfaction_for(score: int) -> Satisfaction:
    """4–5 满意, 3 基本满意, 1–2 不满意 (the 12345 three-level scale)."""
    if score >= 4:
        return Satisfaction.satisfied
    if score == 3:
        return Satisfaction.basically_satisfied
    return Satisfaction.unsatisfied


def feedback_path(token: str) -> str:
    return f"/feedback/{token}"


def call_path(token: str) -> str:
    """Where Twilio fetches the keypad-rating call's TwiML (voice/follow_up_call.py answers it)."""
    return f"/voice/follow-up/{quote(token, safe='')}"


def feedback_link(token: str, settings: Settings) -> str:
    """The absolute address the citizen opens (public base URL, else the app's own host and port)."""
    base = settings.public_base_url or f"http://{settings.host}:{settings.port}"
    return base + feedback_path(token)


def mobile_number(phone: str | None) -> str | None:
    """A Chinese mobile number in E.164 (+86…), or None for landlines, short numbers and nothing."""
    return e164_mobile(phone)


def phone_variants(phone: str) -> list[str]:
    """The forms a number may be stored in on a work order (13800138000, +8613800138000, 8613800138000)."""
    compact = re.sub(r"[^\d+]", "", phone or "")
    forms = {compact, compact.lstrip("+")}
    national = national_mobile(compact)
    if national:
        forms |= {national, "86" + national, "+86" + national}
    return sorted(f for f in forms if f)


def _channel(value: FollowUpChannel | str) -> FollowUpChannel:
    try:
        return FollowUpChannel(value)
    except ValueError:
        raise _error(422, "invalid_channel") from None


def _principal(actor: Principal | str) -> Principal:
    return actor if isinstance(actor, Principal) else Principal(username=actor, role="")


def _check_score(score: object) -> int:
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise _error(422, "invalid_score")
    return score


def _check_comment(comment: str | None) -> str:
    try:
        text = clean_text(comment or "")
    except ValueError:
        raise _error(422, "invalid_comment") from None
    if len(text) > COMMENT_MAX_CHARS:
        raise _error(422, "comment_too_long", limit=COMMENT_MAX_CHARS)
    return str(text)


def _begin(session: Session) -> None:
    """Start a write transaction; a read the caller left open is ended first (its snapshot may be stale).

    Changes the caller added but did not flush stay and are committed with ours.
    """
    if session.in_transaction() and not (session.new or session.dirty or session.deleted):
        session.rollback()
    begin_write(session)


@contextmanager
def _writing(session: Session) -> Iterator[None]:
    """A write transaction that is rolled back when anything in it fails (no lock is left held)."""
    _begin(session)
    try:
        yield
    except BaseException:
        session.rollback()
        raise


def _latest_id(session: Session, ticket_id: int) -> int | None:
    latest = session.exec(select(func.max(FollowUp.id)).where(FollowUp.ticket_id == ticket_id)).one()
    return int(latest) if latest is not None else None


# --- queries for the console and the channels ----------------------------------------------------


def get_by_token(session: Session, token: str) -> FollowUp | None:
    if not token or len(token) > 64:
        return None
    return session.exec(select(FollowUp).where(FollowUp.token == token)).first()


def list_for_ticket(session: Session, *, number: str) -> list[FollowUp]:
    """Every follow-up of a work order, oldest first (404 when the order does not exist)."""
    ticket = queries.get_ticket(session, number=number)
    return list(session.exec(select(FollowUp).where(FollowUp.ticket_id == ticket.id).order_by(col(FollowUp.id))).all())


def pending_for_ticket(session: Session, *, number: str) -> FollowUp | None:
    """The open follow-up of a work order in 回访 (its link is what staff read out on a call-back)."""
    ticket = queries.get_ticket(session, number=number)
    if ticket.status is not TicketStatus.follow_up or ticket.id is None:
        return None
    latest = _latest_id(session, ticket.id)
    found = session.get(FollowUp, latest) if latest is not None else None
    return found if found is not None and found.answered_at is None else None


def for_phone(session: Session, phone: str) -> tuple[list[tuple[FollowUp, Ticket]], FollowUp | None]:
    """(open follow-ups of this phone's work orders, newest first; the latest one answered recently).

    Only the newest follow-up of each work order counts, and only while the order is in 回访.
    """
    variants = phone_variants(phone)
    if not variants:
        return [], None
    newer = aliased(FollowUp)
    superseded = (
        select(newer.id)
        .where(col(newer.ticket_id) == col(FollowUp.ticket_id), col(newer.id) > col(FollowUp.id))
        .exists()
    )
    rows = session.exec(
        select(FollowUp, Ticket)
        .join(Ticket, col(Ticket.id) == col(FollowUp.ticket_id))
        .where(
            col(FollowUp.answered_at).is_(None),
            Ticket.status == TicketStatus.follow_up,
            col(Ticket.contact_phone).in_(variants),
            ~superseded,
        )
        .order_by(col(FollowUp.id).desc())
    ).all()
    pending = [(fu, t) for fu, t in rows]
    recent = None
    if not pending:
        recent = session.exec(
            select(FollowUp)
            .join(Ticket, col(Ticket.id) == col(FollowUp.ticket_id))
            .where(
                col(FollowUp.answered_at) >= utcnow() - REPEAT_WINDOW,
                col(Ticket.contact_phone).in_(variants),
            )
            .order_by(col(FollowUp.answered_at).desc())
        ).first()
    return pending, recent


# --- asking ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUpRequested:
    """What staff need after asking: whether an SMS and a call are on their way and, if not, the link to give."""

    number: str
    follow_up_id: int
    token: str
    path: str
    link: str
    channel: FollowUpChannel
    sms_queued: bool
    sms_status: SmsStatus
    call_queued: bool
    message: str


SMS_STATUS_TEXT: dict[str, str] = {
    "queued": "回访短信马上发给市民，请市民回复1到5分或打开网页评价；发送结果会记在工单的处理记录里。",
    "not_configured": "短信服务未配置，没有发短信。",
    "no_mobile": "工单没有手机号，没有发短信。",
    "unsubscribed": "这个号码已退订短信，没有发短信。",
    "not_wanted": "市民没有要求短信联系，没有发短信。",
}
# Why staff must not call, by what the citizen asked for; and what to do instead when no SMS went out.
NO_CALL_REASON: dict[ContactPreference, str] = {
    ContactPreference.sms: "市民要求只用短信联系，请不要打电话。",
    ContactPreference.chat: "市民要求在网上对话里联系，请不要打电话。",
    ContactPreference.none: "市民表示不需要联系，请不要打电话，也不要发短信。",
}
NO_SMS_NEXT_STEP: dict[ContactPreference, str] = {
    ContactPreference.sms: NO_CALL_REASON[ContactPreference.sms] + "可以稍后再发一次，或请市民打开评价网址 {link} 。",
    ContactPreference.chat: NO_CALL_REASON[ContactPreference.chat] + "请在对话里把评价网址 {link} 发给市民。",
    ContactPreference.none: NO_CALL_REASON[ContactPreference.none] + "市民可以自己打开评价网址 {link} 。",
}
CALL_QUEUED = "同时会给市民打电话，请他按键评分。"
CALL_BACK_STEP = "请电话回访市民，告诉他评价网址 {link} ，或问市民打几分（1到5分）后代为记录。"


def _sms_precheck(settings: Settings, mobile: str | None) -> SmsStatus | None:
    """Why no SMS can be sent, or None when one can."""
    if not (settings.twilio_enabled and settings.twilio_phone_number):
        return "not_configured"
    if mobile is None:
        return "no_mobile"
    if callers.is_unsubscribed(settings, mobile):
        return "unsubscribed"
    return None


def _call_target(settings: Settings, ticket: Ticket) -> str | None:
    """The number to phone for a keypad rating, or None when no call may or can be placed."""
    if not (settings.twilio_enabled and settings.twilio_phone_number and settings.public_base_url):
        return None
    if not may_call(ticket) or not ticket.contact_phone:
        return None
    phone = ticket.contact_phone.strip()
    return mobile_number(phone) or (phone if phone.startswith("+") else None)


def request_follow_up(
    session: Session,
    *,
    number: str,
    actor: Principal | str,
    settings: Settings,
) -> FollowUpRequested:
    """Move a resolved (办结) work order to 回访 and ask the citizen for a rating.

    The move, the FollowUp and the outgoing SMS and call (outbox rows) are committed together;
    the task worker sends them and records each outcome as a ticket event. 404 for an unknown
    order, 409 unless 办结.
    """
    principal = _principal(actor)
    with _writing(session):
        ticket = access.check_ticket(principal, queries.get_ticket(session, number=number, for_update=True))
        lifecycle.check(ticket.status, TransitionAction.follow_up, reason=None)
        mobile = mobile_number(ticket.contact_phone)
        preference = _preference(ticket)
        blocked: SmsStatus | None = _sms_precheck(settings, mobile) if may_text(ticket) else "not_wanted"
        callable_ = may_call(ticket)
        call_to = _call_target(settings, ticket)
        token = secrets.token_urlsafe(24)
        # voice: staff call back; web: the citizen rates through the link (they asked not to be called)
        fallback = FollowUpChannel.voice if callable_ else FollowUpChannel.web
        channel = fallback if blocked else FollowUpChannel.sms
        follow_up = FollowUp(
            ticket_id=ticket.id or 0,
            token=token,
            channel=channel,
            requested_at=utcnow(),
            requested_by=principal.username[:64],
        )
        session.add(follow_up)
        session.flush()
        follow_up_id = follow_up.id or 0
        link = feedback_link(token, settings)
        if blocked is None and mobile is not None:
            outbox.add(
                session,
                kind=OutboxKind.sms,
                recipient=mobile,
                body=SMS_TEXT.format(number=vocabulary.format_work_order(number), link=link),
                key=outbox.idempotency_key("follow_up_sms", follow_up_id),
                purpose="follow_up",
                ticket_id=ticket.id,
            )
        if call_to is not None:
            outbox.add(
                session,
                kind=OutboxKind.call,
                recipient=call_to,
                body=settings.public_base_url + call_path(token),
                key=outbox.idempotency_key("follow_up_call", follow_up_id),
                purpose="follow_up",
                ticket_id=ticket.id,
            )
        if blocked is None:
            after = "短信已排队发送。"
        elif callable_:
            after = SMS_STATUS_TEXT[blocked] + "请电话回访，并告诉市民评价网址或代为记录评分。"
        else:
            after = SMS_STATUS_TEXT[blocked] + NO_CALL_REASON[preference]
        note = "请市民评分（1到5分）。" + after
        workflow.transition(
            session,
            number=number,
            data=TransitionCreate(action=TransitionAction.follow_up, note=note),
            actor=principal,
            policy=sla.load_policy(settings.sla_policy_file),
        )
    status: SmsStatus = blocked or "queued"
    message = SMS_STATUS_TEXT[status]
    if call_to is not None:
        message += CALL_QUEUED
    if status != "queued":
        message += (CALL_BACK_STEP if callable_ else NO_SMS_NEXT_STEP[preference]).format(link=link)
    return FollowUpRequested(
        number=number,
        follow_up_id=follow_up_id,
        token=token,
        path=feedback_path(token),
        link=link,
        channel=channel,
        sms_queued=status == "queued",
        sms_status=status,
        call_queued=call_to is not None,
        message=message,
    )


AUTOMATIC = Principal(username=SYSTEM_ACTOR, role="system")


def request_due(session: Session, settings: Settings, *, now: datetime | None = None, limit: int = 200) -> list[str]:
    """Ask for the rating of every order resolved `follow_up_after_working_hours` staffed hours ago (the worker's
    periodic task); the numbers asked. An order staff moved on meanwhile is left alone."""
    if settings.follow_up_after_working_hours <= 0:
        return []
    moment = now or utcnow()
    policy = sla.load_policy(settings.sla_policy_file)
    resolved = session.exec(
        select(Ticket.number, Ticket.resolved_at)
        .where(Ticket.status == TicketStatus.resolved, col(Ticket.resolved_at).is_not(None))
        .order_by(col(Ticket.resolved_at))
        .limit(limit)
    ).all()
    session.rollback()
    asked: list[str] = []
    for number, resolved_at in resolved:
        assert resolved_at is not None
        due = on_duty.add_working_hours(
            aware(resolved_at),
            settings.follow_up_after_working_hours,
            settings.voice_service_hours,
            settings.service_days,
            policy,
        )
        if due > moment:
            break  # oldest first: the rest are later still (same delay)
        try:
            request_follow_up(session, number=number, actor=AUTOMATIC, settings=settings)
        except ApiError:  # moved on since the query (rated by phone, reopened): nothing to ask
            session.rollback()
            continue
        asked.append(number)
    return asked


# --- answering ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatingResult:
    """What happened to a rating; `message` is for the citizen (web page, SMS reply, staff reading it out)."""

    number: str
    outcome: RatingOutcome
    score: int | None
    satisfaction: Satisfaction | None
    status: TicketStatus
    deadline_text: str
    message: str

    @property
    def reopened(self) -> bool:
        return self.outcome == "reopened"

    @property
    def changed(self) -> bool:
        return self.outcome in ("closed", "reopened")


def _locked_follow_up(
    session: Session, *, token: str | None, number: str | None, channel: FollowUpChannel, principal: Principal
) -> FollowUp:
    if token is not None:
        found = session.exec(select(FollowUp).where(FollowUp.token == token).with_for_update()).first()
        if found is None:
            raise _error(404, "follow_up_not_found")
        return found
    assert number is not None
    # Staff entering a rating by number: only on an order of their own department (checked before any change).
    ticket = access.check_ticket(principal, queries.get_ticket(session, number=number, for_update=True))
    latest = _latest_id(session, ticket.id or 0)
    found = (
        session.exec(select(FollowUp).where(FollowUp.id == latest).with_for_update()).first()
        if latest is not None
        else None
    )
    if ticket.status is TicketStatus.follow_up and (found is None or found.answered_at is not None):
        # Moved to 回访 through the API without a request (or a rating taken on a call-back): open one now.
        found = FollowUp(
            ticket_id=ticket.id or 0,
            token=secrets.token_urlsafe(24),
            channel=channel,
            requested_at=utcnow(),
            requested_by=SYSTEM_ACTOR,
        )
        session.add(found)
        session.flush()
    if found is None:
        raise _error(409, "no_follow_up_pending")
    return found


def record_rating(
    session: Session,
    *,
    token: str | None = None,
    ticket: str | None = None,
    score: int,
    comment: str | None = None,
    channel: FollowUpChannel | str,
    actor: Principal | str = CITIZEN,
    settings: Settings | None = None,
) -> RatingResult:
    """Record the citizen's 1–5 answer to a follow-up, found by its `token` or by the work-order number `ticket`.

    3–5 closes the order (基本满意/满意); 1–2 reopens it (重办) with the comment as the reason.
    Answering an answered follow-up, or one whose order has left 回访, changes nothing and says so.
    Raises ApiError: 422 bad score/comment/channel, 404 unknown token or order, 409 order not in 回访
    (by number). `actor` stays "citizen" unless staff type in an answer given on a call-back.
    """
    if (token is None) == (ticket is None):
        raise _error(422, "follow_up_target")
    score = _check_score(score)
    text = _check_comment(comment)
    via = _channel(channel)
    principal = _principal(actor)
    with _writing(session):
        follow_up = _locked_follow_up(session, token=token, number=ticket, channel=via, principal=principal)
        order = session.get(Ticket, follow_up.ticket_id)
        assert order is not None
        access.check_ticket(principal, order)
        number = order.number
        status_now = order.status
        if follow_up.answered_at is not None:
            previous = follow_up.score or score
            session.rollback()
            return RatingResult(
                number=number,
                outcome="already_answered",
                score=previous,
                satisfaction=satisfaction_for(previous),
                status=status_now,
                deadline_text="",
                message=wording.text(
                    via, "rating.already_answered", number=vocabulary.format_work_order(number), score=previous
                ),
            )
        if status_now is not TicketStatus.follow_up or _latest_id(session, order.id or 0) != follow_up.id:
            session.rollback()
            return RatingResult(
                number=number,
                outcome="not_pending",
                score=None,
                satisfaction=None,
                status=status_now,
                deadline_text="",
                message=wording.text(via, "rating.not_pending", number=vocabulary.format_work_order(number)),
            )

        satisfaction = satisfaction_for(score)
        label = SCORE_LABELS[score]
        follow_up.answered_at = utcnow()
        follow_up.answered_channel = via
        follow_up.score = score
        follow_up.comment = text or None
        order.satisfaction_score = score
        session.add(follow_up)
        session.add(order)
        recorded_by = "" if principal.username == CITIZEN.username else f"，由{principal.username}代为记录"
        note = f"市民评分：{score}分（{label}），渠道：{CHANNEL_LABELS[via]}{recorded_by}。" + (
            f"意见：{text}" if text and score >= 3 else ""
        )
        reopen = satisfaction is Satisfaction.unsatisfied
        data = TransitionCreate(
            action=TransitionAction.reopen if reopen else TransitionAction.close,
            satisfaction=satisfaction,
            reason=(text or f"市民回访不满意（{score}分），没有说明原因。") if reopen else None,
            note=note,
        )
        policy = sla.load_policy(settings.sla_policy_file) if settings is not None else None
        order = workflow.transition(session, number=number, data=data, actor=principal, policy=policy)
    deadline = sla.deadline_text(order.deadline, order.sla_working_days, start=utcnow()) if reopen else ""
    key = (
        ("reopened" if deadline else "reopened_no_deadline") if reopen else ("closed" if score >= 4 else "closed_basic")
    )
    return RatingResult(
        number=number,
        outcome="reopened" if reopen else "closed",
        score=score,
        satisfaction=satisfaction,
        status=order.status,
        deadline_text=deadline,
        message=wording.text(
            via,
            f"rating.{key}",
            score=score,
            label=label,
            number=vocabulary.format_work_order(number),
            deadline=deadline,
        ),
    )
