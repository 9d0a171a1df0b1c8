"""Group commit: one writer thread turns many concurrent small writes into one transaction.

A durable commit costs one WAL flush (~6 ms on the production-like host). When
every write must also hold a lock until its commit (the grievance log's chain
head), those flushes are serialised and throughput is capped at 1/flush. The
`GroupCommitter` queues the callers' items; its writer thread takes everything
waiting (up to `max_batch`) and hands the batch to `write_batch`, which writes
and commits it in ONE transaction. Each caller blocks on its own future and gets
its own result, or the exception that failed its item (or the whole batch).

The writer is started lazily by the first `submit`, exits after `idle_seconds`
without work (and is restarted by the next `submit`), and `close()` drains the
queue before stopping, so an item that was accepted is always either written or
failed back to its caller, never dropped.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# write_batch(items) -> one result per item, in order: the item's value, or the exception that
# failed that item alone. Raising fails the whole batch: every caller of the batch gets the error.
BatchWriter = Callable[[Sequence[T]], Sequence[R | BaseException]]

_live: weakref.WeakSet[GroupCommitter[object, object]] = weakref.WeakSet()


class GroupCommitter(Generic[T, R]):
    def __init__(
        self, write_batch: BatchWriter[T, R], *, name: str, max_batch: int = 256, idle_seconds: float = 10.0
    ) -> None:
        self._write_batch = write_batch
        self._name = name
        self._max_batch = max_batch
        self._idle_seconds = idle_seconds
        self._queue: deque[tuple[T, Future[R]]] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches = 0  # statistics, for tests and the benchmark
        self.items = 0
        _live.add(self)  # type: ignore[arg-type]

    def submit(self, item: T) -> R:
        """Queue `item`, wait until its batch is committed, and return its result (or raise the batch's error)."""
        fut: Future[R] = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError(f"{self._name} writer is closed")
            self._queue.append((item, fut))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"group-commit-{self._name}", daemon=True)
                self._thread.start()
            self._cond.notify()
        return fut.result()

    def close(self, timeout: float | None = 30.0) -> None:
        """Refuse new items, let the writer finish everything queued, and wait for it to stop."""
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _take(self) -> list[tuple[T, Future[R]]] | None:
        """The next batch; None when the writer should stop (idle or closed, with an empty queue)."""
        with self._cond:
            while not self._queue:
                if self._closed:
                    self._thread = None
                    return None
                if not self._cond.wait(self._idle_seconds) and not self._queue:
                    self._thread = None  # idle: the next submit starts a new writer
                    return None
            n = min(len(self._queue), self._max_batch)
            return [self._queue.popleft() for _ in range(n)]

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            live = [(item, fut) for item, fut in batch if fut.set_running_or_notify_cancel()]
            if not live:
                continue
            try:
                results = self._write_batch([item for item, _ in live])
                if len(results) != len(live):
                    raise RuntimeError(f"{self._name}: {len(results)} results for {len(live)} items")
            except BaseException as exc:  # every caller of the batch hears about it
                log.warning("%s: batch of %d failed: %r", self._name, len(live), exc)
                for _, fut in live:
                    fut.set_exception(exc)
                continue
            self.batches += 1
            self.items += len(live)
            for (_, fut), result in zip(live, results, strict=True):
                if isinstance(result, BaseException):
                    fut.set_exception(result)
                else:
                    fut.set_result(result)


@atexit.register
def _drain_all() -> None:
    for committer in list(_live):
        committer.close(timeout=10.0)
