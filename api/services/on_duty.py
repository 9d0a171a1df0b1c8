"""Whether a person can take a conversation now: staffed hours and a signed-in operator.

One home for the service hours, used by the assistant's hand-off (`GET /api/staff/on-duty`)
and by the phone line, so that what a caller is promised and what a texter is told agree.
Hours are working days (the Chinese calendar of the SLA policy, holidays and make-up days)
between the `voice_service_hours` times, China time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlmodel import Session, col, select

from api.clock import CHINA_TZ
from api.models.console import StaffSession
from api.models.staff import StaffUser
from api.services import sla
from api.services.grievance_log import utcnow

WEEKDAYS = "一二三四五六日"
# Roles that answer citizens in the console.
ANSWERING_ROLES = ("operator", "supervisor")


def parse_hours(spec: str) -> tuple[time, time]:
    """ "08:30-17:30" -> (08:30, 17:30); "24:00" is the end of the day."""
    start, _, end = spec.partition("-")
    h1, m1 = (int(x) for x in start.strip().split(":"))
    h2, m2 = (int(x) for x in end.strip().split(":"))
    return time(h1, m1), time.max if (h2, m2) == (24, 0) else time(h2, m2)


def _staffed_day(day: date, days: str) -> bool:
    return days == "every_day" or sla.is_workday(day)


def within_service_hours(now: datetime, spec: str, days: str = "workdays") -> bool:
    local = now.astimezone(CHINA_TZ)
    start, end = parse_hours(spec)
    return _staffed_day(local.date(), days) and start <= local.time() < end


def next_service_day(now: datetime, spec: str, days: str = "workdays") -> datetime:
    """The start of the next staffed period after `now` (today's, if it has not begun)."""
    local = now.astimezone(CHINA_TZ)
    start, _ = parse_hours(spec)
    day = local.date()
    if not (_staffed_day(day, days) and local.time() < start):
        day += timedelta(days=1)
        while not _staffed_day(day, days):
            day += timedelta(days=1)
    return datetime.combine(day, start, tzinfo=CHINA_TZ)


def callback_promise(now: datetime, spec: str, days: str = "workdays") -> str:
    """When staff will call back, in words (normalised later for speech)."""
    if within_service_hours(now, spec, days):
        return "两个小时内"
    day = next_service_day(now, spec, days)
    if day.date() == now.astimezone(CHINA_TZ).date():
        return "今天上午十二点前"
    return f"{day.month}月{day.day}日星期{WEEKDAYS[day.weekday()]}上午十二点前"


@dataclass(frozen=True)
class OnDuty:
    available: bool
    reason: str  # "on_duty" | "out_of_hours" | "nobody_signed_in" | "no_phone_transfer"
    hours: str
    next_service: str  # e.g. "12月4日星期五8:30", empty when available

    def as_dict(self) -> dict[str, object]:
        return {
            "available": self.available,
            "reason": self.reason,
            "hours": self.hours,
            "next_service": self.next_service,
        }


def signed_in_staff(session: Session, *, now: datetime) -> int:
    """Console logins of answering staff that have not ended or expired.

    When the roster names anyone, only signed-in people on it count: a supervisor reading
    reports is not promised to a caller. An office that keeps no roster counts everyone signed in.
    """
    query = (
        select(StaffSession.username)
        .join(StaffUser, col(StaffUser.username) == col(StaffSession.username))
        .where(
            StaffSession.ended_at == None,  # noqa: E711
            StaffSession.expires_at > now,
            StaffUser.active == True,  # noqa: E712
            col(StaffUser.role).in_(ANSWERING_ROLES),
        )
    )
    if roster_kept(session):
        query = query.where(StaffUser.on_duty == True)  # noqa: E712
    rows = session.exec(query).all()
    session.rollback()
    return len(set(rows))


def roster_kept(session: Session) -> bool:
    """Whether anyone active is on the duty roster."""
    return (
        session.exec(
            select(StaffUser.id).where(StaffUser.on_duty == True, StaffUser.active == True).limit(1)  # noqa: E712
        ).first()
        is not None
    )


def phone_transfer_configured(*, twilio_enabled: bool, transfer_number: str) -> bool:
    """A phone call can be moved to a person only through Twilio, to a configured number or SIP address."""
    return bool(twilio_enabled and transfer_number.strip())


def on_duty(
    session: Session,
    *,
    hours: str,
    days: str = "workdays",
    now: datetime | None = None,
    phone_transfer: bool | None = None,
) -> OnDuty:
    """`phone_transfer` is given for a caller: a console operator cannot take a phone call that cannot be
    transferred (no Twilio or no transfer number), so a caller is not told to hold for nobody."""
    now = now or utcnow()
    if not within_service_hours(now, hours, days):
        start = next_service_day(now, hours, days)
        words = f"{start.month}月{start.day}日星期{WEEKDAYS[start.weekday()]}{start.strftime('%H:%M')}"
        return OnDuty(False, "out_of_hours", hours, words)
    if phone_transfer is False:
        return OnDuty(False, "no_phone_transfer", hours, "")
    if not signed_in_staff(session, now=now):
        return OnDuty(False, "nobody_signed_in", hours, "")
    return OnDuty(True, "on_duty", hours, "")


def add_working_hours(
    start: datetime, hours: float, spec: str, days: str = "workdays", policy: sla.SlaPolicy | None = None
) -> datetime:
    """The moment `hours` of staffed time after `start` (aware): only the service hours of staffed days count,
    so a delay that runs past closing continues at the next opening (after a weekend or holiday)."""
    open_at, close_at = parse_hours(spec)
    remaining = timedelta(hours=hours)
    local = start.astimezone(CHINA_TZ)
    while True:
        day = local.date()
        staffed = days == "every_day" or sla.is_workday(day, policy)
        opening = datetime.combine(day, open_at, tzinfo=CHINA_TZ)
        closing = datetime.combine(day, close_at, tzinfo=CHINA_TZ)
        if staffed and local < closing:
            begin = max(local, opening)
            if begin + remaining <= closing:
                return begin + remaining
            remaining -= closing - begin
        local = datetime.combine(day + timedelta(days=1), time(0), tzinfo=CHINA_TZ)
