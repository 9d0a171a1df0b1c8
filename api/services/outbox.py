"""The outbox: SMS and calls written with their cause, sent later by the task worker, each at most once.

`add` puts a message in the caller's session, so it is committed (or rolled back) with the
staff reply, follow-up request or status change that wants it. The worker calls `deliver`
for one row: it claims the row with one conditional UPDATE (status pending, or a `sending`
lease that ran out), commits, sends through Twilio, and records the result in a transaction
of its own. A failure waits `outbox_retry_seconds`, doubling each time, for up to
`outbox_max_attempts` tries; the final outcome (sent or failed, with Twilio's reason) is a
ticket event and an audit event. A row left in `sending` by a worker that crashed is looked at
again only after its lease. Before any try after the first, Twilio is asked whether the message
already went out, so neither a crash between Twilio's answer and our commit nor a request that
timed out after Twilio accepted it texts the citizen twice.

`after_commit` tells the worker about new rows at once (the composition root installs it);
`due` is the sweep that finds every row a lost task left behind.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import event, update
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, func, select

from api.clock import aware, utcnow
from api.db import begin_write, new_session
from api.integrations import twilio
from api.models.outbox import OutboxKind, OutboxMessage, OutboxStatus
from api.models.ticket import ContactPreference, FollowUp, FollowUpChannel, Ticket, TicketEvent
from api.services import audit, callers, masking
from api.settings import Settings

log = logging.getLogger("hotline.outbox")

ACTOR = "system:outbox"
SMS_MAX_CHARS = 1500
# Twilio's code for a number that answered STOP to the carrier: sending again is refused for good.
TWILIO_UNSUBSCRIBED = 21610
_NEW_ROWS = "hotline_outbox_new"

Outcome = Literal["sent", "retry", "failed", "skipped"]

# The ticket event of a final outcome: its action is `{purpose}_{kind}`, its note says what staff do next.
NOTES: dict[str, dict[str, str]] = {
    "follow_up_sms": {
        "sent": "回访短信已发出。",
        "failed": "回访短信发送失败，请电话回访。",
        "failed_no_call": "回访短信发送失败；市民不要电话联系，请不要打电话。",
    },
    "follow_up_call": {"sent": "回访电话已拨出，市民可以按键评分。", "failed": "回访电话没有拨出，请另行回访。"},
    "staff_reply_sms": {"sent": "工作人员的回复短信已发出。", "failed": "工作人员的回复短信发送失败，请另行联系市民。"},
}
FALLBACK_NOTES = {"sent": "短信已发出。", "failed": "短信发送失败。"}


def idempotency_key(*parts: object) -> str:
    """A stable key from what makes a message one message (its cause), so the same cause adds it once."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:64]


def add(
    session: Session,
    *,
    kind: OutboxKind,
    recipient: str,
    body: str,
    key: str,
    purpose: str = "",
    ticket_id: int | None = None,
) -> OutboxMessage:
    """Put one message in the caller's session, committed with the caller's change.

    Nothing is read, so no transaction is opened: a caller may add the row before the call that
    commits its change. The same key twice (the same cause committed twice) fails that commit.
    """
    now = utcnow()
    row = OutboxMessage(
        idempotency_key=key,
        kind=kind,
        purpose=purpose[:32],
        recipient=recipient[:32],
        body=body[:SMS_MAX_CHARS] if kind is OutboxKind.sms else body,
        ticket_id=ticket_id,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.info.setdefault(_NEW_ROWS, []).append(row)
    return row


# --- telling the worker -------------------------------------------------------------------------


def install_notifier(notify: Callable[[list[int]], None]) -> Callable[[], None]:
    """Call `notify(ids)` after each commit that added outbox rows; returns the function that uninstalls it.

    A notice that is lost (the queue is down) only delays the message until the next sweep.
    """

    def _after_commit(session: OrmSession) -> None:
        rows: list[OutboxMessage] = session.info.pop(_NEW_ROWS, [])
        ids = [row.id for row in rows if row.id is not None]
        if not ids:
            return
        try:
            notify(ids)
        except Exception as exc:  # the sweep sends it later
            log.warning("could not tell the worker about %d outbox message(s): %s", len(ids), type(exc).__name__)

    def _after_rollback(session: OrmSession, _previous: Any) -> None:
        session.info.pop(_NEW_ROWS, None)

    event.listen(OrmSession, "after_commit", _after_commit)
    event.listen(OrmSession, "after_soft_rollback", _after_rollback)

    def uninstall() -> None:
        event.remove(OrmSession, "after_commit", _after_commit)
        event.remove(OrmSession, "after_soft_rollback", _after_rollback)

    return uninstall


def due(session: Session, *, later_too: bool = False, limit: int = 500) -> list[tuple[int, datetime]]:
    """(id, when due) of unfinished rows, soonest first: pending ones, and `sending` ones whose lease has ended.

    `later_too` adds the rows not due yet (a worker that starts schedules them all).
    """
    now = utcnow()
    query = select(OutboxMessage.id, OutboxMessage.next_attempt_at).where(
        col(OutboxMessage.status).in_([OutboxStatus.pending, OutboxStatus.sending])
    )
    if not later_too:
        query = query.where(col(OutboxMessage.next_attempt_at) <= now)
    rows = session.exec(query.order_by(col(OutboxMessage.next_attempt_at)).limit(limit)).all()
    session.rollback()
    return [(int(i), aware(at)) for i, at in rows if i is not None]


def overdue_count(session: Session, *, late: timedelta = timedelta(minutes=5)) -> int:
    """Unfinished rows that were due more than `late` ago: a worker that is down or cannot keep up."""
    found = session.exec(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            col(OutboxMessage.status).in_([OutboxStatus.pending, OutboxStatus.sending]),
            col(OutboxMessage.next_attempt_at) < utcnow() - late,
        )
    ).one()
    session.rollback()
    return int(found)


# --- sending ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """What one `deliver` did; `retry_in` is when to try again (seconds) after a `retry`."""

    outcome: Outcome
    reason: str = ""
    retry_in: float = 0.0


@dataclass(frozen=True)
class _Claim:
    row: OutboxMessage
    claimed_at: datetime
    # Set when an earlier try may have reached Twilio (a crashed worker, a timeout): Twilio is asked first.
    check_since: datetime | None


class SendError(Exception):
    """Twilio refused or could not be reached; `final` when trying again cannot help."""

    def __init__(self, reason: str, *, final: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.final = final


def _claim(session: Session, outbox_id: int, settings: Settings) -> _Claim | None:
    """Take the row for this worker: one conditional UPDATE, committed before anything is sent."""
    now = utcnow()
    begin_write(session)
    row = session.exec(select(OutboxMessage).where(OutboxMessage.id == outbox_id).with_for_update()).first()
    if (
        row is None
        or row.status not in (OutboxStatus.pending, OutboxStatus.sending)
        or aware(row.next_attempt_at) > now
    ):
        session.rollback()
        return None
    # Any earlier try may have reached Twilio even though it failed here: a worker that crashed while Twilio
    # answered, or a request that timed out after Twilio had accepted it. Twilio is asked before sending again.
    check_since = aware(row.created_at) if row.attempts > 0 else None
    result = session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.id) == outbox_id,
            col(OutboxMessage.status).in_([OutboxStatus.pending, OutboxStatus.sending]),
            col(OutboxMessage.next_attempt_at) <= now,
        )
        .values(
            status=OutboxStatus.sending,
            attempts=OutboxMessage.attempts + 1,
            claimed_at=now,
            next_attempt_at=now + timedelta(seconds=settings.outbox_lease_seconds),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return None
    session.commit()
    session.refresh(row)
    session.rollback()
    return _Claim(row=row, claimed_at=now, check_since=check_since)


def _twilio_reason(exc: Exception) -> SendError:
    from twilio.base.exceptions import TwilioRestException

    if isinstance(exc, TwilioRestException):
        text = masking.mask_text(str(exc.msg or "")[:160]) or ""
        reason = f"Twilio {exc.status} code {exc.code}: {text}"
        return SendError(reason[:300], final=exc.code == TWILIO_UNSUBSCRIBED)
    return SendError(f"{type(exc).__name__}: {masking.mask_text(str(exc)[:160])}"[:300])


def _already_sent(client: Any, row: OutboxMessage, settings: Settings, since: datetime, taken: set[str]) -> str | None:
    """Before another try: the sid of the message or call Twilio already made for this row, if any.

    `taken` are the sids other rows to this number were recorded with: the same words sent twice on
    purpose (two identical staff replies) are two messages, and one cannot stand for the other.
    """
    margin = since - timedelta(minutes=1)
    if row.kind is OutboxKind.sms:
        for msg in client.messages.list(to=row.recipient, date_sent_after=margin, limit=50):
            if str(msg.sid) in taken:
                continue
            if (msg.body or "") == row.body and str(msg.from_ or "") == settings.twilio_phone_number:
                return str(msg.sid)
        return None
    for call in client.calls.list(to=row.recipient, start_time_after=margin, limit=50):
        if str(call.sid) not in taken:
            return str(call.sid)
    return None


def _sids_of_other_rows(session: Session, row: OutboxMessage) -> set[str]:
    sids = session.exec(
        select(OutboxMessage.provider_sid).where(
            OutboxMessage.recipient == row.recipient, OutboxMessage.id != row.id, OutboxMessage.provider_sid != ""
        )
    ).all()
    session.rollback()
    return set(sids)


def _send(row: OutboxMessage, settings: Settings, since: datetime | None, http_client: Any, taken: set[str]) -> str:
    """Send through Twilio; the provider's sid. Raises SendError."""
    if not (settings.twilio_enabled and settings.twilio_phone_number):
        raise SendError("短信和电话服务未配置 / Twilio is not configured", final=True)
    if row.kind is OutboxKind.sms and callers.is_unsubscribed(settings, row.recipient):
        raise SendError("号码已退订短信 / the number unsubscribed (退订)", final=True)
    client = twilio.rest_client(settings, http_client=http_client)
    try:
        if since is not None:
            sid = _already_sent(client, row, settings, since, taken)
            if sid is not None:
                return sid
        if row.kind is OutboxKind.sms:
            made = client.messages.create(to=row.recipient, from_=settings.twilio_phone_number, body=row.body)
        else:
            made = client.calls.create(
                to=row.recipient, from_=settings.twilio_phone_number, url=row.body, method="POST"
            )
    except Exception as exc:  # any Twilio or network error is recorded and retried
        raise _twilio_reason(exc) from None
    return str(getattr(made, "sid", "") or "")


def _finish(session: Session, claim: _Claim, *, status: OutboxStatus, values: dict[str, Any], reason: str = "") -> bool:
    """Record the result only while this worker still holds the row (its claim is the current one)."""
    begin_write(session)
    result = session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.id) == claim.row.id,
            col(OutboxMessage.status) == OutboxStatus.sending,
            col(OutboxMessage.claimed_at) == claim.claimed_at,
        )
        .values(status=status, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return False
    if status in (OutboxStatus.sent, OutboxStatus.failed):
        _record_outcome(session, claim.row, status=status, reason=reason)
    session.commit()
    return True


def _record_outcome(session: Session, row: OutboxMessage, *, status: OutboxStatus, reason: str) -> None:
    """The final outcome on the work order's events and in the audit trail (the number masked)."""
    outcome = "sent" if status is OutboxStatus.sent else "failed"
    detail = {
        "outbox_id": row.id,
        "kind": row.kind.value,
        "purpose": row.purpose,
        "to": masking.mask_phone(row.recipient),
        "attempts": row.attempts,
        "outcome": outcome,
        "reason": reason,
    }
    audit.record(
        session, actor=ACTOR, action=f"outbox_{row.kind.value}_{outcome}", target_type="outbox", target_id=str(row.id),
        detail=detail,
    )  # fmt: skip
    if row.ticket_id is None:
        return
    ticket = session.get(Ticket, row.ticket_id)
    current = ticket.status if ticket is not None else None
    action = f"{row.purpose}_{row.kind.value}"
    no_call = ticket is not None and ticket.contact_preference not in ("", ContactPreference.call)
    note_key = "failed_no_call" if outcome == "failed" and no_call else outcome
    notes = NOTES.get(action, FALLBACK_NOTES)
    session.add(
        TicketEvent(
            ticket_id=row.ticket_id,
            at=utcnow(),
            actor=ACTOR,
            action=action[:16],
            from_status=current,
            to_status=current,
            note=notes.get(note_key, notes[outcome]),
            reason=reason or None,
        )
    )
    if action == "follow_up_sms" and outcome == "failed":
        # The rating now comes by a call-back, or through the web link when the citizen is not to be phoned.
        latest = session.exec(
            select(FollowUp).where(FollowUp.ticket_id == row.ticket_id).order_by(col(FollowUp.id).desc())
        ).first()
        if latest is not None and latest.channel is FollowUpChannel.sms and latest.answered_at is None:
            latest.channel = FollowUpChannel.web if no_call else FollowUpChannel.voice
            session.add(latest)


def backoff(settings: Settings, attempts: int) -> float:
    """Seconds before try number `attempts + 1`: the base, doubled after each failed try."""
    return float(settings.outbox_retry_seconds * 2 ** max(0, attempts - 1))


def deliver(outbox_id: int, settings: Settings, *, http_client: Any = None) -> Delivery:
    """Claim, send and record one outbox row (the worker's task); `skipped` when it is not due or not ours."""
    with new_session() as session:
        claim = _claim(session, outbox_id, settings)
        if claim is None:
            return Delivery("skipped")
        row = claim.row
        try:
            taken = _sids_of_other_rows(session, row) if claim.check_since else set()
            sid = _send(row, settings, claim.check_since, http_client, taken)
        except SendError as exc:
            if exc.final or row.attempts >= settings.outbox_max_attempts:
                _finish(
                    session, claim, status=OutboxStatus.failed, values={"last_error": exc.reason}, reason=exc.reason
                )
                log.warning("outbox %s %s failed after %d tries: %s", row.id, row.kind.value, row.attempts, exc.reason)
                return Delivery("failed", exc.reason)
            wait = backoff(settings, row.attempts)
            values = {"last_error": exc.reason, "next_attempt_at": utcnow() + timedelta(seconds=wait)}
            _finish(session, claim, status=OutboxStatus.pending, values=values)
            log.info("outbox %s try %d failed (%s); again in %.1fs", row.id, row.attempts, exc.reason, wait)
            return Delivery("retry", exc.reason, wait)
        _finish(session, claim, status=OutboxStatus.sent, values={"sent_at": utcnow(), "provider_sid": sid[:64]})
        return Delivery("sent")


STATUS_TEXT = {
    OutboxStatus.pending: "等待发送",
    OutboxStatus.sending: "正在发送",
    OutboxStatus.sent: "已发出",
    OutboxStatus.failed: "发送失败",
}
KIND_TEXT = {OutboxKind.sms: "短信", OutboxKind.call: "电话"}
PURPOSE_TEXT = {"follow_up": "回访", "staff_reply": "工作人员回复", "answer": "答复"}


def for_ticket(session: Session, ticket_id: int) -> list[dict[str, Any]]:
    """A work order's messages for staff, oldest first, in words, the number masked (the console's order page)."""
    rows = session.exec(
        select(OutboxMessage).where(OutboxMessage.ticket_id == ticket_id).order_by(col(OutboxMessage.id))
    ).all()
    return [
        {
            "at": row.sent_at or row.created_at,
            "kind": KIND_TEXT[row.kind],
            "purpose": PURPOSE_TEXT.get(row.purpose, row.purpose),
            "to": masking.mask_phone(row.recipient),
            "status": STATUS_TEXT[row.status],
            "failed": row.status is OutboxStatus.failed,
            "attempts": row.attempts,
            "reason": row.last_error if row.status is not OutboxStatus.sent else "",
        }
        for row in rows
    ]
