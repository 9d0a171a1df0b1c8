"""Exports of work orders and the grievance log as CSV (UTF-8 with BOM, for Excel) or JSON Lines.

Rows are read in batches in a session of their own, so an export of any size
streams without holding the request's session or all rows in memory.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.models.grievance import GrievanceRecord
from api.models.ticket import STATUS_LABELS, Ticket
from api.services import sla
from api.workorders import queries

TICKET_COLUMNS = [
    "number",
    "kind",
    "category",
    "status",
    "status_text",
    "priority",
    "channel",
    "created_at",
    "deadline",
    "deadline_text",
    "district",
    "street",
    "community",
    "location_text",
    "occurred_at_text",
    "description",
    "wish",
    "contact_name",
    "contact_phone",
    "contact_preference",
    "confidential",
    "department_id",
    "assignee",
    "extension_count",
    "reopen_count",
    "replied_at",
    "resolved_at",
    "closed_at",
    "satisfaction",
    "satisfaction_score",
    "public_reply",
    "session_id",
    "created_by",
    "version",
]

LOG_COLUMNS = [
    "id",
    "created_at",
    "channel",
    "session_id",
    "caller_key",
    "text",
    "asr_confidence",
    "status",
    "error_code",
    "outcome",
    "intent",
    "intent_confidence",
    "replies",
    "handoff",
    "ticket_number",
    "latency_ms",
    "completed_at",
    "prev_hash",
    "record_hash",
    "completion_hash",
]


def ticket_row(ticket: Ticket) -> dict[str, Any]:
    row = ticket.model_dump(mode="json")
    row["kind"] = ticket.kind.value
    row["status_text"] = STATUS_LABELS[ticket.status]
    row["deadline_text"] = sla.deadline_text(ticket.deadline, ticket.sla_working_days, start=ticket.created_at)
    return {c: row.get(c) for c in TICKET_COLUMNS}


def log_row(rec: GrievanceRecord) -> dict[str, Any]:
    row = rec.model_dump(mode="json")
    return {c: row.get(c) for c in LOG_COLUMNS}


def _cell(value: Any) -> str:
    """Plain text for a CSV cell; formulas are neutralised (a leading = + - @ would run in Excel)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_lines(rows: Iterator[dict[str, Any]], columns: list[str]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    yield "\ufeff" + buf.getvalue()
    for row in rows:
        buf.seek(0)
        buf.truncate()
        writer.writerow([_cell(row.get(c)) for c in columns])
        yield buf.getvalue()


def jsonl_lines(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False) + "\n"


def iter_ticket_rows(engine: Engine, *, flt: queries.TicketFilter) -> Iterator[dict[str, Any]]:
    with Session(engine) as session:
        for ticket in queries.iter_tickets(session, flt=flt):
            yield ticket_row(ticket)


def iter_log_rows(
    engine: Engine,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
    batch: int = 2000,
) -> Iterator[dict[str, Any]]:
    with Session(engine) as session:
        last = 0
        while True:
            query = select(GrievanceRecord).where(GrievanceRecord.id > last)
            if since is not None:
                query = query.where(GrievanceRecord.created_at >= since)
            if until is not None:
                query = query.where(GrievanceRecord.created_at < until)
            if channel:
                query = query.where(GrievanceRecord.channel == channel)
            rows = list(session.exec(query.order_by(col(GrievanceRecord.id)).limit(batch)).all())
            if not rows:
                return
            for rec in rows:
                yield log_row(rec)
            last = rows[-1].id


def render(rows: Iterator[dict[str, Any]], *, fmt: str, columns: list[str]) -> Iterator[str]:
    return csv_lines(rows, columns) if fmt == "csv" else jsonl_lines(rows)
