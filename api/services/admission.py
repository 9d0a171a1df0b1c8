"""One admission step for every citizen channel: limits from the models, rejected input logged, one rate limiter.

The limiter keeps its counts in this process by default; with `HOTLINE_REDIS_URL` set they
live in Redis, so that several app instances share one count per citizen.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from typing import Any, Protocol

from pydantic import BaseModel
from sqlmodel import Session
from starlette.requests import Request

from api.services import grievance_log

MAX_RAW_LOG_CHARS = 20000


def field_limit(model: type[BaseModel], name: str) -> int:
    """The `max_length` the model itself declares for `name` (so a channel never drifts from the model)."""
    for meta in model.model_fields[name].metadata:
        limit = getattr(meta, "max_length", None)
        if limit is not None:
            return int(limit)
    raise LookupError(f"{model.__name__}.{name} declares no max_length")


def log_rejected(
    db: Session, *, channel: str, session_id: str, text: str, code: str, caller: str | None = None
) -> None:
    """Keep what a citizen sent even when it is refused: the grievance log records it as rejected."""
    extra: dict[str, Any] = {} if caller is None else {"caller": caller}
    grievance_log.append(
        db,
        channel=channel,
        session_id=session_id,
        text=text[:MAX_RAW_LOG_CHARS],
        status="rejected",
        error_code=code,
        **extra,
    )


class Limiter(Protocol):
    limit: int
    window: float

    def hit(self, key: str) -> float:
        """Count a hit; 0 when allowed, else the seconds until the next hit would be allowed."""
        ...


class MemoryLimiter:
    """Sliding window in this process: at most `limit` hits per `window` seconds per key."""

    def __init__(self, limit: int, window: float = 60.0, max_keys: int = 10000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> float:
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


# Fixed window: the first hit starts the window; refused hits are not counted.
_FIXED_WINDOW = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then
  return {0, redis.call('PTTL', KEYS[1])}
end
n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return {1, 0}
"""


class RedisLimiter:
    """Fixed window in Redis, shared by every instance that uses the same `name`."""

    def __init__(self, client: Any, name: str, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._prefix = f"hotline:limit:{name}:"
        self._script = client.register_script(_FIXED_WINDOW)

    def hit(self, key: str) -> float:
        allowed, wait_ms = self._script(keys=[self._prefix + key], args=[self.limit, int(self.window * 1000)])
        if allowed:
            return 0.0
        return max(0.001, int(wait_ms) / 1000) if int(wait_ms) > 0 else self.window


def redis_client(url: str) -> Any:
    """A Redis client with short timeouts: a limiter must not hold a request for long."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def limiter_for(request: Request, name: str, limit: int, window: float) -> Limiter:
    """The app's limiter called `name`, made on first use (and again when its settings change)."""
    state = request.app.state
    limiters: dict[str, Limiter] | None = getattr(state, "hotline_limiters", None)
    if limiters is None:
        limiters = state.hotline_limiters = {}
    limiter = limiters.get(name)
    if limiter is None or limiter.limit != limit or limiter.window != window:
        from api.settings import get_settings

        url = get_settings().redis_url
        if url:
            client = getattr(state, "hotline_redis", None)
            if client is None:
                client = state.hotline_redis = redis_client(url)
            limiter = RedisLimiter(client, name, limit, window)
        else:
            limiter = MemoryLimiter(limit, window)
        limiters[name] = limiter
    return limiter
