"""`/api/reports`: oversight figures for supervisors and administrators, as JSON or one CSV."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import SessionDep, SettingsDep, require
from api.services import audit, reports, sla
from api.services.audit import Principal
from api.settings import Settings

router = APIRouter(prefix="/api/reports", tags=["reports"])

Overseer = Annotated[Principal, Depends(require("oversight"))]

DateFrom = Annotated[
    date | None,
    Query(
        description="First China date included (YYYY-MM-DD); default 29 days before date_to",
        examples=["2026-11-01"],
    ),
]
DateTo = Annotated[
    date | None,
    Query(description="Last China date included (YYYY-MM-DD); default today", examples=["2026-11-30"]),
]

EXAMPLE: dict[str, Any] = {
    "date_from": "2026-11-01",
    "date_to": "2026-11-30",
    "generated_at": "2026-11-30T09:00:00Z",
    "requests_total": 120,
    "work_orders_total": 18,
    "volumes_by_channel": [
        {"channel": "web", "label": "网页", "requests": 70, "rejected": 2, "work_orders": 9},
        {"channel": "sms", "label": "短信", "requests": 20, "rejected": 0, "work_orders": 3},
        {"channel": "voice", "label": "电话（语音）", "requests": 30, "rejected": 0, "work_orders": 6},
    ],
    "work_orders_by_kind": [{"key": "complaint", "label": "投诉", "count": 7}],
    "work_orders_by_category": [{"key": "accessibility", "label": "无障碍", "count": 5}],
    "answer_rate": {"numerator": 96, "denominator": 110, "rate": 0.8727},
    "resolution_rate": {"numerator": 12, "denominator": 18, "rate": 0.6667},
    "satisfaction": {
        "answered": 10,
        "satisfied": 7,
        "basically_satisfied": 2,
        "unsatisfied": 1,
        "rate": {"numerator": 9, "denominator": 10, "rate": 0.9},
        "mean_score": 4.1,
        "by_score": [{"key": "5", "label": "非常满意", "count": 4}],
    },
    "handoff_turns": 14,
    "escalations": [
        {"key": "request_human", "label": "市民要求转人工", "count": 5},
        {"key": "emergency", "label": "紧急情况", "count": 1},
        {"key": "nlu_fallback", "label": "助手没听懂", "count": 2},
        {"key": "assistant_unavailable", "label": "助手不可用", "count": 1},
        {"key": "other", "label": "其他", "count": 0},
    ],
    "overdue_total": 1,
    "overdue": [
        {
            "number": "202611030002",
            "kind": "求助",
            "category": "康复",
            "status": "in_progress",
            "status_text": "办理",
            "channel": "voice",
            "priority": "normal",
            "department_id": 1,
            "assignee": "zhang",
            "created_at": "2026-11-03T02:00:00Z",
            "deadline": "2026-11-06T15:59:59.999999Z",
            "working_days_overdue": 17,
        }
    ],
    "unanswered_questions": [
        {"question": "导盲犬可以坐地铁吗", "count": 3, "last_asked": "2026-11-29T08:00:00+00:00", "channels": ["web"]}
    ],
}
CSV_EXAMPLE = (
    "section,item,label,count,total,rate,detail\r\n"
    "range,date_from,开始日期,,,,2026-11-01\r\n"
    "requests_by_channel,web,网页,70,,,\r\n"
    "rates,answer_rate,智能回答率,96,110,0.8727,\r\n"
)
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Supervisors and administrators only"},
    422: {
        "description": "Bad dates",
        "content": {
            "application/json": {
                "example": {"error": {"code": "bad_date_range", "message": reports.MESSAGES["bad_date_range"]}}
            }
        },
    },
}


def _report(
    session: Session, settings: Settings, date_from: date | None, date_to: date | None
) -> reports.OverviewReport:
    start, end = reports.resolve_range(date_from, date_to)
    return reports.overview(session, date_from=start, date_to=end, policy=sla.load_policy(settings.sla_policy_file))


@router.get(
    "/overview",
    response_model=reports.OverviewReport,
    responses={200: {"content": {"application/json": {"example": EXAMPLE}}}, **ERRORS},
)
def overview(
    session: SessionDep,
    settings: SettingsDep,
    user: Overseer,
    date_from: DateFrom = None,
    date_to: DateTo = None,
) -> reports.OverviewReport:
    """Volumes by channel, kind and category; answer, resolution and satisfaction rates; overdue work orders;
    escalation reasons; the questions the assistant could not answer. Dates are China dates, both included."""
    return _report(session, settings, date_from, date_to)


@router.get(
    "/overview.csv",
    response_class=Response,
    responses={
        200: {"description": "The same figures as one CSV (UTF-8 with BOM), one row per figure with its section",
              "content": {"text/csv": {"example": CSV_EXAMPLE}}},
        **ERRORS,
    },
)  # fmt: skip
def overview_csv(
    session: SessionDep,
    settings: SettingsDep,
    user: Overseer,
    date_from: DateFrom = None,
    date_to: DateTo = None,
) -> Response:
    """The overview as a download; the download is an audit event, like the other exports."""
    report = _report(session, settings, date_from, date_to)
    audit.record_now(
        session,
        actor=user,
        action="export.report",
        target_type="report",
        detail={"date_from": report.date_from.isoformat(), "date_to": report.date_to.isoformat()},
    )
    name = f"overview-{report.date_from:%Y%m%d}-{report.date_to:%Y%m%d}.csv"
    return Response(
        "\ufeff" + reports.to_csv(report),  # the BOM lets spreadsheet programs read the Chinese correctly
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
