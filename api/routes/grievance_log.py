"""`/api/grievance-log`: search and verify the append-only, hash-chained log (no update or delete here)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlmodel import SQLModel

from api.deps import SessionDep, require
from api.models.grievance import GrievanceRecordPublic, ReceiptCheck, VerifyResult
from api.routes.params import Limit, Offset, SessionId, Since, TicketNumberQuery, Until
from api.services import access, audit, grievance_log, masking
from api.services.audit import Principal
from api.services.problems import problem

router = APIRouter(prefix="/api/grievance-log", tags=["grievance log"])

Searcher = Annotated[Principal, Depends(require("log.search"))]
Verifier = Annotated[Principal, Depends(require("log.verify"))]


class GrievanceLogPage(SQLModel):
    items: list[GrievanceRecordPublic]
    offset: int
    limit: int


def masked(rec: GrievanceRecordPublic) -> GrievanceRecordPublic:
    """Auditors check integrity, not people: phone and ID numbers in texts are masked for them."""
    rec.text = masking.mask_text(rec.text) or ""
    rec.replies = masking.mask_replies(rec.replies)
    return rec


@router.get("", response_model=GrievanceLogPage, responses={401: {}, 403: {}, 422: {}})
def search_log(
    session: SessionDep,
    user: Searcher,
    since: Since = None,
    until: Until = None,
    channel: Annotated[str | None, Query(pattern=r"^(web|sms|voice|unknown)$", examples=["web"])] = None,
    session_id: SessionId = None,
    ticket_number: TicketNumberQuery = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> GrievanceLogPage:
    """Records newest first, by time, channel, conversation or work order. Each search is audited."""
    if since and until and since >= until:
        raise problem(422, "bad_time_range")
    rows = grievance_log.search(
        session,
        channel=channel,
        session_id=session_id,
        ticket_number=ticket_number,
        since=since,
        until=until,
        offset=offset,
        limit=limit,
    )
    items = [GrievanceRecordPublic.model_validate(r) for r in rows]
    if access.masks_people(user):
        items = [masked(i) for i in items]
    audit.record_log_search(
        session,
        actor=user,
        results=len(items),
        channel=channel,
        session_id=session_id,
        ticket_number=ticket_number,
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
    )
    return GrievanceLogPage(items=items, offset=offset, limit=limit)


@router.get("/verify", response_model=VerifyResult, responses={401: {}, 403: {}})
def verify_log(session: SessionDep, user: Verifier) -> VerifyResult:
    """Walk the whole chain; `ok: false` names the first broken record and why."""
    result = grievance_log.verify(session)
    audit.record_log_verify(
        session, actor=user, ok=result.ok, records=result.records, first_broken_id=result.first_broken_id
    )
    return result


@router.get("/receipts/{record_id}", response_model=ReceiptCheck, responses={401: {}, 403: {}, 422: {}})
def check_receipt(
    session: SessionDep,
    user: Verifier,
    record_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    code: Annotated[str, Query(pattern=r"^\d{8}$", description="The 8-digit check code on the citizen's receipt")],
) -> ReceiptCheck:
    """Check a citizen's receipt (record number and check code) against the log; the check is audited."""
    result = grievance_log.check_receipt(session, record_id=record_id, code=code)
    audit.record_now(
        session,
        actor=user,
        action="log.receipt",
        target_type="grievance_log",
        target_id=str(record_id),
        detail={"valid": result.valid},
    )
    return result
