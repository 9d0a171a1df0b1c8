"""50 concurrent creators and loggers: every number unique, nothing lost, the chain verifies."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlmodel import Session, func, select

from api.models.grievance import GrievanceRecord
from api.models.ticket import Ticket, TicketCreate, TicketEvent

WORKERS = 50
ROUNDS = 3


def _work(worker: int) -> tuple[list[str], list[int]]:
    from api.db import new_session
    from api.services import grievance_log
    from api.workorders import creation

    numbers, ids = [], []
    with new_session() as session:
        for i in range(ROUNDS):
            rec = grievance_log.append(session, channel="web", session_id=f"w{worker}", text=f"第{i}条")
            ticket = creation.create_ticket(
                session, data=TicketCreate(description=f"并发{worker}-{i}", session_id=f"w{worker}")
            )
            grievance_log.complete(
                session, record_id=rec.id, outcome="fallback", replies=[], handoff=True, ticket_number=ticket.number
            )
            numbers.append(ticket.number)
            ids.append(rec.id)
    return numbers, ids


def test_concurrent_creators_and_loggers(settings_env: Path) -> None:
    from api.db import get_engine
    from api.services import grievance_log

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(_work, range(WORKERS)))
    numbers = [n for ns, _ in results for n in ns]
    ids = [i for _, is_ in results for i in is_]
    total = WORKERS * ROUNDS
    assert len(set(numbers)) == len(numbers) == total
    assert sorted(ids) == list(range(1, total + 1))  # no gap, no fork
    assert sorted(int(n[-4:]) for n in numbers) == list(range(1, total + 1)) or len({n[:8] for n in numbers}) > 1
    with Session(get_engine()) as session:
        assert session.exec(select(func.count()).select_from(Ticket)).one() == total
        assert session.exec(select(func.count()).select_from(TicketEvent)).one() == total
        assert session.exec(select(func.count()).select_from(GrievanceRecord)).one() == total
        result = grievance_log.verify(session)
        assert result.ok, result
        assert result.records == total
