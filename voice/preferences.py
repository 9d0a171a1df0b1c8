"""Callers' remembered wishes (slower speech), kept only with their consent.

In memory on purpose: no new database table in this change, and a preference
that is forgotten on restart harms nobody (the caller presses * again). Keyed by
the same pseudonymous caller key as the grievance log, never the phone number.
"""

from __future__ import annotations

import threading

_slow: set[str] = set()
_lock = threading.Lock()


def wants_slow(caller_key: str) -> bool:
    with _lock:
        return bool(caller_key) and caller_key in _slow


def remember_slow(caller_key: str) -> None:
    if caller_key:
        with _lock:
            _slow.add(caller_key)


def forget_slow(caller_key: str) -> None:
    with _lock:
        _slow.discard(caller_key)
