"""Oversight for supervisors: volumes, rates, overdue orders, escalation reasons, unanswered questions."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from accessibility import security
from api.deps import SessionDep, SettingsDep
from api.errors import ApiError
from api.models.outbox import DeadlineAlertKind
from api.services import audit, deadline_watch, flood_watch, reports, sla
from staff_console import sessions
from staff_console.charts import bars
from staff_console.deps import page
from staff_console.ui import china_time, render

router = APIRouter(prefix="/staff")
OversightLogin = Annotated[sessions.ConsoleLogin, Depends(page("oversight"))]


def _dates(date_from: str, date_to: str) -> tuple[date, date, dict[str, str]]:
    """The range asked for (checked like the report API), or the last 30 days with a message saying why."""
    try:
        start, end = reports.resolve_range(
            date.fromisoformat(date_from) if date_from else None, date.fromisoformat(date_to) if date_to else None
        )
    except ValueError:
        message = "日期格式应为 年-月-日，例如 2026-11-01。已显示最近30天。"
    except ApiError as exc:
        message = exc.message.split(" / ")[0] + "已显示最近30天。"
    else:
        return start, end, {}
    start, end = reports.resolve_range(None, None)
    return start, end, {"date_from": message}


def _percent(rate: reports.Rate) -> str:
    return "无数据" if rate.rate is None else f"{rate.rate * 100:.1f}%（{rate.numerator}/{rate.denominator}）"


@router.get("/oversight")
def oversight(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    login: OversightLogin,
    date_from: str = "",
    date_to: str = "",
) -> Response:
    start, end, errors = _dates(date_from[:10], date_to[:10])
    report = reports.overview(db, date_from=start, date_to=end, policy=sla.load_policy(settings.sla_policy_file))
    charts: list[dict[str, Any]] = [
        bars("chart-channel", "各渠道诉求量", [(v.label, v.requests) for v in report.volumes_by_channel], "条"),
        bars("chart-kind", "各类型工单量", [(c.label, c.count) for c in report.work_orders_by_kind], "个"),
        bars("chart-category", "各类别工单量", [(c.label, c.count) for c in report.work_orders_by_category], "个"),
        bars("chart-escalation", "转人工原因", [(c.label, c.count) for c in report.escalations], "次"),
        bars("chart-score", "满意度评分分布", [(c.label, c.count) for c in report.satisfaction.by_score], "人"),
    ]
    alerts = [
        {"at": china_time(event.at), "text": flood_watch.alert_text(event)} for event in flood_watch.recent_alerts(db)
    ]
    ctx = {
        "title": "服务监督 - 工作台",
        "alerts": alerts,
        "escalations": [
            a for a in deadline_watch.active(db, login.principal) if a.kind is DeadlineAlertKind.escalation
        ],
        "report": report,
        "charts": charts,
        "answer_rate": _percent(report.answer_rate),
        "resolution_rate": _percent(report.resolution_rate),
        "satisfaction_rate": _percent(report.satisfaction.rate),
        "date_from": start.isoformat(),
        "date_to": end.isoformat(),
        "errors": errors,
    }
    return render(request, "staff/oversight.html", ctx, login=login)


@router.get("/oversight.csv")
def oversight_csv(
    db: SessionDep, settings: SettingsDep, login: OversightLogin, date_from: str = "", date_to: str = ""
) -> Response:
    start, end, _errors = _dates(date_from[:10], date_to[:10])
    report = reports.overview(db, date_from=start, date_to=end, policy=sla.load_policy(settings.sla_policy_file))
    audit.record_now(
        db,
        actor=login.principal,
        action="report.export",
        target_type="report",
        detail={"from": str(start), "to": str(end)},
    )
    body = "\ufeff" + reports.to_csv(report)  # the BOM lets spreadsheet programs read the Chinese correctly
    headers = {"Content-Disposition": f'attachment; filename="hotline-oversight-{start}-{end}.csv"'}
    return security.apply_security_headers(Response(body, media_type="text/csv; charset=utf-8", headers=headers))
