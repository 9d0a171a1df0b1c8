"""The 12345 closed loop as a state machine.

受理 → 派单 → 签收 → 办理 → 答复 → 办结 → 回访 → 关闭, with 退单 (back to 受理 with a
reason), 延期 (a longer deadline, with a reason, only before the deadline) and
重办 (reopen after an unsatisfied follow-up). This module only decides what is
allowed; `api.services.tickets` applies the move and records the event.
"""

from __future__ import annotations

from dataclasses import dataclass

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
