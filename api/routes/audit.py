"""`/api/audit-events`: the trail of staff actions, for auditors and administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import SessionDep, require
from api.models.staff import AuditEventPublic
from api.routes.params import NO_NUL, Limit, Offset, Since, Until
from api.services import audit
from api.services.audit import Principal

router = APIRouter(prefix="/api/audit-events", tags=["staff"])

Auditor = Annotated[Principal, Depends(require("audit_trail"))]


@router.get("", response_model=list[AuditEventPublic])
def search_audit_events(
    session: SessionDep,
    _user: Auditor,
    actor: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    action: Annotated[str | None, Query(max_length=32, pattern=NO_NUL, examples=["ticket.dispatch"])] = None,
    target_id: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    since: Since = None,
    until: Until = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> list[AuditEventPublic]:
    """Newest first."""
    rows = audit.search(
        session,
        actor=actor,
        action=action,
        target_id=target_id,
        since=since,
        until=until,
        offset=offset,
        limit=limit,
    )
    return [AuditEventPublic.model_validate(r) for r in rows]
