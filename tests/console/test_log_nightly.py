"""The grievance log's nightly job (run by the task worker): the previous day's records exported to a private
file whose hash is kept, the whole chain verified, the result kept once per day and shown to auditors; a
tampered record shows as a failed night."""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Callable
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from api.clock import CHINA_TZ, china_date, utcnow
from api.db import get_engine
from api.models.log_check import LogCheck
from api.models.staff import AuditEvent
from api.services import grievance_log, log_nightly
from api.settings import get_settings
from tests.console.conftest import Staff

pytestmark = pytest.mark.usefixtures("fast_argon2")


def _record(text_: str) -> int:
    with Session(get_engine(), expire_on_commit=False) as own:
        rec = grievance_log.append(own, channel="web", session_id="web-nightly", text=text_)
        grievance_log.complete(own, record_id=rec.id, outcome="answered", replies=[{"text": "好的"}])
        return rec.id


def test_due_at_the_configured_china_minute(monkeypatch: pytest.MonkeyPatch, settings_env: object) -> None:
    settings = get_settings()
    at = utcnow().astimezone(CHINA_TZ).replace(hour=2, minute=30)
    assert log_nightly.due(at, settings)
    assert log_nightly.due(at.astimezone(CHINA_TZ).replace(tzinfo=None) - timedelta(hours=8), settings)  # Huey's UTC
    assert not log_nightly.due(at + timedelta(minutes=1), settings)
    monkeypatch.setenv("HOTLINE_LOG_NIGHTLY_AT", "")
    get_settings.cache_clear()
    assert not log_nightly.due(at, get_settings())


def test_nightly_export_and_check_kept_once_and_shown_to_auditors(
    settings_env: object, staff_as: Callable[..., Staff]
) -> None:
    ids = [_record("我想问残疾人证怎么办"), _record("补贴什么时候发")]
    day = china_date(utcnow())
    today = day.isoformat()
    # Noon of the next China day: the runs below stay inside one day whatever the hour the test runs at (a run
    # at "now + 1 day" 5 minutes before China midnight had crossed into the day after).
    tomorrow = datetime.combine(day + timedelta(days=1), time(12, 0), tzinfo=CHINA_TZ)
    with Session(get_engine()) as s:
        check = log_nightly.run(s, get_settings(), now=tomorrow)
        assert check is not None and check.ok and check.day == today and check.records >= 2
        assert log_nightly.run(s, get_settings(), now=tomorrow + timedelta(minutes=5)) is None  # once a day
    export = get_settings().effective_log_export_dir / check.export_file
    body = export.read_bytes()
    assert stat.S_IMODE(export.stat().st_mode) == 0o600
    assert hashlib.sha256(body).hexdigest() == check.export_sha256
    exported = [json.loads(line) for line in body.decode("utf-8").splitlines()]
    assert [r["id"] for r in exported] == ids and check.export_records == 2
    with Session(get_engine()) as s:
        audited = s.exec(select(AuditEvent).where(AuditEvent.actor == log_nightly.ACTOR)).one()
        assert audited.action == "log.verify" and audited.detail is not None and audited.detail["ok"] is True

    page = staff_as("auditor").get("/staff/audit").text
    nightly = page.split('id="nightly-title"', 1)[1].split("</section>", 1)[0]
    assert today in nightly and "通过" in nightly and check.export_sha256 in nightly and "nightly-alert" not in nightly

    # Someone rewrites a record: the next night fails, and auditors see it at once.
    with Session(get_engine()) as s:
        postgres = s.get_bind().dialect.name == "postgresql"
        if postgres:
            s.execute(text("ALTER TABLE grievance_log DISABLE TRIGGER grievance_log_guard"))
        s.execute(text("UPDATE grievance_log SET text = '改过的内容' WHERE id = :i"), {"i": ids[0]})
        if postgres:
            s.execute(text("ALTER TABLE grievance_log ENABLE TRIGGER grievance_log_guard"))
        s.commit()
        failed = log_nightly.run(s, get_settings(), now=tomorrow + timedelta(days=1))
        assert failed is not None and not failed.ok and failed.first_broken_id == ids[0]
        assert len(s.exec(select(LogCheck)).all()) == 2
    page = staff_as("auditor").get("/staff/audit").text
    assert 'id="nightly-alert"' in page and f"从第{ids[0]}条记录开始对不上" in page
