"""Issue 18, item 5: concurrent staff writes on SQLite (the default) through a real server.

Before the fix, notes, moves and edits read the work order before taking the write lock, so a
writer's snapshot went stale under another's commit: 40 concurrent notes gave 16 stored, 14 × 500 and
10 resets; 20 dispatches on 20 orders, 6 succeeded. Here a real uvicorn (two worker processes, each
with its thread pool) takes the same bursts from 40 client threads: everything is stored, nothing ≥ 500.
The same runs on PostgreSQL when configured.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, func, select

from api.models.staff import AuditEvent, Department
from api.models.ticket import Ticket, TicketCreate, TicketNote
from tests.backoffice import conftest as backoffice
from tests.backoffice.conftest import PASSWORD, TICKET, make_user
from tests.conftest import ROOT

# The back-office suite's fixtures: a copied migrated database, fast argon2 for the accounts made here.
fast_argon2 = backoffice.fast_argon2

NOTES = 40
DISPATCHES = 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(settings_env: Path, database_url: str) -> Iterator[str]:
    """The real app under uvicorn (2 worker processes) on the test's migrated database."""
    port = _free_port()
    env = {
        **os.environ,
        "HOTLINE_DATA_DIR": str(settings_env),
        "HOTLINE_DATABASE_URL": database_url,
        "HOTLINE_SECRET_KEY": "test-secret-key-for-staff-writes-0123456789",
        "HOTLINE_RASA_URL": f"http://127.0.0.1:{_free_port()}",
        "HOTLINE_ACTION_SERVER_URL": f"http://127.0.0.1:{_free_port()}",
    }
    log = (settings_env / "server.log").open("wb")
    command = [sys.executable, "-m", "uvicorn", "hotline.app:create_app", "--factory", "--port", str(port)]
    proc = subprocess.Popen([*command, "--workers", "2"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/api/auth/me", timeout=2).status_code == 401:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((settings_env / "server.log").read_text(errors="replace")[-3000:])
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _token(url: str, username: str) -> dict[str, str]:
    resp = httpx.post(url + "/api/auth/token", data={"username": username, "password": PASSWORD}, timeout=60)
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def _orders(count: int) -> list[str]:
    from api.db import get_engine
    from api.workorders import creation

    with Session(get_engine(), expire_on_commit=False) as own:
        return [creation.create_ticket(own, data=TicketCreate.model_validate(TICKET)).number for _ in range(count)]


def _burst(requests: list[tuple[str, str, dict[str, Any]]], hdrs: dict[str, str]) -> list[int]:
    """Send all requests at once from as many threads, each with a connection of its own; the status codes."""

    def send(request: tuple[str, str, dict[str, Any]]) -> int:
        method, url, body = request
        try:
            with httpx.Client(timeout=120) as http:
                return http.request(method, url, json=body, headers=hdrs).status_code
        except httpx.HTTPError as exc:  # a reset or a timeout: the report's "resets"
            return -len(type(exc).__name__)

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(send, requests))


def test_concurrent_notes_and_dispatches_are_all_stored(server: str, db: Session) -> None:
    from api.db import get_engine

    with Session(get_engine()) as own:
        dept = Department(code="hd-dpf", name="海淀区残联")
        own.add(dept)
        own.commit()
        department_id = dept.id
    hdrs = _token(server, make_user(db, "operator", username="centre-op"))
    orders = _orders(DISPATCHES + 2)
    noted, busy = orders[-2:]

    # 40 notes at once: half on one order, half on another.
    notes = [
        ("POST", f"{server}/api/tickets/{noted if i % 2 else busy}/notes", {"text": f"并发备注{i}"})
        for i in range(NOTES)
    ]
    codes = _burst(notes, hdrs)
    assert codes == [201] * NOTES, codes
    # 20 dispatches on 20 different orders at once.
    dispatches = [
        (
            "POST",
            f"{server}/api/tickets/{n}/transitions",
            {"action": "dispatch", "version": 1, "department_id": department_id},
        )
        for n in orders[:DISPATCHES]
    ]
    codes = _burst(dispatches, hdrs)
    assert codes == [200] * DISPATCHES, codes
    # 20 edits and 20 more notes on the same orders, all at once.
    mixed = [("PATCH", f"{server}/api/tickets/{n}", {"version": 2, "priority": "urgent"}) for n in orders[:DISPATCHES]]
    mixed += [("POST", f"{server}/api/tickets/{n}/notes", {"text": "派单后备注"}) for n in orders[:DISPATCHES]]
    codes = _burst(mixed, hdrs)
    assert codes == [200] * DISPATCHES + [201] * DISPATCHES, codes

    with Session(get_engine()) as own:
        assert own.exec(select(func.count()).select_from(TicketNote)).one() == NOTES + DISPATCHES
        dispatched = own.exec(select(Ticket).where(col(Ticket.number).in_(orders[:DISPATCHES]))).all()
        assert {(t.status.value, t.department_id, t.priority.value, t.version) for t in dispatched} == {
            ("dispatched", department_id, "urgent", 3)
        }
        audited = own.exec(select(AuditEvent.action, func.count()).group_by(AuditEvent.action)).all()
        counts = dict(audited)
        assert counts["ticket.note"] == NOTES + DISPATCHES
        assert counts["ticket.dispatch"] == DISPATCHES and counts["ticket.update"] == DISPATCHES


def test_a_writer_after_a_read_takes_the_lock_instead_of_failing(settings_env: Path) -> None:
    """`begin_write` after a read (the auth check, a page's lookup) starts over as a writer, so another
    writer's commit in between no longer makes the first write fail (SQLite: "database is locked" at once)."""
    from api.db import begin_write, new_session
    from api.services.grievance_log import utcnow

    first, second = _orders(2)
    with new_session() as reader, new_session() as other:
        ticket = reader.exec(select(Ticket).where(Ticket.number == first)).one()  # a read transaction stays open
        other.add(TicketNote(ticket_id=_id(other, second), at=utcnow(), author="b", text="另一位先写"))
        other.commit()
        begin_write(reader)
        reader.add(TicketNote(ticket_id=ticket.id or 0, at=utcnow(), author="a", text="读过再写"))
        reader.commit()
    with new_session() as own:
        assert own.exec(select(func.count()).select_from(TicketNote)).one() == 2


def _id(session: Session, number: str) -> int:
    return session.exec(select(Ticket.id).where(Ticket.number == number)).one() or 0
