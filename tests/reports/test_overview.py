"""Oversight figures on seeded data, checked against numbers worked out by hand; the API's roles and errors."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session

from api.clock import china_date, utcnow
from api.db import new_session
from api.knowledge.unanswered import _path as unanswered_path
from api.knowledge.unanswered import record_unanswered
from api.models.grievance import GrievanceRecord
from api.models.ticket import Ticket, TicketCreate, TransitionAction, TransitionCreate
from api.services import follow_up, grievance_log, reports, sla
from api.services.audit import Principal
from api.settings import get_settings
from api.workorders import creation, workflow

SUPERVISOR = Principal(username="supervisor-0", role="supervisor")
LOOP = ["dispatch", "accept", "start", "reply", "resolve"]


@dataclass
class Seeded:
    today: Any
    numbers: dict[str, str]


def _turn(
    s: Session,
    channel: str,
    session_id: str,
    text: str,
    *,
    outcome: str | None,
    intent: str | None = None,
    handoff: bool = False,
    status: str = "received",
) -> None:
    rec = grievance_log.append(s, channel=channel, session_id=session_id, text=text, status=status)
    if outcome is not None:
        grievance_log.complete(
            s, record_id=rec.id, outcome=outcome, replies=[{"text": "…"}], intent=intent, handoff=handoff
        )


def _ticket(s: Session, department: int, kind: str, category: str, channel: str, moves: list[str]) -> str:
    data = TicketCreate(
        kind=kind, category=category, channel=channel, description="测试工单", contact_phone="13800138000"
    )
    number = creation.create_ticket(s, data=data, actor="test").number
    for action in moves:
        extra: dict[str, Any] = {"department_id": department} if action == "dispatch" else {}
        if action == "reply":
            extra = {"public_reply": "已处理。"}
        s.rollback()
        workflow.transition(
            s, number=number, data=TransitionCreate(action=TransitionAction(action), **extra), actor=SUPERVISOR
        )
    s.rollback()
    return number


def _rate(s: Session, number: str, score: int) -> None:
    asked = follow_up.request_follow_up(s, number=number, actor=SUPERVISOR, settings=get_settings())
    follow_up.record_rating(s, token=asked.token, score=score, channel="web")


@pytest.fixture
def seeded(settings_env: Any, department: int) -> Seeded:
    """Hand-countable data: 10 requests (+1 rejected, +1 staff reply, +1 old), 7 work orders (1 old), 3 ratings."""
    now = grievance_log.utcnow()
    with new_session() as s:
        # Session A (web): answered, then asks for a person; staff hold the conversation.
        _turn(s, "web", "web-a", "残疾人证怎么办", outcome="answered", intent="ask_policy")
        _turn(s, "web", "web-a", "转人工", outcome="answered", intent="request_human", handoff=True)
        _turn(s, "web", "web-a", "还在吗", outcome="answered", intent="greet", handoff=True)
        staff = grievance_log.append(s, channel="web", session_id="web-a", text="")
        grievance_log.complete(s, record_id=staff.id, outcome="staff", replies=[{"text": "我是工作人员"}], handoff=True)
        _turn(s, "web", "web-b", "我摔倒了起不来", outcome="answered", intent="emergency", handoff=True)
        _turn(s, "web", "web-x", "字" * 10, outcome=None, status="rejected")
        _turn(s, "sms", "sms-c", "啊啊啊", outcome="answered", intent="nlu_fallback", handoff=True)
        _turn(s, "sms", "sms-c", "补贴怎么领", outcome="answered", intent="ask_policy")
        _turn(s, "sms", "sms-c", "还没有回答的一条", outcome=None)  # in flight: a request, not yet handled
        _turn(s, "voice", "voice-d", "你好", outcome="fallback", handoff=True)
        _turn(s, "voice", "voice-d", "按键0", outcome="keypad", handoff=True)
        _turn(s, "voice", "voice-e", "按键0", outcome="keypad", handoff=True)
        old = now - timedelta(days=40)
        s.add(GrievanceRecord(id=100000, created_at=old, channel="web", session_id="web-old", text="很久以前",
                              prev_hash="0" * 64, record_hash="f" * 64, outcome="answered", handoff=True,
                              intent="request_human", completed_at=old))  # fmt: skip
        s.commit()

        n = {
            "t1": _ticket(s, department, "投诉", "无障碍", "web", LOOP),
            "t2": _ticket(s, department, "求助", "康复", "voice", LOOP),
            "t3": _ticket(s, department, "投诉", "服务态度", "sms", LOOP),
            "t4": _ticket(s, department, "咨询", "其他", "web", []),
            "t5": _ticket(s, department, "建议", "就业", "web", LOOP),
            "t6": _ticket(s, department, "求助", "康复", "web", []),
            "t7": _ticket(s, department, "紧急", "其他", "voice", []),
        }
        _rate(s, n["t1"], 5)
        _rate(s, n["t2"], 3)
        _rate(s, n["t3"], 1)
        s.exec(update(Ticket).where(Ticket.number == n["t6"]).values(created_at=old, deadline=old + timedelta(days=3)))
        s.exec(update(Ticket).where(Ticket.number == n["t7"]).values(deadline=now - timedelta(hours=1)))
        s.commit()

    for _ in range(3):
        record_unanswered("导盲犬能坐地铁吗", "web", 0.1)
    record_unanswered("盲人按摩有补贴吗", "sms", 0.2)
    with unanswered_path(None).open("a", encoding="utf-8") as fh:
        for _ in range(5):
            line = {"time": (now - timedelta(days=40)).isoformat(timespec="seconds"), "question": "老问题",
                    "channel": "web", "score": 0.0}  # fmt: skip
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    return Seeded(today=sla.china_date(now), numbers=n)


def _counts(rows: list[reports.Count]) -> dict[str, int]:
    return {r.label: r.count for r in rows if r.count}


def test_figures_match_the_hand_count(seeded: Seeded) -> None:
    with new_session() as s:
        # Up to tomorrow: a run just after China midnight still includes what was seeded "today".
        r = reports.overview(s, date_from=seeded.today - timedelta(days=6), date_to=seeded.today + timedelta(days=1))
    volumes = {v.channel: (v.requests, v.rejected, v.work_orders) for v in r.volumes_by_channel}
    assert volumes == {"web": (4, 1, 3), "sms": (3, 0, 1), "voice": (3, 0, 2)}
    assert r.requests_total == 10 and r.work_orders_total == 6
    assert _counts(r.work_orders_by_kind) == {"投诉": 2, "求助": 1, "咨询": 1, "建议": 1, "紧急": 1}
    assert _counts(r.work_orders_by_category) == {"无障碍": 1, "康复": 1, "服务态度": 1, "其他": 2, "就业": 1}
    assert [c.label for c in r.work_orders_by_kind][:2] == ["咨询", "求助"]  # every kind listed, zeros too
    # Answered or fallback turns: 7 (A×3, B, C×2, D's fallback); without a hand-off: 2.
    assert (r.answer_rate.numerator, r.answer_rate.denominator, r.answer_rate.rate) == (2, 7, 0.2857)
    # t1, t2 closed and t5 resolved, of 6 created in range (t3 reopened, t4 and t7 open).
    assert (r.resolution_rate.numerator, r.resolution_rate.denominator, r.resolution_rate.rate) == (3, 6, 0.5)
    sat = r.satisfaction
    assert (sat.answered, sat.satisfied, sat.basically_satisfied, sat.unsatisfied) == (3, 1, 1, 1)
    assert (sat.rate.numerator, sat.rate.denominator, sat.rate.rate, sat.mean_score) == (2, 3, 0.6667, 3.0)
    assert {c.key: c.count for c in sat.by_score} == {"5": 1, "4": 0, "3": 1, "2": 0, "1": 1}
    assert r.handoff_turns == 7
    assert {c.key: c.count for c in r.escalations} == {
        "request_human": 1,
        "emergency": 1,
        "nlu_fallback": 1,
        "assistant_unavailable": 1,
        "other": 1,
    }
    assert r.overdue_total == 2 and [o.number for o in r.overdue] == [seeded.numbers["t6"], seeded.numbers["t7"]]
    assert r.overdue[0].working_days_overdue >= 20 and r.overdue[0].status_text == "受理"
    assert [(q.question, q.count, q.channels) for q in r.unanswered_questions] == [
        ("导盲犬能坐地铁吗", 3, ["web"]),
        ("盲人按摩有补贴吗", 1, ["sms"]),
    ]

    with new_session() as s:  # a range 40 days back holds only the old records
        day = seeded.today - timedelta(days=40)
        old = reports.overview(s, date_from=day - timedelta(days=1), date_to=day + timedelta(days=1))
    assert old.requests_total == 1 and old.work_orders_total == 1 and old.satisfaction.answered == 0
    assert {c.key: c.count for c in old.escalations}["request_human"] == 1
    assert (old.answer_rate.numerator, old.answer_rate.denominator, old.answer_rate.rate) == (0, 1, 0.0)
    assert (
        old.resolution_rate.rate == 0.0 and old.satisfaction.rate.rate is None and old.satisfaction.mean_score is None
    )
    assert old.overdue_total == 2  # overdue is "now", whatever the range
    assert [(q.question, q.count) for q in old.unanswered_questions] == [("老问题", 5)]


def test_csv_has_one_row_per_figure_with_its_section(seeded: Seeded) -> None:
    with new_session() as s:
        report = reports.overview(
            s, date_from=seeded.today - timedelta(days=6), date_to=seeded.today + timedelta(days=1)
        )
    text = reports.to_csv(report)
    assert text.startswith("section,item,label,count,total,rate,detail\r\n")  # no BOM: a download adds one
    rows = list(csv.DictReader(io.StringIO(text)))
    by = {(r["section"], r["item"]): r for r in rows}
    assert by[("rates", "answer_rate")] == {
        "section": "rates",
        "item": "answer_rate",
        "label": "智能回答率",
        "count": "2",
        "total": "7",
        "rate": "0.2857",
        "detail": "",
    }
    assert by[("rates", "satisfaction_rate")]["rate"] == "0.6667"
    assert by[("requests_by_channel", "web")]["count"] == "4"
    assert by[("work_orders_by_kind", "complaint")]["count"] == "2"
    assert by[("escalations", "assistant_unavailable")]["count"] == "1"
    assert by[("overdue", seeded.numbers["t6"])]["detail"].startswith(str(seeded.today - timedelta(days=37))[:4])
    assert by[("unanswered", "1")]["label"] == "导盲犬能坐地铁吗"
    sections = {r["section"] for r in rows}
    assert sections >= {"range", "totals", "requests_by_channel", "work_orders_by_channel"}
    assert sections >= {"work_orders_by_category", "satisfaction", "overdue", "unanswered"}


def test_csv_neutralises_formulas_in_citizens_questions(settings_env: Any) -> None:
    record_unanswered('=HYPERLINK("http://x")', "web", 0.0)
    today = sla.china_date(grievance_log.utcnow())
    with new_session() as s:
        text = reports.to_csv(reports.overview(s, date_from=today, date_to=today + timedelta(days=1)))
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text


def test_api_roles_formats_and_bad_dates(
    client: TestClient, seeded: Seeded, headers: Callable[..., dict[str, str]]
) -> None:
    week = {"date_from": str(seeded.today - timedelta(days=6)), "date_to": str(seeded.today + timedelta(days=1))}
    assert client.get("/api/reports/overview", params=week).status_code == 401
    for role in ("operator", "auditor"):
        resp = client.get("/api/reports/overview", params=week, headers=headers(role))
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "role_forbidden"
        assert client.get("/api/reports/overview.csv", params=week, headers=headers(role)).status_code == 403
    for role in ("supervisor", "admin"):
        resp = client.get("/api/reports/overview", params=week, headers=headers(role))
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["answer_rate"] == {"numerator": 2, "denominator": 7, "rate": 0.2857}
        assert body["satisfaction"]["mean_score"] == 3.0 and body["overdue_total"] == 2
    before = china_date(utcnow())
    default = client.get("/api/reports/overview", headers=headers("supervisor")).json()
    # The last 30 China days up to today (the request may fall either side of China midnight).
    to = date.fromisoformat(default["date_to"])
    assert to in {before, china_date(utcnow())} and default["date_from"] == str(to - timedelta(days=29))

    download = client.get("/api/reports/overview.csv", params=week, headers=headers("admin"))
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    assert download.content.decode("utf-8").startswith("\ufeffsection,")  # one BOM, for Excel
    assert download.content.decode("utf-8").count("\ufeff") == 1
    trail = client.get("/api/audit-events", params={"action": "export.report"}, headers=headers("auditor"))
    assert trail.status_code == 200, trail.text  # the download is in the audit trail, like other exports
    assert [(e["actor"], e["detail"]) for e in trail.json()] == [("admin-0", week)]

    for params, code in [
        ({"date_from": "2026-13-01"}, "validation_error"),
        ({"date_to": "yesterday"}, "validation_error"),
        ({"date_from": "2026-11-30", "date_to": "2026-11-01"}, "bad_date_range"),
        ({"date_from": "2024-01-01", "date_to": "2026-01-01"}, "date_range_too_long"),
        ({"date_from": "1999-12-31", "date_to": "2000-01-02"}, "date_out_of_range"),
        ({"date_to": "0001-01-01"}, "date_out_of_range"),  # found by the fuzzer: the default start underflowed
        ({"date_from": "9999-12-31"}, "date_out_of_range"),
    ]:
        for path in ("/api/reports/overview", "/api/reports/overview.csv"):
            resp = client.get(path, params=params, headers=headers("supervisor"))
            assert resp.status_code == 422, (params, resp.text)
            error = resp.json()["error"]
            assert error["code"] == code and " / " in error["message"]  # Chinese / English


def test_openapi_documents_the_report() -> None:
    from hotline.app import create_app

    spec = create_app().openapi()
    get = spec["paths"]["/api/reports/overview"]["get"]
    assert get["responses"]["200"]["content"]["application/json"]["example"]["answer_rate"]["rate"] == 0.8727
    assert {p["name"] for p in get["parameters"]} == {"date_from", "date_to"}
    assert "text/csv" in spec["paths"]["/api/reports/overview.csv"]["get"]["responses"]["200"]["content"]


def test_fuzzed_report_queries_never_fail_on_the_server(
    client: TestClient, settings_env: Any, headers: Callable[..., dict[str, str]]
) -> None:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings

    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    auth = headers("supervisor")
    statuses: list[int] = []
    operations = [r.ok() for r in schema.get_all_operations() if r.ok().path.startswith("/api/reports")]
    assert len(operations) == 2
    for operation in operations:

        @settings(max_examples=25, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers=auth)
            statuses.append(response.status_code)
            assert response.status_code < 500, (case.formatted_path, case.query, response.text)
            if response.status_code == 422:
                assert response.json()["error"]["code"]

        run()
    assert 200 in statuses and 422 in statuses, statuses
