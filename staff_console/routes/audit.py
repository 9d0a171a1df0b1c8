"""The audit view: search the grievance log and check its hash chain (auditors and supervisors)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.deps import SessionDep
from api.services import access, audit, grievance_log, log_nightly, sla
from staff_console import sessions
from staff_console.deps import page
from staff_console.ui import render
from staff_console.views import CHANNELS, turn_lines

router = APIRouter(prefix="/staff")
AuditLogin = Annotated[sessions.ConsoleLogin, Depends(page("log.search"))]
LOG_CHANNELS = ("web", "sms", "voice")
PAGE_SIZE = 100


def _day(value: str, errors: dict[str, str], name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        errors[name] = "日期格式应为 年-月-日，例如 2026-11-01。"
        return None


def _china_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=sla.CHINA_TZ)


@router.get("/audit")
def audit_page(
    request: Request,
    db: SessionDep,
    login: AuditLogin,
    date_from: str = "",
    date_to: str = "",
    channel: str = "",
    session_id: str = "",
    ticket_number: str = "",
    verify: str = "",
) -> Response:
    errors: dict[str, str] = {}
    start = _day(date_from, errors, "date_from")
    end = _day(date_to, errors, "date_to")
    if channel and channel not in LOG_CHANNELS:
        errors["channel"] = "没有这个渠道。"
    if ticket_number and not re.fullmatch(r"\d{12}", ticket_number):
        errors["ticket_number"] = "工单号是12位数字。"
    session_id = session_id.strip()[:128]
    records: list[Any] = []
    searched = bool(date_from or date_to or channel or session_id or ticket_number)
    if not errors:
        rows = grievance_log.search(
            db,
            channel=channel or None,
            session_id=session_id or None,
            ticket_number=ticket_number or None,
            since=_china_start(start) if start else None,
            until=_china_start(end + timedelta(days=1)) if end else None,
            limit=PAGE_SIZE,
        )
        mask = access.masks_people(login.principal)  # auditors check integrity, not people
        titles: dict[str, str] = {}
        records = [{"record": r, "lines": turn_lines(r, mask=mask, titles=titles)} for r in rows]
        db.rollback()
        if searched:
            audit.record_log_search(
                db,
                actor=login.principal,
                results=len(rows),
                channel=channel,
                session_id=session_id,
                ticket_number=ticket_number,
            )
    result = None
    if verify == "1" and access.may(login.principal, "log.verify"):
        result = grievance_log.verify(db)
        db.rollback()
        audit.record_log_verify(
            db, actor=login.principal, ok=result.ok, records=result.records, first_broken_id=result.first_broken_id
        )
    ctx = {
        "title": "诉求日志审计 - 工作台",
        "records": records,
        "result": result,
        "errors": errors,
        "q": {
            "date_from": date_from[:10],
            "date_to": date_to[:10],
            "channel": channel,
            "session_id": session_id,
            "ticket_number": ticket_number[:12],
        },
        "channels": {c: CHANNELS[c] for c in LOG_CHANNELS},
        "masked": access.masks_people(login.principal),
        "nightly": log_nightly.recent(db),
    }
    return render(request, "staff/audit.html", ctx, login=login, status_code=400 if errors else 200)
