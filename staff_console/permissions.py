"""Who may open which console page and do what: one table, mirrored from the staff API's roles."""

from __future__ import annotations

from api.models.ticket import Ticket
from api.services.audit import Principal

# page key -> (address, navigation label), in navigation order
PAGES: dict[str, tuple[str, str]] = {
    "queue": ("/staff", "待办队列"),
    "tickets": ("/staff/tickets", "工单"),
    "oversight": ("/staff/oversight", "服务监督"),
    "audit": ("/staff/audit", "诉求日志审计"),
}

ROLES: dict[str, frozenset[str]] = {
    "queue": frozenset({"operator", "supervisor"}),
    "conversation": frozenset({"operator", "supervisor"}),
    "tickets": frozenset({"operator", "supervisor", "auditor"}),
    "ticket_write": frozenset({"operator", "supervisor"}),
    "oversight": frozenset({"supervisor", "admin"}),
    "audit": frozenset({"auditor", "supervisor"}),
}


def is_department_staff(principal: Principal) -> bool:
    """An operator of a handling department (not the hotline centre)."""
    return principal.role == "operator" and principal.department_id is not None


def may_open(principal: Principal, key: str) -> bool:
    if key in ("queue", "conversation") and is_department_staff(principal):
        return False  # conversations with citizens stay with the hotline centre
    return principal.role in ROLES[key]


def sees_ticket(principal: Principal, ticket: Ticket) -> bool:
    """Department staff see only the work orders dispatched to their department."""
    return not is_department_staff(principal) or ticket.department_id == principal.department_id
