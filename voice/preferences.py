"""Callers' remembered wishes (slower speech), kept only with their consent.

Stored in `caller_preference`, keyed by the salted caller key (the grievance log's
pseudonym), never the phone number. Only a caller who said yes has a row; saying
no later deletes it. The functions block (database) and belong off the event loop.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.db import get_engine
from api.models.caller import CallerPreference
from api.services.grievance_log import utcnow


def wants_slow(caller_key: str) -> bool:
    """Did this caller ask, with consent, for slower speech on every call?"""
    if not caller_key:
        return False
    with Session(get_engine()) as session:
        row = session.get(CallerPreference, caller_key)
        return bool(row and row.slow_speech)


def remember_slow(caller_key: str) -> bool:
    """Store the caller's consent to slower speech; False when there is no caller to key it by."""
    if not caller_key:
        return False
    now = utcnow()
    with Session(get_engine()) as session:
        row = session.get(CallerPreference, caller_key)
        if row is None:
            row = CallerPreference(caller_key=caller_key, slow_speech=True, consented_at=now, updated_at=now)
        else:
            row.slow_speech = True
            row.updated_at = now
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()  # the same caller on two lines said yes at once: stored by the other
    return True


def forget_slow(caller_key: str) -> None:
    """Delete what was remembered: nothing about the caller stays behind."""
    if not caller_key:
        return
    with Session(get_engine()) as session:
        row = session.get(CallerPreference, caller_key)
        if row is not None:
            session.delete(row)
            session.commit()
