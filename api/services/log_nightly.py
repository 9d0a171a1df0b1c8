"""The grievance log's nightly job: sign the head, export the previous day's records, verify the whole chain,
and keep the result for auditors (`LogCheck`, shown on the console's audit page; an audit event too).

The task worker runs it at `HOTLINE_LOG_NIGHTLY_AT` (China time). One result per day: a second run for the
same day (another worker, a restart) does nothing. The export is JSON Lines, one file per China day, under
`HOTLINE_LOG_EXPORT_DIR`, readable by the hotline's own user only; its SHA-256 is kept with the result, so a
later change to the file can be told.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.clock import CHINA_TZ, china_date, utcnow
from api.db import begin_write
from api.models.log_check import LogCheck
from api.services import audit, exports, grievance_log, log_checkpoints
from api.settings import Settings

ACTOR = "system:nightly"


def due(moment: datetime, settings: Settings) -> bool:
    """Whether the nightly job is due in this minute (`moment` aware, or naive UTC as Huey's clock gives it)."""
    if not settings.log_nightly_at:
        return False
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(CHINA_TZ)
    return local.strftime("%H:%M") == settings.log_nightly_at


def _china_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=CHINA_TZ)


def _export(engine: Engine, settings: Settings, day: date) -> tuple[Path, int, str]:
    """The day's records as JSON Lines (written to a temporary file, then moved into place); (file, records, sha256)."""
    folder = settings.effective_log_export_dir
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / f"grievance-log-{day.isoformat()}.jsonl"
    partial = target.with_suffix(".partial")
    digest = hashlib.sha256()
    count = 0
    rows = exports.iter_log_rows(engine, since=_china_midnight(day), until=_china_midnight(day + timedelta(days=1)))
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        for line in exports.jsonl_lines(rows):
            out.write(line)
            digest.update(line.encode("utf-8"))
            count += 1
    partial.replace(target)
    return target, count, digest.hexdigest()


def run(session: Session, settings: Settings, *, now: datetime | None = None) -> LogCheck | None:
    """Export the previous China day and verify the chain; the result kept, or None when that day is done."""
    moment = now or utcnow()
    day = china_date(moment) - timedelta(days=1)
    done = session.exec(select(LogCheck.id).where(LogCheck.day == day.isoformat())).first()
    session.rollback()
    if done is not None:
        return None
    log_checkpoints.write(session, reason="nightly")
    bind = session.get_bind()
    assert isinstance(bind, Engine)
    path, exported, digest = _export(bind, settings, day)
    result = grievance_log.verify(session)
    session.rollback()
    check = LogCheck(
        day=day.isoformat(),
        ran_at=utcnow(),
        ok=result.ok,
        records=result.records,
        first_broken_id=result.first_broken_id,
        reason=(result.reason or "")[:500],
        head_hash=result.head_hash or "",
        checkpoints=result.checkpoints,
        export_file=path.name,
        export_records=exported,
        export_sha256=digest,
    )
    begin_write(session)
    session.add(check)
    audit.record(
        session,
        actor=ACTOR,
        action="log.verify",
        target_type="grievance_log",
        detail={
            "ok": result.ok,
            "records": result.records,
            "first_broken_id": result.first_broken_id,
            "export": path.name,
            "exported": exported,
        },
    )
    try:
        session.commit()
    except IntegrityError:  # another worker kept this day's result first
        session.rollback()
        return None
    session.refresh(check)
    session.expunge(check)  # the caller reads it after this session's next rollback
    session.rollback()
    return check


def recent(session: Session, *, limit: int = 7) -> list[dict[str, Any]]:
    """The newest nightly results, newest first, as plain values (the audit page)."""
    rows = [r.model_dump() for r in session.exec(select(LogCheck).order_by(col(LogCheck.day).desc()).limit(limit))]
    session.rollback()
    return rows
