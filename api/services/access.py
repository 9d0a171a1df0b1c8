"""Who may do what: every role, department and confidentiality rule, for the staff API and the console alike.

The API's routes (`api.deps.require`), the console's pages (`staff_console.deps.page`)
and the services that change work orders ask this module and nothing else. The checks
on a work order run inside the write transaction, after the order is read under the
write lock and before anything is changed, so a refused action changes nothing.

Roles: operators and supervisors of the hotline centre work the orders and the
conversations; operators of a handling department (an operator with a department)
see and work only the orders dispatched to their department, and never see who
called about a confidential order; auditors read everything masked and check the
log; administrators manage accounts and departments. The assistant's action server
("service") may only open work orders.
"""

from __future__ import annotations

from typing import Any

from api.models.ticket import Ticket
from api.services.audit import SERVICE_ROLE, Principal
from api.services.problems import problem

OPERATOR, SUPERVISOR, AUDITOR, ADMIN = "operator", "supervisor", "auditor", "admin"

# capability -> the roles that have it
RULES: dict[str, frozenset[str]] = {
    "ticket.create": frozenset({SERVICE_ROLE, OPERATOR, SUPERVISOR}),
    "ticket.read": frozenset({OPERATOR, SUPERVISOR, AUDITOR}),
    "ticket.write": frozenset({OPERATOR, SUPERVISOR}),
    # Lifting confidentiality shows the caller to everyone who can read the order: supervisors only.
    "ticket.lift_confidential": frozenset({SUPERVISOR}),
    "conversation": frozenset({OPERATOR, SUPERVISOR}),
    "conversation.release_any": frozenset({SUPERVISOR}),
    "log.search": frozenset({AUDITOR, SUPERVISOR}),
    "log.verify": frozenset({AUDITOR, SUPERVISOR}),
    "export": frozenset({SUPERVISOR}),
    "oversight": frozenset({SUPERVISOR, ADMIN}),
    "audit_trail": frozenset({AUDITOR, ADMIN}),
    "users": frozenset({ADMIN}),
    # Staff write answer entries; a supervisor approves them before citizens read them.
    "knowledge.write": frozenset({OPERATOR, SUPERVISOR}),
    "knowledge.approve": frozenset({SUPERVISOR}),
    "departments": frozenset({ADMIN}),
}

# Conversations with citizens (and the queue of them) stay with the hotline centre.
CENTRE_ONLY = frozenset({"conversation", "conversation.release_any", "knowledge.write", "knowledge.approve"})

# Roles that read people's details masked everywhere (they check integrity, not people).
MASKED_ROLES = frozenset({AUDITOR})


def is_department_staff(principal: Principal) -> bool:
    """An operator of a handling department (not the hotline centre)."""
    return principal.role == OPERATOR and principal.department_id is not None


def may(principal: Principal, capability: str) -> bool:
    if capability in CENTRE_ONLY and is_department_staff(principal):
        return False
    return principal.role in RULES[capability]


def require(principal: Principal, capability: str) -> Principal:
    """The principal if it has the capability, else 403 naming the roles that do."""
    if not may(principal, capability):
        raise problem(403, "role_forbidden", role=principal.role or "-", needed="/".join(sorted(RULES[capability])))
    return principal


def department_scope(principal: Principal) -> int | None:
    """The only department whose work orders this caller may list (None: all of them)."""
    return principal.department_id if is_department_staff(principal) else None


def sees_ticket(principal: Principal, ticket: Ticket) -> bool:
    """Department staff see and work only the orders dispatched to their department."""
    return not is_department_staff(principal) or ticket.department_id == principal.department_id


def check_ticket(principal: Principal, ticket: Ticket) -> Ticket:
    """404 (as for a number that does not exist) when the order is outside the caller's department."""
    if not sees_ticket(principal, ticket):
        raise problem(404, "ticket_not_found")
    return ticket


def sees_identity(principal: Principal, ticket: Ticket) -> bool:
    """Whether this caller may see the caller's name, phone and ID numbers on this work order."""
    if principal.role in MASKED_ROLES:
        return False
    # Confidential: staff of a handling department never see who called; the hotline centre does.
    return not (ticket.confidential and is_department_staff(principal))


def masks_people(principal: Principal) -> bool:
    """Whether phone and ID numbers in log records are masked for this caller."""
    return principal.role in MASKED_ROLES


def check_edit(principal: Principal, ticket: Ticket, changes: dict[str, Any], *, reason: str | None) -> None:
    """Refuse an edit this caller may not make (the order is already known to be in scope).

    - Lifting confidentiality (true -> false): supervisors only, with a reason.
    - Department staff cannot move an order to another department by editing it (退单 is the way back).
    """
    if changes.get("confidential") is False and ticket.confidential:
        require(principal, "ticket.lift_confidential")
        if not reason:
            raise problem(422, "confidential_reason_required")
    if (
        is_department_staff(principal)
        and "department_id" in changes
        and changes["department_id"] != principal.department_id
    ):
        raise problem(403, "department_move_forbidden")


def may_release(principal: Principal, holder: str | None) -> bool:
    """A conversation is handed back by whoever holds it, or by a supervisor."""
    return holder == principal.username or may(principal, "conversation.release_any")
