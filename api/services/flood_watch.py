"""An alert when work orders are opened at an abnormal rate (a flood of forged requests, or a real emergency).

Work-order numbers are `YYYYMMDD` + four digits (DESIGN.md), so a day has 9,999 of them.
The per-conversation and per-address limits keep one sender from spending them; this
watch is for what those limits cannot see: many senders at once. When more work orders
than `work_order_alert_per_10_minutes` were opened in the last ten minutes, one alert
per window is written to the audit trail (with how many numbers are left today) and
to the process log, and shown to supervisors on the oversight page and by /health.

Each process keeps the times of the orders it opened (cheap, no query per order);
the count that raises the alert is read from the database, so it covers every process.
Scaled out, no one instance may see enough orders on its own: each also counts in the
database at most every `CHECK_SECONDS` while it opens orders, so the alert follows the
total within that delay however the balancer spreads the senders.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import deque
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from api.models.staff import AuditEvent
from api.models.ticket import Ticket
from api.services import audit
from api.settings import get_settings

log = logging.getLogger("hotline.flood_watch")

WINDOW = timedelta(minutes=10)
ACTION = "alert.work_orders"
ACTOR = "system:flood-watch"
NUMBERS_PER_DAY = 9999
CHECK_SECONDS = 30.0


class FloodWatch:
    """Times of recently opened work orders in this process, and the last alert raised."""

    def __init__(self) -> None:
        self._opened: deque[float] = deque()
        self._lock = threading.Lock()
        self._last_alert = float("-inf")  # when this process last saw an alert raised (by any process)
        self._last_alone = float("-inf")  # when its own orders alone last looked abnormal
        self._last_check = float("-inf")  # when it last counted every process's orders

    def opened(self, engine: Engine, *, threshold: int, last_sequence: int) -> AuditEvent | None:
        """Note one opened work order; raise the alert if the database confirms an abnormal rate."""
        now = time.monotonic()
        window = WINDOW.total_seconds()
        with self._lock:
            self._opened.append(now)
            while self._opened and self._opened[0] < now - window:
                self._opened.popleft()
            if now - self._last_alert < window:
                return None
            alone = len(self._opened) >= threshold or last_sequence >= NUMBERS_PER_DAY // 2
            if alone:
                if now - self._last_alone < window:
                    return None
                self._last_alone = now
            elif now - self._last_check < CHECK_SECONDS:
                return None
            self._last_check = now
        if not alone and not _busy_anywhere(engine, threshold):
            return None
        event, raised = _confirm(engine, threshold=threshold, last_sequence=last_sequence)
        if raised:
            with self._lock:
                self._last_alert = now
        return event


def _busy_anywhere(engine: Engine, threshold: int) -> bool:
    """Whether the `threshold`-th newest work order of every process was opened within the window.

    A walk down the primary key (ids grow with time) instead of a count over the whole table, so
    that every instance may ask twice a minute.
    """
    since = datetime.now(UTC) - WINDOW
    nth = select(Ticket.id).order_by(col(Ticket.id).desc()).offset(threshold - 1).limit(1).scalar_subquery()
    with Session(engine) as session:
        hits = session.exec(
            select(func.count()).select_from(Ticket).where(col(Ticket.id) == nth, col(Ticket.created_at) >= since)
        ).one()
        session.rollback()
    return bool(hits)


def _confirm(engine: Engine, *, threshold: int, last_sequence: int) -> tuple[AuditEvent | None, bool]:
    """(the alert written now, whether an alert of this window exists), from every process's orders."""
    since = datetime.now(UTC) - WINDOW
    with Session(engine) as session:
        count = session.exec(select(func.count()).select_from(Ticket).where(col(Ticket.created_at) >= since)).one()
        left = NUMBERS_PER_DAY - last_sequence
        if count < threshold and left > NUMBERS_PER_DAY // 2:
            session.rollback()
            return None, False
        already = session.exec(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == ACTION, col(AuditEvent.at) >= since)
        ).one()
        if already:
            session.rollback()
            return None, True
        detail = {"opened_last_10_minutes": int(count), "threshold": threshold, "numbers_left_today": left}
        event = audit.record(session, actor=ACTOR, action=ACTION, target_type="work_orders", detail=detail)
        session.commit()
    log.warning(
        "abnormal work-order rate: %s opened in the last 10 minutes (alert at %s); %s numbers left today",
        count,
        threshold,
        left,
    )
    return event, True


def recent_alerts(session: Session, *, within: timedelta = timedelta(hours=24)) -> list[AuditEvent]:
    """Alerts of the last day, newest first, for the oversight page and /health."""
    since = datetime.now(UTC) - within
    rows = session.exec(
        select(AuditEvent)
        .where(AuditEvent.action == ACTION, col(AuditEvent.at) >= since)
        .order_by(col(AuditEvent.at).desc())
    ).all()
    session.rollback()
    return list(rows)


def alert_text(event: AuditEvent) -> str:
    """The alert in the words supervisors read on the oversight page."""
    detail = event.detail or {}
    return (
        f"最近10分钟新建工单 {detail.get('opened_last_10_minutes', '?')} 个，"
        f"超过提醒线 {detail.get('threshold', '?')} 个；今天还剩 {detail.get('numbers_left_today', '?')} 个工单号。"
        "请核查是否有人批量伪造诉求，或是否发生了突发事件。"
    )


_watches: weakref.WeakKeyDictionary[Engine, FloodWatch] = weakref.WeakKeyDictionary()
_watches_lock = threading.Lock()


def opened(engine: Engine, *, number: str) -> AuditEvent | None:
    """Called once a work order is committed; cheap unless the rate, or today's numbers, look abnormal."""
    with _watches_lock:
        watch = _watches.setdefault(engine, FloodWatch())
    threshold = get_settings().work_order_alert_per_10_minutes
    try:
        return watch.opened(engine, threshold=threshold, last_sequence=int(number[8:]))
    except Exception:  # the watch must never fail the citizen's work order, already committed
        log.exception("flood watch failed")
        return None
