"""The 12345 closed loop as a state machine.

受理 → 派单 → 签收 → 办理 → 答复 → 办结 → 回访 → 关闭, with 退单 (back to 受理 with a
reason), 延期 (a longer deadline, with a reason, only before the deadline) and
重办 (reopen after an unsatisfied follow-up). This module only decides what is
allowed; `api.workorders.workflow` applies the move (its `EFFECTS` table) and records the event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from api.models.ticket import STATUS_LABELS, TicketStatus, TransitionAction
from api.services.problems import problem

S = TicketStatus
A = TransitionAction


@dataclass(frozen=True)
class Move:
    sources: frozenset[TicketStatus]
    target: TicketStatus | None  # None: the status stays (延期)
    label: str
    needs_reason: bool = False


MOVES: dict[TransitionAction, Move] = {
    A.dispatch: Move(frozenset({S.received, S.reopened}), S.dispatched, "派单"),
    A.reject: Move(frozenset({S.dispatched, S.accepted}), S.received, "退单", needs_reason=True),
    A.accept: Move(frozenset({S.dispatched}), S.accepted, "签收"),
    A.start: Move(frozenset({S.accepted, S.reopened}), S.in_progress, "办理"),
    A.reply: Move(frozenset({S.in_progress}), S.replied, "答复"),
    A.resolve: Move(frozenset({S.replied}), S.resolved, "办结"),
    A.follow_up: Move(frozenset({S.resolved}), S.follow_up, "回访"),
    A.close: Move(frozenset({S.follow_up}), S.closed, "关闭"),
    A.reopen: Move(frozenset({S.follow_up}), S.reopened, "重办", needs_reason=True),
    A.extend: Move(frozenset({S.dispatched, S.accepted, S.in_progress, S.reopened}), None, "延期", needs_reason=True),
}

ACTION_LABELS: dict[TransitionAction, str] = {action: move.label for action, move in MOVES.items()}


def allowed_actions(status: TicketStatus) -> list[TransitionAction]:
    """The moves possible from `status`, in the loop's order."""
    return [action for action, move in MOVES.items() if status in move.sources]


def check(status: TicketStatus, action: TransitionAction, *, reason: str | None) -> Move:
    """The move, or a 409 naming what is allowed / a 422 when a needed reason is missing."""
    move = MOVES[action]
    if status not in move.sources:
        allowed = allowed_actions(status)
        raise problem(
            409,
            "illegal_transition",
            status=STATUS_LABELS[status],
            status_en=status.value,
            action=move.label,
            action_code=action.value,
            allowed="、".join(f"{ACTION_LABELS[a]}（{a.value}）" for a in allowed) or "无（工单已关闭）",
            allowed_codes=", ".join(a.value for a in allowed) or "none",
        )
    if move.needs_reason and not (reason and reason.strip()):
        raise problem(422, "reason_required", action=move.label, action_code=action.value)
    return move


# --- what happened since a version (the 409 a staff member sees must say what changed) -----------------

# Events that made a new version of the work order (each edit and move adds exactly one; "create" is version 1).
VERSIONED_EVENTS = frozenset({"create", "edit", *(a.value for a in TransitionAction)})
EVENT_LABELS: dict[str, str] = {
    "create": "登记工单",
    "edit": "修改",
    "follow_up_sms": "回访短信",
    "follow_up_call": "回访电话",
    "staff_reply_sms": "回复短信",
    "sla_reminder": "期限提醒",
    "sla_escalation": "超期上报",
    **{a.value: label for a, label in ACTION_LABELS.items()},
}
# Work-order fields in the words the console uses (an edit event names the fields it changed).
FIELD_LABELS: dict[str, str] = {
    "kind": "类型",
    "category": "类别",
    "description": "诉求内容",
    "district": "区县",
    "street": "街道",
    "community": "社区",
    "occurred_at_text": "发生时间",
    "wish": "市民希望",
    "contact_phone": "联系电话",
    "contact_name": "姓名",
    "contact_preference": "联系方式偏好",
    "priority": "紧急程度",
    "confidential": "保密",
    "assignee": "承办人",
    "department_id": "承办部门",
    "public_reply": "给市民的答复",
}


class _Event(Protocol):
    action: str
    from_status: TicketStatus | None
    to_status: TicketStatus | None
    reason: str | None
    note: str | None


E = TypeVar("E", bound=_Event)


def events_since(events: Sequence[E], *, version: int, current: int) -> list[E]:
    """The events after the one that made `version`, when the work order is now at `current`.

    Each version after the first was made by exactly one edit or move, so they are the last
    `current - version` versioned events, with any unversioned event (an SMS outcome) after them.
    """
    newer = current - version
    if newer <= 0:
        return []
    positions = [i for i, e in enumerate(events) if e.action in VERSIONED_EVENTS]
    if not positions:
        return []
    start = positions[-newer] if newer <= len(positions) else 0
    return list(events[start:])


def describe_event(event: _Event) -> str:
    """One event in plain Chinese: the action, the status change, the fields edited, the reason."""
    label = EVENT_LABELS.get(event.action, event.action)
    parts = [label]
    if event.from_status and event.to_status and event.from_status != event.to_status:
        parts.append(f"状态从“{STATUS_LABELS[event.from_status]}”变为“{STATUS_LABELS[event.to_status]}”")
    if event.action == "edit" and event.note:
        names = event.note.split(":", 1)[-1].split("（")[0]
        fields = [FIELD_LABELS.get(n.strip(), n.strip()) for n in names.split(",") if n.strip()]
        if fields:
            parts.append("改了" + "、".join(fields))
        if "解除保密" in event.note:
            parts.append("解除了保密")
    elif event.note:
        parts.append(f"备注：{event.note}")
    if event.reason:
        parts.append(f"原因：{event.reason}")
    return "，".join(parts)
