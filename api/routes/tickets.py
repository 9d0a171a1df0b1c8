"""`/api/tickets`: work orders for staff, and creation for the assistant's action server."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Response

from api.db import begin_write
from api.deps import SessionDep, SettingsDep, require
from api.models.ticket import (
    CHANNEL_VALUES,
    TicketCategory,
    TicketCreate,
    TicketCreated,
    TicketEventPublic,
    TicketKind,
    TicketNoteCreate,
    TicketNotePublic,
    TicketPage,
    TicketPriority,
    TicketPublic,
    TicketStatus,
    TicketUpdate,
    TransitionCreate,
)
from api.routes.params import MAX_INT, NO_NUL, Limit, Offset, SessionId, Since, Until
from api.services import access, masking, sla
from api.services.audit import Principal
from api.workorders import creation, queries, workflow

router = APIRouter(prefix="/api/tickets", tags=["tickets"])

Creator = Annotated[Principal, Depends(require("ticket.create"))]
Reader = Annotated[Principal, Depends(require("ticket.read"))]
Worker = Annotated[Principal, Depends(require("ticket.write"))]
Number = Annotated[str, Path(pattern=r"^\d{12}$", description="12-digit work-order number", examples=["202611240007"])]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Role not allowed"},
    404: {"description": "No such work order (or not one of your department's)"},
    422: {"description": "Invalid input"},
}


@router.post(
    "",
    response_model=TicketCreated,
    status_code=201,
    responses={**ERRORS, 200: {"description": "Replay of an Idempotency-Key: the work order created first"}},
)
def create_ticket(
    data: TicketCreate,
    session: SessionDep,
    settings: SettingsDep,
    user: Creator,
    response: Response,
    idempotency_key: Annotated[
        str | None, Header(max_length=128, pattern=NO_NUL, description="Same key, same work order (safe retries)")
    ] = None,
) -> TicketCreated:
    """Open a work order (受理): number, deadline on the working-day calendar, and the deadline in plain Chinese."""
    created_before = None
    if idempotency_key:
        begin_write(session)  # SQLite: take the write lock before the read, as create_ticket would
        created_before = creation.find_by_idempotency_key(session, actor=user, key=idempotency_key)
    ticket = created_before or creation.create_ticket(
        session,
        data=data,
        actor=user,
        idempotency_key=idempotency_key,
        policy=sla.load_policy(settings.sla_policy_file),
    )
    if created_before is not None:
        response.status_code = 200
    return queries.to_created(ticket)


@router.get("", response_model=TicketPage, responses=ERRORS)
def list_tickets(
    session: SessionDep,
    settings: SettingsDep,
    user: Reader,
    status: TicketStatus | None = None,
    kind: TicketKind | None = None,
    category: TicketCategory | None = None,
    priority: TicketPriority | None = None,
    channel: Annotated[str | None, Query(max_length=16, pattern="^(" + "|".join(CHANNEL_VALUES) + ")$")] = None,
    department_id: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
    assignee: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    session_id: SessionId = None,
    overdue: Annotated[bool | None, Query(description="true: open and past the deadline")] = None,
    due_soon: Annotated[bool | None, Query(description="true: open, deadline within the policy's hours")] = None,
    created_since: Since = None,
    created_until: Until = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> TicketPage:
    """Filter work orders; `overdue=true` / `due_soon=true` list the SLA worries, most urgent first."""
    department_id = access.department_scope(user) or department_id
    flt = queries.TicketFilter(
        status=status,
        kind=kind,
        category=category,
        priority=priority,
        channel=channel,
        department_id=department_id,
        assignee=assignee,
        session_id=session_id,
        overdue=overdue,
        due_soon=due_soon,
        created_since=created_since,
        created_until=created_until,
    )
    rows, total = queries.list_tickets(
        session, flt=flt, offset=offset, limit=limit, policy=sla.load_policy(settings.sla_policy_file)
    )
    return TicketPage(
        items=[queries.to_public(t, principal=user) for t in rows], total=total, offset=offset, limit=limit
    )


@router.get("/{number}", response_model=TicketPublic, responses=ERRORS)
def get_ticket(number: Number, session: SessionDep, user: Reader) -> TicketPublic:
    ticket = access.check_ticket(user, queries.get_ticket(session, number=number))
    return queries.to_public(ticket, principal=user)


@router.patch(
    "/{number}",
    response_model=TicketPublic,
    responses={**ERRORS, 409: {"description": "Stale version: someone else changed it first"}},
)
def update_ticket(
    number: Number, data: TicketUpdate, session: SessionDep, settings: SettingsDep, user: Worker
) -> TicketPublic:
    """Edit fields; send the `version` you read. A stale version is a 409 and nothing changes.

    Lifting confidentiality (`confidential: false` on a confidential order) is for supervisors,
    with a `reason` (403 / 422 otherwise, and nothing changes); it is kept in the audit trail.
    """
    ticket = workflow.update_ticket(
        session, number=number, data=data, actor=user, policy=sla.load_policy(settings.sla_policy_file)
    )
    return queries.to_public(ticket, principal=user)


@router.post(
    "/{number}/transitions",
    response_model=TicketPublic,
    responses={**ERRORS, 409: {"description": "Move not allowed now; the message names the allowed moves"}},
)
def transition(
    number: Number, data: TransitionCreate, session: SessionDep, settings: SettingsDep, user: Worker
) -> TicketPublic:
    """One move of the 12345 loop: dispatch, reject (退单), accept, start, reply, resolve, follow_up, close,
    reopen, extend (延期)."""
    ticket = workflow.transition(
        session, number=number, data=data, actor=user, policy=sla.load_policy(settings.sla_policy_file)
    )
    return queries.to_public(ticket, principal=user)


@router.get("/{number}/events", response_model=list[TicketEventPublic], responses=ERRORS)
def list_events(number: Number, session: SessionDep, user: Reader) -> list[TicketEventPublic]:
    """The work order's history: who moved it, when, from and to which status, and why."""
    access.check_ticket(user, queries.get_ticket(session, number=number))
    return [TicketEventPublic.model_validate(e) for e in queries.list_events(session, number=number)]


@router.get("/{number}/notes", response_model=list[TicketNotePublic], responses=ERRORS)
def list_notes(number: Number, session: SessionDep, user: Reader) -> list[TicketNotePublic]:
    """Internal notes (never shown to the citizen); masked for auditors."""
    ticket = access.check_ticket(user, queries.get_ticket(session, number=number))
    hide = not access.sees_identity(user, ticket)
    notes = [TicketNotePublic.model_validate(n) for n in queries.list_notes(session, number=number)]
    for note in notes:
        if hide:
            note.text = masking.mask_text(note.text) or ""
    return notes


@router.post("/{number}/notes", response_model=TicketNotePublic, status_code=201, responses=ERRORS)
def add_note(number: Number, data: TicketNoteCreate, session: SessionDep, user: Worker) -> TicketNotePublic:
    return TicketNotePublic.model_validate(workflow.add_note(session, number=number, data=data, actor=user))
