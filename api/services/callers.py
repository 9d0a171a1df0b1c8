"""What the hotline remembers about a caller: 退订, easy-read SMS and slower speech, in one table.

Everything is kept by the salted caller key (the grievance log's pseudonym), never the phone
number, in `caller_preference`. Every module that sends a text asks `is_unsubscribed` first (the
SMS channel, staff replies, follow-ups, the phone line's "9"), so one 退订 stops them all, in every
process. Each change is one UPDATE of one column (or the INSERT of the caller's row), so two
requests at once, on SQLite or PostgreSQL, never undo each other. The functions block on the
database: call them from a worker thread in async code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from api.clock import utcnow
from api.db import begin_write, new_session
from api.models.caller import CallerPreference
from api.services import grievance_log
from api.settings import Settings
from chinese_numbers.phones import e164_mobile

Flag = Literal["slow_speech", "easy_read", "unsubscribed"]
_FLAGS: tuple[Flag, ...] = ("slow_speech", "easy_read", "unsubscribed")
# An INSERT that lost to another request's INSERT of the same caller becomes an UPDATE; twice is plenty.
_ATTEMPTS = 3


@dataclass(frozen=True)
class Preferences:
    slow_speech: bool = False
    easy_read: bool = False
    unsubscribed: bool = False


def normalize_phone(raw: str) -> str:
    """The digits of a number as received, with a leading + kept."""
    return re.sub(r"[^\d+]", "", raw or "")


def key_for(settings: Settings, phone: str | None) -> str:
    """The caller key of a phone number in any of its forms (13800138000, +86 138 0013 8000): a mobile
    is keyed in E.164, as Twilio gives it to the SMS channel and the phone line; "" for no number."""
    canonical = e164_mobile(phone) or normalize_phone(phone or "")
    return grievance_log.caller_key(canonical, salt=settings.effective_caller_salt)


def preferences(caller_key: str) -> Preferences:
    if not caller_key:
        return Preferences()
    with new_session() as session:
        row = session.get(CallerPreference, caller_key)
        if row is None:
            return Preferences()
        return Preferences(slow_speech=row.slow_speech, easy_read=row.easy_read, unsubscribed=row.unsubscribed)


def is_unsubscribed(settings: Settings, phone: str | None) -> bool:
    """Whether the number sent 退订 (and not 订阅 since): then no SMS of any kind goes to it."""
    key = key_for(settings, phone)
    return preferences(key).unsubscribed if key else False


def set_flag(caller_key: str, flag: Flag, on: bool) -> None:
    """Turn one remembered wish on or off; the caller's row goes when nothing is left to remember."""
    if not caller_key:
        return
    column = getattr(CallerPreference, flag)
    for attempt in range(_ATTEMPTS):
        now = utcnow()
        with new_session() as session:
            begin_write(session)
            changed = session.exec(
                update(CallerPreference)
                .where(col(CallerPreference.caller_key) == caller_key)
                .values({column: on, CallerPreference.updated_at: now})
            ).rowcount
            if not changed and not on:
                return
            if not changed:
                session.add(CallerPreference(caller_key=caller_key, consented_at=now, updated_at=now, **{flag: True}))
            if not on:
                session.exec(
                    delete(CallerPreference).where(
                        col(CallerPreference.caller_key) == caller_key,
                        *(getattr(CallerPreference, f).is_(False) for f in _FLAGS),
                    )
                )
            try:
                session.commit()
                return
            except IntegrityError:
                session.rollback()  # the same caller's row was inserted meanwhile: update it instead
                if attempt == _ATTEMPTS - 1:
                    raise


def set_unsubscribed(caller_key: str, on: bool) -> None:
    set_flag(caller_key, "unsubscribed", on)


def set_easy_read(caller_key: str, on: bool) -> None:
    set_flag(caller_key, "easy_read", on)


def wants_slow(caller_key: str) -> bool:
    """Did this caller ask, with consent, for slower speech on every call?"""
    return preferences(caller_key).slow_speech


def remember_slow(caller_key: str) -> bool:
    """Store the caller's consent to slower speech; False when there is no caller to key it by."""
    if not caller_key:
        return False
    set_flag(caller_key, "slow_speech", True)
    return True


def forget_slow(caller_key: str) -> None:
    """Forget the slower speech; with nothing else remembered, nothing about the caller stays behind."""
    set_flag(caller_key, "slow_speech", False)
