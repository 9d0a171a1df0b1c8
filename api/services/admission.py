"""One admission step for every citizen channel: limits from the models, rejected input logged, one rate limiter.

The limiter keeps its counts in this process by default; with `HOTLINE_REDIS_URL` set they
live in Redis, so that several app instances share one count per citizen.
"""

from __future__ import annotations

import hashlib
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


def text_problem(text: str, *, limit: int) -> str | None:
    """Why a citizen's turn cannot be taken, by the one rule every channel applies: "empty_text" (nothing
    but spaces), "text_too_long" (over `HOTLINE_MAX_MESSAGE_CHARS`), or None. Each channel says it its way."""
    if not text.strip():
        return "empty_text"
    if len(text) > limit:
        return "text_too_long"
    return None


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


# Why a flood guard refused a message (the channels' wording is keyed by these).
REPEAT, TOO_FAST = "repeat", "too_fast"


class _LastTextMemory:
    """Each key's last text (a digest) until it is `repeat` seconds old, in this process."""

    def __init__(self, max_keys: int = 50000) -> None:
        self._last: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.max_keys = max_keys

    def same(self, key: str, digest: str) -> bool:
        with self._lock:
            found = self._last.get(key)
            return found is not None and found[0] == digest and found[1] > time.monotonic()

    def remember(self, key: str, digest: str, seconds: float) -> None:
        with self._lock:
            self._last[key] = (digest, time.monotonic() + seconds)
            self._last.move_to_end(key)
            while len(self._last) > self.max_keys:
                self._last.popitem(last=False)


class _LastTextRedis:
    """The same in Redis, so that a repeat sent to another instance is seen too."""

    def __init__(self, client: Any, name: str) -> None:
        self._client = client
        self._prefix = f"hotline:last:{name}:"

    def same(self, key: str, digest: str) -> bool:
        found = self._client.get(self._prefix + key)
        return found is not None and found.decode() == digest

    def remember(self, key: str, digest: str, seconds: float) -> None:
        self._client.set(self._prefix + key, digest, px=max(1, int(seconds * 1000)))


class FloodGuard:
    """Refuses a quick repeat of the same text and bursts of messages, per key (session, number, address).

    The burst is counted by the app's one limiter (`limiter_for`); the last text is kept beside it,
    in memory or in Redis like the counts. Blocking when Redis is used: call it from a thread.
    """

    def __init__(self, limiter: Limiter, repeat_seconds: float, last: _LastTextMemory | _LastTextRedis) -> None:
        self.limiter = limiter
        self.repeat = repeat_seconds
        self._last = last

    def check(self, key: str, text: str) -> str | None:
        """None when the message may pass (and count it), else why not (REPEAT or TOO_FAST)."""
        digest = hashlib.sha256(text.encode()).hexdigest()[:32]
        if text and self.repeat and self._last.same(key, digest):
            return REPEAT
        if self.limiter.hit(key):
            return TOO_FAST
        if self.repeat:
            self._last.remember(key, digest, self.repeat)
        return None


def flood_guard(request: Request, name: str, *, limit: int, window: float, repeat: float) -> FloodGuard:
    """The app's flood guard called `name`: its bursts on the limiter of the same name."""
    limiter = limiter_for(request, f"flood_{name}", limit, window)
    guards: dict[str, FloodGuard] | None = getattr(request.app.state, "hotline_guards", None)
    if guards is None:
        guards = request.app.state.hotline_guards = {}
    guard = guards.get(name)
    if guard is None or guard.limiter is not limiter or guard.repeat != repeat:
        client = getattr(request.app.state, "hotline_redis", None)
        last = _LastTextRedis(client, name) if isinstance(limiter, RedisLimiter) else _LastTextMemory()
        guard = guards[name] = FloodGuard(limiter, repeat, last)
    return guard
