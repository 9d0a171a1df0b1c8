"""Whether a person can take a conversation now: staffed hours on the Chinese calendar and a signed-in operator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.services.on_duty import (
    callback_promise,
    next_service_day,
    on_duty,
    parse_hours,
    signed_in_staff,
    within_service_hours,
)
from tests.backoffice.conftest import login, make_user
from tests.console.conftest import Staff

CHINA = ZoneInfo("Asia/Shanghai")
OFFICE = "08:30-17:30"
ALWAYS = "00:00-24:00"


def china(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A moment given in China time, as the aware UTC datetime the app works with."""
    return datetime(year, month, day, hour, minute, tzinfo=CHINA).astimezone(UTC)


WEDNESDAY_10 = china(2025, 11, 12, 10)  # an ordinary working day
WEDNESDAY_20 = china(2025, 11, 12, 20)
FRIDAY_20 = china(2025, 11, 14, 20)
NATIONAL_DAY_10 = china(2026, 10, 1, 10)


def now_utc() -> datetime:
    return datetime.now(UTC)


def disable(username: str) -> None:
    from api.db import get_engine
    from api.models.staff import StaffUserUpdate
    from api.services import staff
    from api.services.audit import Principal

    with Session(get_engine()) as own:
        staff.update_user(
            own, username=username, data=StaffUserUpdate(active=False), actor=Principal("test-admin", "admin")
        )


# hours and days


def test_parse_hours() -> None:
    assert parse_hours("08:30-17:30") == (time(8, 30), time(17, 30))
    assert parse_hours(" 09:00 - 18:00 ") == (time(9, 0), time(18, 0))
    start, end = parse_hours("00:00-24:00")
    assert start == time(0, 0) and end == time.max


def test_within_service_hours_on_a_working_day() -> None:
    assert WEDNESDAY_10.hour == 2  # 10:00 in China is 02:00 UTC
    assert within_service_hours(WEDNESDAY_10, OFFICE)
    assert not within_service_hours(WEDNESDAY_20, OFFICE)
    assert within_service_hours(china(2025, 11, 12, 8, 30), OFFICE)  # the start is staffed
    assert not within_service_hours(china(2025, 11, 12, 17, 30), OFFICE)  # the end is not
    assert not within_service_hours(china(2025, 11, 12, 8, 29), OFFICE)


def test_the_hours_are_china_time_not_utc() -> None:
    # 01:00 UTC on a working day is 09:00 in China: staffed, though 01:00 is outside the hours in UTC
    assert within_service_hours(datetime(2025, 11, 12, 1, 0, tzinfo=UTC), OFFICE)
    # 10:00 UTC is 18:00 in China: closed
    assert not within_service_hours(datetime(2025, 11, 12, 10, 0, tzinfo=UTC), OFFICE)


def test_holidays_and_make_up_days_follow_the_chinese_calendar() -> None:
    assert not within_service_hours(NATIONAL_DAY_10, OFFICE, "workdays")
    assert within_service_hours(NATIONAL_DAY_10, OFFICE, "every_day")
    assert not within_service_hours(NATIONAL_DAY_10, OFFICE)  # workdays is the default
    assert not within_service_hours(china(2025, 11, 15, 10), OFFICE)  # an ordinary Saturday
    assert within_service_hours(china(2026, 10, 10, 10), OFFICE)  # the make-up Saturday after National Day
    assert within_service_hours(china(2026, 10, 1, 23, 59), ALWAYS, "every_day")


def test_next_service_day() -> None:
    assert next_service_day(FRIDAY_20, OFFICE) == datetime(2025, 11, 17, 8, 30, tzinfo=CHINA)
    assert next_service_day(china(2025, 11, 12, 7), OFFICE) == datetime(2025, 11, 12, 8, 30, tzinfo=CHINA)
    # the whole National Day week is off; staffed again on Thursday 8 October
    assert next_service_day(china(2026, 9, 30, 20), OFFICE) == datetime(2026, 10, 8, 8, 30, tzinfo=CHINA)
    assert next_service_day(china(2026, 9, 30, 20), OFFICE, "every_day") == datetime(2026, 10, 1, 8, 30, tzinfo=CHINA)


def test_callback_promise() -> None:
    assert callback_promise(WEDNESDAY_10, OFFICE) == "两个小时内"
    assert callback_promise(FRIDAY_20, OFFICE) == "11月17日星期一上午十二点前"
    assert callback_promise(china(2025, 11, 12, 7), OFFICE) == "今天上午十二点前"
    assert callback_promise(china(2026, 10, 9, 20), OFFICE) == "10月10日星期六上午十二点前"  # make-up Saturday
    assert callback_promise(FRIDAY_20, OFFICE, "every_day") == "11月15日星期六上午十二点前"


# who is signed in


def test_nobody_signed_in(db: Session) -> None:
    state = on_duty(db, hours=ALWAYS, days="every_day")
    assert (state.available, state.reason, state.hours, state.next_service) == (
        False,
        "nobody_signed_in",
        ALWAYS,
        "",
    )


def test_out_of_hours_says_when_staff_are_back(db: Session) -> None:
    state = on_duty(db, hours=OFFICE, days="workdays", now=FRIDAY_20)
    assert not state.available and state.reason == "out_of_hours"
    assert state.next_service == "11月17日星期一08:30"
    holiday = on_duty(db, hours=OFFICE, days="workdays", now=NATIONAL_DAY_10)
    assert holiday.reason == "out_of_hours" and holiday.next_service == "10月8日星期四08:30"
    assert holiday.as_dict() == {
        "available": False,
        "reason": "out_of_hours",
        "hours": OFFICE,
        "next_service": "10月8日星期四08:30",
    }


def test_out_of_hours_wins_over_a_signed_in_operator(client: TestClient, db: Session) -> None:
    Staff(client, make_user(db, "operator"))
    assert on_duty(db, hours=OFFICE, days="workdays", now=FRIDAY_20).reason == "out_of_hours"


@pytest.mark.parametrize(("role", "answers"), [("operator", True), ("supervisor", True), ("auditor", False)])
def test_a_console_login_of_answering_staff_puts_someone_on_duty(
    client: TestClient, db: Session, role: str, answers: bool
) -> None:
    assert not on_duty(db, hours=ALWAYS, days="every_day").available
    Staff(client, make_user(db, role))
    state = on_duty(db, hours=ALWAYS, days="every_day")
    assert state.available is answers
    assert state.reason == ("on_duty" if answers else "nobody_signed_in")
    assert signed_in_staff(db, now=now_utc()) == (1 if answers else 0)


def test_an_api_token_is_not_a_console_login(client: TestClient, db: Session) -> None:
    login(client, make_user(db, "operator"))
    assert on_duty(db, hours=ALWAYS, days="every_day").reason == "nobody_signed_in"


def test_a_disabled_account_does_not_count(client: TestClient, db: Session) -> None:
    name = make_user(db, "operator")
    Staff(client, name)
    assert on_duty(db, hours=ALWAYS, days="every_day").available
    disable(name)
    state = on_duty(db, hours=ALWAYS, days="every_day")
    assert not state.available and state.reason == "nobody_signed_in"


def test_signing_out_ends_the_duty(client: TestClient, db: Session) -> None:
    browser = Staff(client, make_user(db, "operator"))
    assert on_duty(db, hours=ALWAYS, days="every_day").available
    assert browser.post("/staff/logout").status_code == 303
    assert on_duty(db, hours=ALWAYS, days="every_day").reason == "nobody_signed_in"


def test_two_logins_of_one_operator_count_once(client: TestClient, db: Session) -> None:
    name = make_user(db, "operator")
    Staff(client, name)
    Staff(TestClient(client.app, raise_server_exceptions=False), name)
    assert signed_in_staff(db, now=now_utc()) == 1


# the endpoint


@pytest.fixture
def round_the_clock(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The app staffed every day, all day: availability depends on who is signed in only."""
    from api.settings import get_settings

    monkeypatch.setenv("HOTLINE_SERVICE_DAYS", "every_day")
    monkeypatch.setenv("HOTLINE_VOICE_SERVICE_HOURS", ALWAYS)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_on_duty_endpoint_needs_a_token(client: TestClient) -> None:
    assert client.get("/api/on-duty").status_code == 401
    assert client.get("/api/on-duty", headers={"Authorization": "Bearer not-a-token"}).status_code == 401


def test_on_duty_endpoint_with_a_staff_token(client: TestClient, db: Session) -> None:
    resp = client.get("/api/on-duty", headers=login(client, make_user(db, "operator")))
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"available", "reason", "hours", "next_service"}
    assert body["hours"] == OFFICE  # the default voice_service_hours
    assert body["available"] is False  # an API token is no console login
    assert body["reason"] in ("out_of_hours", "nobody_signed_in")
    assert (body["next_service"] != "") is (body["reason"] == "out_of_hours")


def test_on_duty_endpoint_follows_console_logins(round_the_clock: None, client: TestClient, db: Session) -> None:
    headers = login(client, make_user(db, "auditor"))
    before = client.get("/api/on-duty", headers=headers).json()
    assert before == {"available": False, "reason": "nobody_signed_in", "hours": ALWAYS, "next_service": ""}
    Staff(client, make_user(db, "operator"))
    after = client.get("/api/on-duty", headers=headers).json()
    assert after == {"available": True, "reason": "on_duty", "hours": ALWAYS, "next_service": ""}


def test_a_caller_is_not_promised_a_person_the_call_cannot_reach(
    round_the_clock: None, client: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator signed in to the console can answer chats, not a phone call that cannot be transferred."""
    from api.settings import get_settings

    headers = login(client, make_user(db, "auditor"))
    Staff(client, make_user(db, "operator"))
    assert client.get("/api/on-duty", params={"channel": "web"}, headers=headers).json()["available"] is True
    voice = client.get("/api/on-duty", params={"channel": "voice"}, headers=headers).json()
    assert voice == {"available": False, "reason": "no_phone_transfer", "hours": ALWAYS, "next_service": ""}
    monkeypatch.setenv("HOTLINE_TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("HOTLINE_TWILIO_AUTH_TOKEN", "a-test-auth-token")
    monkeypatch.setenv("HOTLINE_VOICE_TRANSFER_NUMBER", "+862212345678")
    get_settings.cache_clear()
    assert client.get("/api/on-duty", params={"channel": "voice"}, headers=headers).json()["available"] is True
    assert client.get("/api/on-duty", params={"channel": "fax"}, headers=headers).status_code == 422
