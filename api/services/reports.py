"""Oversight figures for supervisors over a range of China dates, and their CSV.

Each figure is one GROUP BY query (or a short list), so a report costs a handful of
round trips whatever the volume. Definitions (the CSV and the console say the same):

- requests: grievance-log records of citizens (rejected ones counted apart; staff
  replies, which are logged too, are not requests); work orders: created in the range.
- answer rate: of the turns handed to the automatic channel (outcome answered or
  fallback), those that did not hand off to a person.
- resolution rate: of the work orders created in the range, those now 办结, 回访 or 关闭.
- satisfaction rate: of the follow-ups answered in the range, 满意 + 基本满意 (score 3–5).
- escalations: conversations handed to a person, by the reason of their first hand-off
  in the range (intent request_human, emergency, nlu_fallback; the assistant being
  unavailable; other).
- overdue: open work orders past their deadline now, whatever the range.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import case, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from api import vocabulary
from api.clock import CHINA_TZ
from api.errors import ApiError
from api.knowledge.unanswered import list_unanswered
from api.models.grievance import GrievanceRecord
from api.models.ticket import (
    OPEN_STATUSES,
    STATUS_LABELS,
    FollowUp,
    Ticket,
    TicketCategory,
    TicketKind,
    TicketStatus,
)
from api.services import exports, sla
from api.services.grievance_log import utcnow

CHANNEL_LABELS: dict[str, str] = {
    "web": "网页",
    "sms": "短信",
    "voice": "电话（语音）",
    "phone": "电话（人工）",
    "walk_in": "来访",
    "letter": "来信",
    "email": "电子邮件",
    "staff": "工作人员录入",
}
BASE_CHANNELS = ("web", "sms", "voice")
RESOLVED_STATUSES = (TicketStatus.resolved, TicketStatus.follow_up, TicketStatus.closed)
ESCALATION_REASONS: dict[str, str] = {
    "request_human": "市民要求转人工",
    "emergency": "紧急情况",
    "nlu_fallback": "助手没听懂",
    "assistant_unavailable": "助手不可用",
    "other": "其他",
}
SCORE_LABELS = vocabulary.SCORE_LABELS
OVERDUE_LIST_LIMIT = 100
UNANSWERED_LIMIT = 10
DEFAULT_DAYS = 30
MAX_DAYS = 366
MESSAGES = {
    "bad_date_range": "开始日期不能晚于结束日期。 / date_from must not be after date_to.",
    "date_range_too_long": "一次最多统计{days}天，请缩短日期范围。 / The range may cover at most {days} days.",
    "date_out_of_range": "日期要在2000年到2100年之间。 / Dates must be between 2000 and 2100.",
}


class Count(BaseModel):
    key: str
    label: str
    count: int


class ChannelVolume(BaseModel):
    channel: str
    label: str
    requests: int = Field(description="Citizens' requests in the grievance log")
    rejected: int = Field(description="Requests refused (empty, too long, flood)")
    work_orders: int = Field(description="Work orders created from this channel")


class Rate(BaseModel):
    numerator: int
    denominator: int
    rate: float | None = Field(description="numerator / denominator, 4 decimals; null when nothing to count")


class SatisfactionFigures(BaseModel):
    answered: int
    satisfied: int = Field(description="满意 (4–5)")
    basically_satisfied: int = Field(description="基本满意 (3)")
    unsatisfied: int = Field(description="不满意 (1–2)")
    rate: Rate
    mean_score: float | None
    by_score: list[Count]


class OverdueOrder(BaseModel):
    number: str
    kind: str
    category: str
    status: TicketStatus
    status_text: str
    channel: str
    priority: str
    department_id: int | None
    assignee: str | None
    created_at: datetime
    deadline: datetime
    working_days_overdue: int = Field(description="Working days since the deadline (0: overdue since today)")


class UnansweredQuestion(BaseModel):
    question: str
    count: int
    last_asked: str
    channels: list[str]


class OverviewReport(BaseModel):
    date_from: date
    date_to: date
    generated_at: datetime
    requests_total: int
    work_orders_total: int
    volumes_by_channel: list[ChannelVolume]
    work_orders_by_kind: list[Count]
    work_orders_by_category: list[Count]
    answer_rate: Rate
    resolution_rate: Rate
    satisfaction: SatisfactionFigures
    handoff_turns: int = Field(description="Turns with a person holding or taking the conversation")
    escalations: list[Count] = Field(description="Conversations handed to a person, by reason")
    overdue_total: int
    overdue: list[OverdueOrder] = Field(description=f"The {OVERDUE_LIST_LIMIT} most overdue, oldest deadline first")
    unanswered_questions: list[UnansweredQuestion]


def resolve_range(date_from: date | None, date_to: date | None, *, today: date | None = None) -> tuple[date, date]:
    """The China dates to report on: defaults (the last 30 days to today) filled in, checked; ApiError 422 if bad."""
    if any(d is not None and not 2000 <= d.year <= 2100 for d in (date_from, date_to)):
        raise ApiError(422, "date_out_of_range", MESSAGES["date_out_of_range"])
    end = date_to or today or sla.china_date(utcnow())
    start = date_from or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ApiError(422, "bad_date_range", MESSAGES["bad_date_range"])
    if (end - start).days + 1 > MAX_DAYS:
        raise ApiError(422, "date_range_too_long", MESSAGES["date_range_too_long"].format(days=MAX_DAYS))
    return start, end


def day_bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """[start of date_from, start of the day after date_to) in China time, as aware UTC."""
    start = datetime.combine(date_from, time(0), tzinfo=CHINA_TZ).astimezone(UTC)
    end = datetime.combine(date_to + timedelta(days=1), time(0), tzinfo=CHINA_TZ).astimezone(UTC)
    return start, end


def _rate(numerator: int, denominator: int) -> Rate:
    return Rate(
        numerator=numerator,
        denominator=denominator,
        rate=round(numerator / denominator, 4) if denominator else None,
    )


def _escalation_reason(intent: str | None, outcome: str | None) -> str:
    if outcome == "fallback":
        return "assistant_unavailable"
    if intent in ("request_human", "emergency", "nlu_fallback"):
        return str(intent)
    return "other"


def _log_figures(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    rec = GrievanceRecord
    in_range = (col(rec.created_at) >= start, col(rec.created_at) < end)
    not_staff = or_(col(rec.outcome).is_(None), col(rec.outcome) != "staff")
    handed = col(rec.handoff).is_(True)
    rows = session.execute(
        sa_select(
            col(rec.channel),
            col(rec.status),
            func.count(),
            func.sum(case((col(rec.outcome).in_(("answered", "fallback")), 1), else_=0)),
            func.sum(case((col(rec.outcome).in_(("answered", "fallback")) & ~handed, 1), else_=0)),
            func.sum(case((handed, 1), else_=0)),
        )
        .where(*in_range, not_staff)
        .group_by(col(rec.channel), col(rec.status))
    ).all()
    requests: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    automatic = answered = handoff_turns = 0
    for channel, status, count, auto, ok, handoffs in rows:
        if status == "rejected":
            rejected[channel] += int(count)
            continue
        requests[channel] += int(count)
        automatic += int(auto or 0)
        answered += int(ok or 0)
        handoff_turns += int(handoffs or 0)

    first_handoffs = (
        select(func.min(rec.id))
        .where(*in_range, not_staff, handed, rec.status == "received")
        .group_by(col(rec.session_id))
    )
    reasons: Counter[str] = Counter()
    for intent, outcome, count in session.exec(
        select(rec.intent, rec.outcome, func.count())
        .where(col(rec.id).in_(first_handoffs))
        .group_by(col(rec.intent), col(rec.outcome))
    ).all():
        reasons[_escalation_reason(intent, outcome)] += int(count)
    return {
        "requests": requests,
        "rejected": rejected,
        "answer_rate": _rate(answered, automatic),
        "handoff_turns": handoff_turns,
        "reasons": reasons,
    }


def _ticket_figures(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    rows = session.execute(
        sa_select(col(Ticket.channel), col(Ticket.kind), col(Ticket.category), col(Ticket.status), func.count())
        .where(col(Ticket.created_at) >= start, col(Ticket.created_at) < end)
        .group_by(col(Ticket.channel), col(Ticket.kind), col(Ticket.category), col(Ticket.status))
    ).all()
    by: dict[str, Counter[str]] = defaultdict(Counter)
    total = resolved = 0
    for channel, kind, category, status, count in rows:
        n = int(count)
        total += n
        by["channel"][channel] += n
        by["kind"][TicketKind(kind).value] += n
        by["category"][category] += n
        if TicketStatus(status) in RESOLVED_STATUSES:
            resolved += n
    return {"by": by, "total": total, "resolution_rate": _rate(resolved, total)}


def _satisfaction(session: Session, start: datetime, end: datetime) -> SatisfactionFigures:
    rows = session.exec(
        select(FollowUp.score, func.count())
        .where(col(FollowUp.answered_at) >= start, col(FollowUp.answered_at) < end, col(FollowUp.score).is_not(None))
        .group_by(col(FollowUp.score))
    ).all()
    scores = Counter({int(score): int(count) for score, count in rows if score is not None})
    answered = sum(scores.values())
    satisfied = scores[4] + scores[5]
    basic = scores[3]
    total_points = sum(score * count for score, count in scores.items())
    return SatisfactionFigures(
        answered=answered,
        satisfied=satisfied,
        basically_satisfied=basic,
        unsatisfied=scores[1] + scores[2],
        rate=_rate(satisfied + basic, answered),
        mean_score=round(total_points / answered, 2) if answered else None,
        by_score=[Count(key=str(s), label=SCORE_LABELS[s], count=scores[s]) for s in (5, 4, 3, 2, 1)],
    )


def _overdue(session: Session, now: datetime, policy: sla.SlaPolicy | None) -> tuple[int, list[OverdueOrder]]:
    late = (col(Ticket.status).in_(OPEN_STATUSES), col(Ticket.deadline) < now)
    total = int(session.exec(select(func.count()).select_from(Ticket).where(*late)).one())
    rows = session.exec(
        select(Ticket).where(*late).order_by(col(Ticket.deadline), col(Ticket.id)).limit(OVERDUE_LIST_LIMIT)
    ).all()
    today = sla.china_date(now)
    orders = [
        OverdueOrder(
            number=t.number,
            kind=TicketKind(t.kind).value,
            category=t.category,
            status=t.status,
            status_text=STATUS_LABELS[t.status],
            channel=t.channel,
            priority=str(t.priority.value if hasattr(t.priority, "value") else t.priority),
            department_id=t.department_id,
            assignee=t.assignee,
            created_at=t.created_at,
            deadline=t.deadline,
            working_days_overdue=sla.working_days_between(sla.china_date(t.deadline), today, policy),
        )
        for t in rows
        if t.deadline is not None
    ]
    return total, orders


def _unanswered(start: datetime, end: datetime, data_dir: Path | None, limit: int) -> list[UnansweredQuestion]:
    grouped: dict[str, dict[str, Any]] = {}
    for record in list_unanswered(data_dir=data_dir):  # newest first
        try:
            asked = datetime.fromisoformat(str(record.get("time")))
        except ValueError:
            continue
        if asked.tzinfo is None:
            asked = asked.replace(tzinfo=UTC)
        question = " ".join(str(record.get("question") or "").split())
        if not question or not start <= asked < end:
            continue
        entry = grouped.setdefault(question, {"count": 0, "last": asked, "channels": set()})
        entry["count"] += 1
        entry["channels"].add(str(record.get("channel") or ""))
    ranked = sorted(grouped.items(), key=lambda item: (-item[1]["count"], -item[1]["last"].timestamp()))
    return [
        UnansweredQuestion(
            question=question,
            count=entry["count"],
            last_asked=entry["last"].isoformat(timespec="seconds"),
            channels=sorted(c for c in entry["channels"] if c),
        )
        for question, entry in ranked[:limit]
    ]


def overview(
    session: Session,
    *,
    date_from: date,
    date_to: date,
    now: datetime | None = None,
    policy: sla.SlaPolicy | None = None,
    kb_data_dir: Path | None = None,
    unanswered_limit: int = UNANSWERED_LIMIT,
) -> OverviewReport:
    """Every oversight figure for the China dates date_from..date_to (both included); ApiError 422 for bad dates."""
    date_from, date_to = resolve_range(date_from, date_to)
    now = now or utcnow()
    start, end = day_bounds(date_from, date_to)
    log = _log_figures(session, start, end)
    orders = _ticket_figures(session, start, end)
    satisfaction = _satisfaction(session, start, end)
    overdue_total, overdue = _overdue(session, now, policy)
    session.rollback()  # reads only: end the transaction (SQLite readers hold a snapshot)

    channels = list(BASE_CHANNELS) + sorted(
        (set(log["requests"]) | set(log["rejected"]) | set(orders["by"]["channel"])) - set(BASE_CHANNELS)
    )
    return OverviewReport(
        date_from=date_from,
        date_to=date_to,
        generated_at=now,
        requests_total=sum(log["requests"].values()),
        work_orders_total=orders["total"],
        volumes_by_channel=[
            ChannelVolume(
                channel=c,
                label=CHANNEL_LABELS.get(c, c),
                requests=log["requests"][c],
                rejected=log["rejected"][c],
                work_orders=orders["by"]["channel"][c],
            )
            for c in channels
        ],
        work_orders_by_kind=[Count(key=k.name, label=k.value, count=orders["by"]["kind"][k.value]) for k in TicketKind],
        work_orders_by_category=[
            Count(key=c.name, label=c.value, count=orders["by"]["category"][c.value]) for c in TicketCategory
        ]
        + [
            Count(key=other, label=other, count=n)
            for other, n in sorted(orders["by"]["category"].items())
            if other not in {c.value for c in TicketCategory}
        ],
        answer_rate=log["answer_rate"],
        resolution_rate=orders["resolution_rate"],
        satisfaction=satisfaction,
        handoff_turns=log["handoff_turns"],
        escalations=[Count(key=k, label=v, count=log["reasons"][k]) for k, v in ESCALATION_REASONS.items()],
        overdue_total=overdue_total,
        overdue=overdue,
        unanswered_questions=_unanswered(start, end, kb_data_dir, unanswered_limit),
    )


# --- CSV ------------------------------------------------------------------------------------------

CSV_COLUMNS = ["section", "item", "label", "count", "total", "rate", "detail"]


def _rate_row(item: str, label: str, rate: Rate) -> dict[str, Any]:
    return {
        "section": "rates",
        "item": item,
        "label": label,
        "count": rate.numerator,
        "total": rate.denominator,
        "rate": rate.rate,
    }


def csv_rows(report: OverviewReport) -> Iterator[dict[str, Any]]:
    """One row per figure; `section` says which table it belongs to."""
    yield {"section": "range", "item": "date_from", "label": "开始日期", "detail": report.date_from.isoformat()}
    yield {"section": "range", "item": "date_to", "label": "结束日期", "detail": report.date_to.isoformat()}
    yield {"section": "range", "item": "generated_at", "label": "生成时间", "detail": report.generated_at.isoformat()}
    yield {"section": "totals", "item": "requests", "label": "来访诉求", "count": report.requests_total}
    yield {"section": "totals", "item": "work_orders", "label": "工单", "count": report.work_orders_total}
    for v in report.volumes_by_channel:
        yield {"section": "requests_by_channel", "item": v.channel, "label": v.label, "count": v.requests}
        yield {"section": "rejected_by_channel", "item": v.channel, "label": v.label, "count": v.rejected}
        yield {"section": "work_orders_by_channel", "item": v.channel, "label": v.label, "count": v.work_orders}
    for c in report.work_orders_by_kind:
        yield {"section": "work_orders_by_kind", "item": c.key, "label": c.label, "count": c.count}
    for c in report.work_orders_by_category:
        yield {"section": "work_orders_by_category", "item": c.key, "label": c.label, "count": c.count}
    yield _rate_row("answer_rate", "智能回答率", report.answer_rate)
    yield _rate_row("resolution_rate", "办结率", report.resolution_rate)
    yield _rate_row("satisfaction_rate", "满意率", report.satisfaction.rate)
    sat = report.satisfaction
    yield {"section": "satisfaction", "item": "mean_score", "label": "平均分", "rate": sat.mean_score}
    for c in sat.by_score:
        yield {"section": "satisfaction", "item": "score_" + c.key, "label": c.label, "count": c.count}
    yield {
        "section": "escalations",
        "item": "handoff_turns",
        "label": "人工处理的对话轮次",
        "count": report.handoff_turns,
    }
    for c in report.escalations:
        yield {"section": "escalations", "item": c.key, "label": c.label, "count": c.count}
    yield {"section": "overdue", "item": "total", "label": "超期未办结工单", "count": report.overdue_total}
    for o in report.overdue:
        yield {
            "section": "overdue",
            "item": o.number,
            "label": f"{o.kind}·{o.category}·{o.status_text}",
            "count": o.working_days_overdue,
            "detail": o.deadline.isoformat(),
        }
    for rank, q in enumerate(report.unanswered_questions, start=1):
        yield {
            "section": "unanswered",
            "item": str(rank),
            "label": q.question,
            "count": q.count,
            "detail": q.last_asked,
        }


def to_csv(report: OverviewReport) -> str:
    """The whole report as one CSV text, formulas neutralised; without a BOM (a download adds "\ufeff" for Excel)."""
    return "".join(exports.csv_lines(csv_rows(report), CSV_COLUMNS)).removeprefix("\ufeff")
