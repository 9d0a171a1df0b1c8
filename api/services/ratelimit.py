"""Small in-memory sliding-window rate limiters (per process; enough for one app process), keyed per citizen."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque

from starlette.requests import Request


class SlidingWindowLimiter:
    """At most `limit` hits per `window` seconds per key; remembers at most `max_keys` keys."""

    def __init__(self, limit: int, window: float = 60.0, max_keys: int = 10000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> float:
        """Count a hit; 0 when allowed, else the seconds until the next hit would be allowed."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                hits = self._hits[key] = deque()
                while len(self._hits) > self.max_keys:
                    self._hits.popitem(last=False)
            self._hits.move_to_end(key)
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(0.0, hits[0] + self.window - now)
            hits.append(now)
            return 0.0


LOOPBACK = frozenset({"127.0.0.1", "::1"})


def client_address(request: Request, trusted_proxies: frozenset[str]) -> tuple[str, bool]:
    """(the client's address, whether it is this machine itself).

    Behind a trusted proxy the address is the last hop it recorded in X-Forwarded-For;
    a client on this machine without one (the assistant, benchmarks, staff tools) is internal.
    """
    host = request.client.host if request.client else ""
    forwarded = request.headers.get("x-forwarded-for", "")
    if forwarded and host in trusted_proxies:
        return forwarded.split(",")[-1].strip() or host, False
    return host, host in LOOPBACK


def limiter_for(request: Request, name: str, limit: int, window: float) -> SlidingWindowLimiter:
    """The app's limiter called `name`, made on first use (and again when its settings change)."""
    limiters: dict[str, SlidingWindowLimiter] | None = getattr(request.app.state, "hotline_limiters", None)
    if limiters is None:
        limiters = request.app.state.hotline_limiters = {}
    limiter = limiters.get(name)
    if limiter is None or limiter.limit != limit or limiter.window != window:
        limiter = limiters[name] = SlidingWindowLimiter(limit, window)
    return limiter
