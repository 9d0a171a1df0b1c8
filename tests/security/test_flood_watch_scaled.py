"""The work-order flood alert when several app instances share the database (scaled out, docs/deploy.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select


def test_a_flood_spread_over_instances_is_seen_by_the_database_count(
    settings_env: Path, monkeypatch: pytest.MonkeyPatch, db: Session
) -> None:
    """Scaled out, the balancer spreads the senders: no instance alone opens enough orders, the total does."""
    from api.db import get_engine
    from api.models.staff import AuditEvent
    from api.models.ticket import TicketCreate, TicketKind
    from api.services import flood_watch
    from api.workorders import creation

    monkeypatch.setattr(flood_watch, "CHECK_SECONDS", 0.0)
    engine = get_engine()
    instances = [flood_watch.FloodWatch(), flood_watch.FloodWatch()]
    raised = []
    for i in range(12):
        ticket = creation.create_ticket(
            db, data=TicketCreate(kind=TicketKind.complaint, description=f"批量诉求 {i}", contact_phone="13800138000")
        )
        event = instances[i % 2].opened(engine, threshold=6, last_sequence=int(ticket.number[8:]))
        raised.append(event is not None)
    # The sixth order (the first time the total reaches six) raises it, on whichever instance opened it.
    assert raised == [False] * 5 + [True] + [False] * 6
    alerts = db.exec(select(AuditEvent).where(AuditEvent.action == flood_watch.ACTION)).all()
    assert len(alerts) == 1 and alerts[0].detail is not None and alerts[0].detail["opened_last_10_minutes"] == 6


def test_the_database_is_asked_at_most_every_check_interval(settings_env: Path, db: Session) -> None:
    """Counting every process's orders costs a query: once per CHECK_SECONDS; this process's own flood at once."""
    from api.db import get_engine
    from api.models.ticket import TicketCreate, TicketKind
    from api.services import flood_watch
    from api.workorders import creation

    engine = get_engine()
    watch = flood_watch.FloodWatch()
    asked: list[int] = []
    real = flood_watch._busy_anywhere

    def counting(engine_: object, threshold: int) -> bool:
        asked.append(threshold)
        return real(engine, threshold)

    raised = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(flood_watch, "_busy_anywhere", counting)
        for i in range(5):
            ticket = creation.create_ticket(
                db,
                data=TicketCreate(kind=TicketKind.help_request, description=f"求助 {i}", contact_phone="13800138000"),
            )
            raised.append(watch.opened(engine, threshold=3, last_sequence=int(ticket.number[8:])) is not None)
    assert [t for t in asked if t == 3] == [3]  # the first order; the next fall within CHECK_SECONDS
    assert raised == [False, False, True, False, False]  # three of its own: no waiting for the next check
