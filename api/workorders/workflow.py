"""What staff do to a work order once it exists: the loop's moves, edits of its fields, internal notes.

`lifecycle.MOVES` decides whether a move is allowed from the order's status and where
it leads; `EFFECTS` here says what each move does to the order besides its status. A
move or an edit makes a new version of the order (optimistic concurrency: a stale
version is a 409) with one event in its history and one audit event, committed together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from api.db import begin_write
from api.models.ticket import (
    OPEN_STATUSES,
    Satisfaction,
    Ticket,
    TicketCategory,
    TicketEvent,
    TicketNote,
    TicketNoteCreate,
    TicketStatus,
    TicketUpdate,
    TransitionAction,
    TransitionCreate,
)
from api.services import access, audit, sla
from api.services.audit import Principal
from api.services.grievance_log import utcnow
from api.services.problems import problem
from api.services.staff import get_department, get_user
from api.workorders import lifecycle
from api.workorders.queries import get_ticket

A = TransitionAction


@dataclass
class _Applying:
    """One move being applied: what its effect reads, and the audit detail it may add to."""

    session: Session
    ticket: Ticket
    data: TransitionCreate
    now: datetime
    policy: sla.SlaPolicy
    detail: dict[str, Any]


def _dispatch(move: _Applying) -> None:
    """派单: to the department given (or the one already set), to a named handler or to none."""
    ticket, data = move.ticket, move.data
    department_id = data.department_id or ticket.department_id
    if department_id is None:
        raise problem(422, "department_required")
    get_department(move.session, department_id=department_id, active_only=True)
    _check_assignee(move.session, data.assignee)
    ticket.department_id = department_id
    ticket.assignee = data.assignee.lower() if data.assignee else None
    move.detail["department_id"] = department_id


def _reject(move: _Applying) -> None:
    """退单: the order leaves the department (named in the audit) and its handler."""
    move.detail["department_id"] = move.ticket.department_id
    move.ticket.department_id = None
    move.ticket.assignee = None


def _accept(move: _Applying) -> None:
    """签收: the department may name who handles the order."""
    if move.data.assignee:
        _check_assignee(move.session, move.data.assignee)
        move.ticket.assignee = move.data.assignee.lower()


def _start(move: _Applying) -> None:
    """办理: only the status changes."""


def _reply(move: _Applying) -> None:
    """答复: the citizen's answer is required (given now or written before)."""
    reply = move.data.public_reply or move.ticket.public_reply
    if not reply:
        raise problem(422, "reply_required")
    move.ticket.public_reply = reply
    move.ticket.replied_at = move.now


def _resolve(move: _Applying) -> None:
    """办结."""
    move.ticket.resolved_at = move.now


def _follow_up(move: _Applying) -> None:
    """回访: the citizen's rating, if they gave one."""
    if move.data.satisfaction is not None:
        move.ticket.satisfaction = move.data.satisfaction.value


def _close(move: _Applying) -> None:
    """关闭: never over an unsatisfied rating (that order is reopened instead)."""
    ticket = move.ticket
    satisfaction = move.data.satisfaction or (Satisfaction(ticket.satisfaction) if ticket.satisfaction else None)
    if satisfaction is Satisfaction.unsatisfied:
        raise problem(422, "close_unsatisfied")
    ticket.satisfaction = satisfaction.value if satisfaction else None
    ticket.closed_at = move.now


def _reopen(move: _Applying) -> None:
    """重办: unsatisfied, handled again from scratch with a fresh deadline and no extensions."""
    ticket = move.ticket
    ticket.satisfaction = Satisfaction.unsatisfied.value
    ticket.reopen_count += 1
    ticket.replied_at = None
    ticket.resolved_at = None
    ticket.deadline, ticket.sla_working_days = sla.deadline_for(ticket.kind, move.now, move.policy)
    ticket.extension_count = 0


def _extend(move: _Applying) -> None:
    """延期: a later deadline, before the current one passes, within the policy's limits."""
    ticket, policy = move.ticket, move.policy
    if ticket.deadline is None or ticket.deadline <= move.now:
        raise problem(409, "deadline_passed")
    if ticket.extension_count >= policy.max_extensions:
        raise problem(409, "too_many_extensions", count=ticket.extension_count)
    days = move.data.working_days or policy.extension_default_working_days
    if days > policy.extension_max_working_days:
        raise problem(422, "extension_too_long", max=policy.extension_max_working_days)
    old = ticket.deadline
    ticket.deadline = sla.extend_deadline(old, days, policy)
    ticket.sla_working_days = (ticket.sla_working_days or 0) + days
    ticket.extension_count += 1
    move.detail.update(old_deadline=old.isoformat(), new_deadline=ticket.deadline.isoformat(), working_days=days)


# The transition table: each move of `lifecycle.MOVES` and what it does. An effect may refuse the
# move (a problem) before it changes anything; the status, version, event and audit follow in `transition`.
EFFECTS: dict[TransitionAction, Callable[[_Applying], None]] = {
    A.dispatch: _dispatch,
    A.reject: _reject,
    A.accept: _accept,
    A.start: _start,
    A.reply: _reply,
    A.resolve: _resolve,
    A.follow_up: _follow_up,
    A.close: _close,
    A.reopen: _reopen,
    A.extend: _extend,
}


def _check_assignee(session: Session, username: str | None) -> None:
    if not username:
        return
    user = get_user(session, username=username)
    if user is None or not user.active:
        raise problem(422, "assignee_not_found")


def _locked(session: Session, *, number: str, actor: Principal, version: int | None) -> Ticket:
    """The order, locked for a change, if the caller may see it and `version` (when given) is still current."""
    begin_write(session)
    ticket = access.check_ticket(actor, get_ticket(session, number=number, for_update=True))
    if version is not None and version != ticket.version:
        raise problem(409, "stale_version", current=ticket.version, given=version)
    return ticket


def _commit_version(
    session: Session,
    ticket: Ticket,
    *,
    actor: Principal,
    event: TicketEvent,
    audit_action: str,
    detail: dict[str, Any],
) -> Ticket:
    """The change as the order's next version, with its history event and its audit event, committed together."""
    ticket.version += 1
    ticket.updated_at = event.at
    session.add(ticket)
    session.add(event)
    audit.record(
        session, actor=actor, action=audit_action, target_type="ticket", target_id=ticket.number, detail=detail
    )
    session.commit()
    return ticket


def _event(
    ticket: Ticket,
    *,
    at: datetime,
    actor: Principal,
    action: str,
    before: TicketStatus,
    reason: str | None,
    note: str | None,
) -> TicketEvent:
    return TicketEvent(
        ticket_id=ticket.id or 0,
        at=at,
        actor=actor.username,
        action=action,
        from_status=before,
        to_status=ticket.status,
        reason=reason,
        note=note,
    )


def transition(
    session: Session,
    *,
    number: str,
    data: TransitionCreate,
    actor: Principal,
    policy: sla.SlaPolicy | None = None,
) -> Ticket:
    """Make one move of the loop; refused moves (and orders outside the caller's department) change nothing."""
    policy = sla.policy_or_configured(policy)
    ticket = _locked(session, number=number, actor=actor, version=data.version)
    action = data.action
    move = lifecycle.check(ticket.status, action, reason=data.reason)
    now = utcnow()
    before = ticket.status
    detail: dict[str, Any] = {"action": action.value}
    EFFECTS[action](_Applying(session=session, ticket=ticket, data=data, now=now, policy=policy, detail=detail))
    if move.target is not None:
        ticket.status = move.target
    event = _event(ticket, at=now, actor=actor, action=action.value, before=before, reason=data.reason, note=data.note)
    return _commit_version(
        session, ticket, actor=actor, event=event, audit_action="ticket." + action.value, detail=detail
    )


def update_ticket(
    session: Session, *, number: str, data: TicketUpdate, actor: Principal, policy: sla.SlaPolicy | None = None
) -> Ticket:
    """Apply a staff edit if `data.version` is current (optimistic concurrency), else 409.

    The caller's access to the order and to each change (see `access.check_edit`) is
    checked under the write lock before anything is changed. Lifting confidentiality is
    recorded with its reason in the order's history and in the audit trail.
    """
    ticket = _locked(session, number=number, actor=actor, version=data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version", "reason"})
    if changes.get("department_id") is not None:
        get_department(session, department_id=changes["department_id"], active_only=True)
    if changes.get("assignee"):
        _check_assignee(session, changes["assignee"])
        changes["assignee"] = changes["assignee"].lower()
    for required in ("kind", "category", "description", "priority", "confidential"):
        if required in changes and changes[required] is None:
            del changes[required]  # null on a required field means "leave as is"
    access.check_edit(actor, ticket, changes, reason=data.reason)
    lifted = changes.get("confidential") is False and ticket.confidential
    if "category" in changes:
        changes["category"] = TicketCategory(changes["category"]).value
    now = utcnow()
    if "kind" in changes and changes["kind"] != ticket.kind and ticket.status in OPEN_STATUSES:
        policy = sla.policy_or_configured(policy)
        ticket.deadline, ticket.sla_working_days = sla.deadline_for(changes["kind"], ticket.created_at, policy)
    for key, value in changes.items():
        setattr(ticket, key, value)
    fields = sorted(changes)
    note = "修改字段 / fields: " + ", ".join(fields) + ("（解除保密 / lifted confidentiality）" * lifted)
    detail: dict[str, Any] = {"fields": fields}
    if data.reason:
        detail["reason"] = data.reason
    if lifted:
        audit.record(
            session,
            actor=actor,
            action="ticket.confidentiality_lifted",
            target_type="ticket",
            target_id=number,
            detail={"reason": data.reason},
        )
    event = _event(ticket, at=now, actor=actor, action="edit", before=ticket.status, reason=data.reason, note=note)
    return _commit_version(session, ticket, actor=actor, event=event, audit_action="ticket.update", detail=detail)


def add_note(session: Session, *, number: str, data: TicketNoteCreate, actor: Principal) -> TicketNote:
    """A staff note on the order; not a new version, so it never makes a colleague's edit stale."""
    begin_write(session)
    ticket = access.check_ticket(actor, get_ticket(session, number=number))
    note = TicketNote(ticket_id=ticket.id or 0, at=utcnow(), author=actor.username, text=data.text)
    session.add(note)
    audit.record(session, actor=actor, action="ticket.note", target_type="ticket", target_id=number)
    session.commit()
    return note
