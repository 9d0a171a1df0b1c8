"""The fast write paths: group-committed grievance-log appends and short-lock work-order numbering."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import StatementError
from sqlmodel import Session, func, select

from api.models.grievance import GrievanceRecord, LogHead
from api.models.ticket import Ticket, TicketCreate


def _engine() -> Any:
    from api.db import get_engine

    return get_engine()


def _append_many(n: int, *, text: str = "消息") -> list[GrievanceRecord]:
    from api.db import new_session
    from api.services import grievance_log

    barrier = threading.Barrier(n)

    def one(i: int) -> GrievanceRecord:
        with new_session() as session:
            barrier.wait()
            return grievance_log.append(session, channel="web", session_id=f"s{i}", text=f"{text}{i}")

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def _verify_ok(records: int) -> None:
    from api.services import grievance_log

    with Session(_engine()) as session:
        result = grievance_log.verify(session)
        assert result.ok, result
        assert result.records == records


def test_concurrent_appends_are_batched_chained_and_durable(settings_env: Path) -> None:
    from api.services import grievance_log

    recs = _append_many(40)
    assert sorted(r.id for r in recs) == list(range(1, 41))
    committer = grievance_log._committer(_engine())
    # Most appends went through the writer, and some shared a transaction (and a WAL flush).
    assert committer.items >= 30
    assert committer.batches < committer.items
    with Session(_engine()) as session:  # committed on return: visible to any other session
        for rec in recs:
            stored = session.get(GrievanceRecord, rec.id)
            assert stored is not None and stored.record_hash == rec.record_hash
        head = session.get(LogHead, 1)
        assert head is not None and head.last_seq == 40
    _verify_ok(40)


def test_a_bad_record_fails_alone_and_leaves_no_gap(settings_env: Path) -> None:
    from api.db import new_session
    from api.services import grievance_log

    barrier = threading.Barrier(10)

    def one(i: int) -> GrievanceRecord | BaseException:
        with new_session() as session:
            barrier.wait()
            try:
                # Record 3 cannot be hashed (Python side); record 6 is refused by PostgreSQL (status too long).
                conf: Any = "not a number" if i == 3 else None
                status = "x" * 40 if i == 6 and session.get_bind().dialect.name == "postgresql" else "received"
                return grievance_log.append(session, channel="web", text=f"第{i}条", asr_confidence=conf, status=status)
            except Exception as exc:
                return exc

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(one, range(10)))
    assert isinstance(results[3], ValueError)
    is_pg = _engine().dialect.name == "postgresql"
    if is_pg:
        assert isinstance(results[6], StatementError)
    good = [r for r in results if isinstance(r, GrievanceRecord)]
    assert len(good) == (8 if is_pg else 9)
    assert sorted(r.id for r in good) == list(range(1, len(good) + 1))
    _verify_ok(len(good))


def test_a_failed_batch_reaches_every_caller_and_the_chain_continues(
    settings_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.services import grievance_log

    _append_many(3)
    gate = threading.Event()
    real = grievance_log._locked_head

    def broken(session: Session) -> LogHead:
        gate.wait(5)
        real(session)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(grievance_log, "_locked_head", broken)
    outcomes: list[BaseException | GrievanceRecord] = []

    def one(i: int) -> None:
        from api.db import new_session

        with new_session() as session:
            try:
                outcomes.append(grievance_log.append(session, channel="web", text=f"{i}"))
            except BaseException as exc:
                outcomes.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(30)
    assert len(outcomes) == 8 and all(isinstance(o, RuntimeError) for o in outcomes)
    monkeypatch.setattr(grievance_log, "_locked_head", real)
    recs = _append_many(5)
    assert sorted(r.id for r in recs) == [4, 5, 6, 7, 8]  # no gap, no fork after the failure
    _verify_ok(8)


def test_append_inside_an_open_transaction_commits_it_as_before(settings_env: Path) -> None:
    from api.db import new_session
    from api.services import grievance_log

    with new_session() as session:
        session.exec(select(func.count()).select_from(Ticket)).one()  # a transaction is open
        assert session.in_transaction()
        rec = grievance_log.append(session, channel="sms", text="你好")
        assert not session.in_transaction() and rec.id == 1
    _append_many(4)
    _verify_ok(5)


def test_the_writer_stops_when_idle_or_closed_and_drains_first(settings_env: Path) -> None:
    from api.services.group_commit import GroupCommitter

    seen: list[list[int]] = []
    taken: list[int] = []
    release = threading.Event()

    def write(items: Any) -> list[int]:
        taken.extend(items)
        release.wait(5)
        seen.append(list(items))
        return [i * 10 for i in items]

    committer: GroupCommitter[int, int] = GroupCommitter(write, name="t", idle_seconds=0.2)
    results: list[int] = []
    threads = [threading.Thread(target=lambda i=i: results.append(committer.submit(i))) for i in range(6)]
    for t in threads:
        t.start()
    accepted_by = time.monotonic() + 10  # all six accepted (being written or queued) before close()
    while len(taken) + len(committer._queue) < 6 and time.monotonic() < accepted_by:
        time.sleep(0.01)
    release.set()
    closer = threading.Thread(target=committer.close)
    closer.start()
    for t in threads:
        t.join(10)
    closer.join(10)
    assert sorted(results) == [0, 10, 20, 30, 40, 50]  # nothing queued was dropped by close()
    assert sum(len(b) for b in seen) == 6
    with pytest.raises(RuntimeError):
        committer.submit(7)

    idle: GroupCommitter[int, int] = GroupCommitter(lambda items: list(items), name="idle", idle_seconds=0.05)
    assert idle.submit(1) == 1
    threading.Event().wait(0.3)
    assert idle._thread is None  # exited while idle
    assert idle.submit(2) == 2  # and restarted on demand


def test_numbers_do_not_wait_for_an_uncommitted_work_order(settings_env: Path) -> None:
    from api.db import begin_write, new_session
    from api.workorders import numbering

    if _engine().dialect.name != "postgresql":
        pytest.skip("SQLite has one write lock per file; numbering stays inside the writer's transaction")
    day = date(2030, 1, 2)
    with new_session() as first, new_session() as second:
        begin_write(first)
        a = numbering.next_number(first, day=day)
        # The first transaction is still open; the old code would block here until it committed.
        b = numbering.next_number(second, day=day)
        first.rollback()
        c = numbering.next_number(first, day=day)
    assert (a, b, c) == ("203001020001", "203001020002", "203001020003")  # a rolled-back number is a gap


def test_concurrent_creations_get_unique_numbers(settings_env: Path) -> None:
    from api.db import new_session
    from api.workorders import creation

    def one(i: int) -> str:
        with new_session() as session:
            return creation.create_ticket(session, data=TicketCreate(description=f"并发{i}")).number

    with ThreadPoolExecutor(max_workers=30) as pool:
        numbers = list(pool.map(one, range(60)))
    assert len(set(numbers)) == 60
    with Session(_engine()) as session:
        assert session.exec(select(func.count()).select_from(Ticket)).one() == 60
