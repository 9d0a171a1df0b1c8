"""The background worker: Huey tasks that send the outbox, and the queue the app tells about new messages.

Huey keeps its queue in SQLite under data_dir on one machine and in Redis when
`HOTLINE_QUEUE_URL`, or else `HOTLINE_REDIS_URL`, names one (several app instances and workers:
`Settings.effective_queue_url`, so that the app and the worker always agree). The queue only
carries "look at outbox row N"; what must be sent, and whether it was, lives in the
outbox table, so a task lost with the queue is found again by the sweep (every minute,
and once when the worker starts) and a task run twice sends nothing twice.

Periodic work: the outbox sweep, the 回访 request of orders resolved
`HOTLINE_FOLLOW_UP_AFTER_WORKING_HOURS` staffed hours ago, and the deadline warnings
(`api.services.deadline_watch`; both every five minutes, one worker at a time), and at
`HOTLINE_LOG_NIGHTLY_AT` the grievance log's export and chain check (`api.services.log_nightly`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import redis
from huey import Huey, RedisHuey, SqliteHuey, crontab
from sqlalchemy.exc import SQLAlchemyError

from api.db import new_session
from api.services import deadline_watch, follow_up, log_nightly, outbox
from api.settings import Settings, get_settings

log = logging.getLogger("hotline.worker")
# Huey's locks of the periodic checks; a worker killed inside one leaves its lock behind (no expiry on SQLite,
# nor on Redis before 7.4), so a starting worker clears them, or the check would never run again. Another worker
# still running one may then run it alongside: harmless, as each order and warning is written once anyway.
LOCKS = ("follow_up.request_due", "deadlines.raise_due", "log.nightly")


@dataclass(frozen=True)
class Queue:
    """The Huey instance and its tasks (made once per process, not at import)."""

    huey: Huey
    deliver: Any
    sweep: Any
    follow_ups: Any
    deadlines: Any

    def notify(self, ids: list[int]) -> None:
        """Ask the worker to send these outbox rows now (the app calls this after its commit)."""
        for outbox_id in ids:
            self.deliver(outbox_id)

    def schedule(self, outbox_id: int, eta: datetime) -> None:
        self.deliver.schedule(args=(outbox_id,), eta=eta)


def _huey(settings: Settings) -> Huey:
    url = settings.effective_queue_url
    if url:
        # A Redis that does not answer must not hold up the request that announces a message (the sweep
        # sends it later); reads block for at most a second (Huey's default), well inside the timeout.
        pool = redis.ConnectionPool.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        return RedisHuey("hotline", connection_pool=pool, results=False)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("hotline", filename=str(settings.data_dir / "queue.db"), results=False)


def build_queue(settings: Settings) -> Queue:
    huey = _huey(settings)

    @huey.task(name="outbox.deliver")
    def deliver(outbox_id: int) -> None:
        result = outbox.deliver(outbox_id, get_settings())
        if result.outcome == "retry":
            deliver.schedule(args=(outbox_id,), delay=result.retry_in)

    @huey.periodic_task(crontab(minute="*"), name="outbox.sweep")
    def sweep() -> None:
        schedule_unfinished(later_too=False)

    @huey.periodic_task(crontab(minute="*/5"), name="follow_up.request_due")
    def follow_ups() -> None:
        # One worker at a time (several share a Redis queue); each order is locked by the request anyway.
        with huey.lock_task("follow_up.request_due"), new_session() as session:
            asked = follow_up.request_due(session, get_settings())
        if asked:
            log.info("asked for the rating of %d resolved work order(s)", len(asked))

    @huey.periodic_task(crontab(minute="*/5"), name="deadlines.raise_due")
    def deadlines() -> None:
        with huey.lock_task("deadlines.raise_due"), new_session() as session:
            raised = deadline_watch.raise_due(session, get_settings())
        if raised:
            log.info("raised %d deadline warning(s)", len(raised))

    @huey.periodic_task(lambda moment: log_nightly.due(moment, get_settings()), name="log.nightly")
    def nightly() -> None:
        with huey.lock_task("log.nightly"), new_session() as session:
            check = log_nightly.run(session, get_settings())
        if check is not None:
            log.log(
                logging.INFO if check.ok else logging.ERROR,
                "nightly grievance log check for %s: %s, %d records, %d exported",
                check.day,
                "chain intact" if check.ok else f"BROKEN at record {check.first_broken_id}",
                check.records,
                check.export_records,
            )

    return Queue(huey=huey, deliver=deliver, sweep=sweep, follow_ups=follow_ups, deadlines=deadlines)


@lru_cache
def get_queue() -> Queue:
    return build_queue(get_settings())


def schedule_unfinished(*, later_too: bool) -> int:
    """Queue every unfinished outbox row (due now, or also those due later); how many."""
    queue = get_queue()
    with new_session() as session:
        rows = outbox.due(session, later_too=later_too)
    for outbox_id, at in rows:
        queue.schedule(outbox_id, at)
    if rows:
        log.info("queued %d unfinished outbox message(s)", len(rows))
    return len(rows)


def install_notifier(queue: Queue) -> Callable[[], None]:
    """From now on, each commit that adds outbox rows queues them for the worker; returns the uninstaller."""
    return outbox.install_notifier(queue.notify)


def run(workers: int = 2) -> None:
    """Run the consumer in the foreground until SIGINT or SIGTERM (the Procfile's `worker`)."""
    queue = get_queue()
    try:
        schedule_unfinished(later_too=True)
    except SQLAlchemyError as exc:  # the database is not up or not migrated yet: the minute's sweep catches up
        log.warning("outbox not read at start (%s); the periodic sweep will send what is waiting", type(exc).__name__)
    # The follow-ups this worker asks for are queued as they are committed, as the app's are, not at the next sweep.
    install_notifier(queue)
    # An idle worker looks for new tasks at least every second (Huey backs off up to `max_delay`).
    consumer = queue.huey.create_consumer(
        workers=workers, worker_type="thread", periodic=True, max_delay=1.0, extra_locks=",".join(LOCKS)
    )
    consumer.run()
