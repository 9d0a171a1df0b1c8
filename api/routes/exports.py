"""`/api/exports`: work orders and the grievance log as CSV or JSON Lines, for supervisors."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from api.deps import SessionDep, require
from api.models.ticket import TicketKind, TicketStatus
from api.routes.params import Since, Until
from api.services import audit, exports, log_checkpoints
from api.services.audit import Principal
from api.services.grievance_log import utcnow
from api.services.problems import problem
from api.workorders import queries

router = APIRouter(prefix="/api/exports", tags=["exports"])

Supervisor = Annotated[Principal, Depends(require("export"))]


class ExportFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


MEDIA = {ExportFormat.csv: "text/csv; charset=utf-8", ExportFormat.jsonl: "application/x-ndjson; charset=utf-8"}
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file (CSV with a BOM for Excel, or one JSON object per line)",
        "content": {"text/csv": {}, "application/x-ndjson": {}},
    },
    401: {"description": "Not logged in"},
    403: {"description": "Supervisors only"},
    422: {"description": "Invalid filter"},
}


def _download(lines: object, fmt: ExportFormat, name: str) -> StreamingResponse:
    filename = f"{name}-{utcnow():%Y%m%d%H%M%S}.{fmt.value}"
    return StreamingResponse(
        lines,  # type: ignore[arg-type]
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/tickets", response_class=StreamingResponse, responses=FILE_RESPONSES)
def export_tickets(
    session: SessionDep,
    user: Supervisor,
    format: Annotated[ExportFormat, Query(description="csv or jsonl")] = ExportFormat.csv,
    status: TicketStatus | None = None,
    kind: TicketKind | None = None,
    created_since: Since = None,
    created_until: Until = None,
) -> StreamingResponse:
    """All matching work orders in number order. The export itself is an audit event."""
    if created_since and created_until and created_since >= created_until:
        raise problem(422, "bad_time_range")
    flt = queries.TicketFilter(status=status, kind=kind, created_since=created_since, created_until=created_until)
    audit.record_now(
        session,
        actor=user,
        action="export.tickets",
        target_type="ticket",
        detail={
            "format": format.value,
            "status": status.value if status else None,
            "kind": kind.value if kind else None,
        },
    )
    rows = exports.iter_ticket_rows(session.get_bind(), flt=flt)  # type: ignore[arg-type]
    return _download(exports.render(rows, fmt=format.value, columns=exports.TICKET_COLUMNS), format, "tickets")


@router.get("/grievance-log", response_class=StreamingResponse, responses=FILE_RESPONSES)
def export_log(
    session: SessionDep,
    user: Supervisor,
    format: Annotated[ExportFormat, Query(description="csv or jsonl")] = ExportFormat.jsonl,
    since: Since = None,
    until: Until = None,
    channel: Annotated[str | None, Query(pattern=r"^(web|sms|voice|unknown)$")] = None,
) -> StreamingResponse:
    """The log with its hashes, so the export can be verified offline. The export is an audit event.

    A signed checkpoint of the head is written first: what was exported can never silently shrink.
    """
    if since and until and since >= until:
        raise problem(422, "bad_time_range")
    checkpoint = log_checkpoints.write(session, reason="export")
    audit.record_now(
        session,
        actor=user,
        action="export.log",
        target_type="grievance_log",
        detail={"format": format.value, "checkpoint": checkpoint.seq if checkpoint else None},
    )
    rows = exports.iter_log_rows(session.get_bind(), since=since, until=until, channel=channel)  # type: ignore[arg-type]
    return _download(exports.render(rows, fmt=format.value, columns=exports.LOG_COLUMNS), format, "grievance-log")
