"""Work-order creations/s and grievance-log appends/s with 20 concurrent clients, on SQLite and PostgreSQL.

Each client is a thread with its own session calling the services the API uses
(`creation.create_ticket`, `grievance_log.append`, `grievance_log.complete`), so the
figures measure the database path (numbering, hash chain, locks, commits), not HTTP
parsing. Like the app (one uvicorn process), all clients share one interpreter and
the app's engine (`api.db.make_engine`: its pool, and pre-ping on PostgreSQL); the
client CPU per operation is printed to show when the GIL, not the database, is the
limit, and the load average because this machine's 2 cores are shared.

    .venv/bin/python bench/backoffice_bench.py [--clients 20] [--seconds 5] [--postgres URL]

PostgreSQL defaults to HOTLINE_TEST_POSTGRES_URL (a throw-away database is created and dropped).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.db import make_engine
from api.migrate import upgrade
from api.models.ticket import TicketCreate, TicketKind
from api.services import grievance_log, sla
from api.workorders import creation

POLICY = sla.load_policy()


def _create(session: Session, worker: int, i: int) -> None:
    creation.create_ticket(
        session,
        data=TicketCreate(kind=TicketKind.complaint, description=f"压测工单 {worker}-{i}", contact_phone="13800138000"),
        actor="bench",
        policy=POLICY,
    )


def _append(session: Session, worker: int, i: int) -> None:
    grievance_log.append(session, channel="web", session_id=f"bench-{worker}", text=f"压测消息 {i}")


def _append_complete(session: Session, worker: int, i: int) -> None:
    """One chat turn's log writes: the request (group-committed) then its outcome (own row lock)."""
    rec = grievance_log.append(session, channel="web", session_id=f"bench-{worker}", text=f"压测对话 {i}")
    grievance_log.complete(session, record_id=rec.id, outcome="answered", replies=[{"text": "收到"}], latency_ms=1)


def run(
    engine: Engine, op: Callable[[Session, int, int], None], *, clients: int, seconds: float
) -> tuple[int, float, float]:
    """Run `op` in `clients` threads for about `seconds`; return (operations, elapsed, this process's CPU seconds)."""
    counts = [0] * clients
    errors: list[BaseException] = []
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def worker(n: int) -> None:
        with Session(engine, expire_on_commit=False) as session:
            start.wait()
            i = 0
            try:
                while time.perf_counter() < stop_at[0]:
                    op(session, n, i)
                    i += 1
            except BaseException as exc:  # report, don't hang the benchmark
                errors.append(exc)
            counts[n] = i

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    began = time.perf_counter()
    cpu_began = time.process_time()
    stop_at[0] = began + seconds
    start.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    cpu = time.process_time() - cpu_began
    if errors:
        raise RuntimeError(f"{len(errors)} client errors, first: {errors[0]!r}")
    return sum(counts), elapsed, cpu


def bench(name: str, url: str, *, clients: int, seconds: float) -> None:
    upgrade(url)
    engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        ops = (("work-order creations", _create), ("log appends", _append), ("log append+complete", _append_complete))
        for label, op in ops:
            n, elapsed, cpu = run(engine, op, clients=clients, seconds=seconds)
            # Client CPU per operation: the clients share one interpreter (GIL), so when
            # rate x CPU/op nears 1 CPU-second per second the client, not the database, is the limit.
            print(
                f"{name:10s} {label:22s} {n / elapsed:8.1f}/s  ({n} in {elapsed:.1f} s, {clients} clients;"
                f" client CPU {1000 * cpu / max(n, 1):.2f} ms/op = {cpu / elapsed:.2f} cores;"
                f" load {os.getloadavg()[0]:.2f})"
            )
        committer = grievance_log._committer(engine)
        print(f"{name:10s} group commit: {committer.items} appends in {committer.batches} transactions")
        with Session(engine) as session:
            result = grievance_log.verify(session)
        print(f"{name:10s} chain verifies: {result.ok} ({result.records} records)")
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--postgres", default=os.environ.get("HOTLINE_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        bench("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", clients=args.clients, seconds=args.seconds)

    if not args.postgres:
        print("PostgreSQL: skipped (set HOTLINE_TEST_POSTGRES_URL or --postgres)")
        return
    admin = create_engine(args.postgres.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        bench("PostgreSQL", args.postgres.rsplit("/", 1)[0] + "/" + name, clients=args.clients, seconds=args.seconds)
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


if __name__ == "__main__":
    main()
