"""The follow-up (回访) loop through the service: ask, rate, reopen, resolve again, rate, close; idempotency."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.db import new_session
from api.errors import ApiError
from api.models.ticket import FollowUp, Ticket, TicketEvent, TicketStatus
from api.services import follow_up
from api.services.audit import Principal
from api.settings import get_settings
from tests.followup.conftest import resolve

SUPERVISOR = Principal(username="supervisor-0", role="supervisor")


def _ticket(_s: Session, number: str) -> Ticket:
    """A fresh read in a session of its own (the service calls must not run inside a stale read)."""
    with new_session() as s:
        return s.exec(select(Ticket).where(Ticket.number == number)).one()


def _events(_s: Session, ticket_id: int) -> list[TicketEvent]:
    with new_session() as s:
        return list(s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(col(TicketEvent.id))))


def test_unsatisfied_reopens_then_satisfied_closes(
    client: TestClient,
    resolved: Callable[..., str],
    headers: Callable[..., dict[str, str]],
    department: int,
    own_session: Callable[[], Session],
) -> None:
    number = resolved()
    s = own_session()
    first = follow_up.request_follow_up(s, number=number, actor=SUPERVISOR, settings=get_settings())
    # No Twilio configured: the request exists, and staff are told to give the link on a call-back.
    assert first.sms_queued is False and first.sms_status == "not_configured"
    assert first.path == f"/feedback/{first.token}" and first.link.endswith(first.path)
    assert first.link in first.message and "电话回访" in first.message
    assert len(first.token) >= 32
    ticket = _ticket(s, number)
    assert ticket.status is TicketStatus.follow_up
    assert follow_up.pending_for_ticket(s, number=number).token == first.token  # type: ignore[union-attr]

    bad = follow_up.record_rating(
        s, token=first.token, score=2, comment="盲道又被电动车占了", channel="web", settings=get_settings()
    )
    assert bad.outcome == "reopened" and bad.reopened and bad.status is TicketStatus.reopened
    assert bad.deadline_text and bad.deadline_text in bad.message and "重新办理" in bad.message
    ticket = _ticket(s, number)
    assert ticket.status is TicketStatus.reopened and ticket.reopen_count == 1
    assert ticket.satisfaction == "不满意" and ticket.satisfaction_score == 2
    reopen = _events(s, ticket.id or 0)[-1]
    assert (reopen.action, reopen.actor, reopen.reason) == ("reopen", "citizen", "盲道又被电动车占了")
    assert "2分" in (reopen.note or "") and "网页" in (reopen.note or "")

    # The work order goes round again (重办 → 办理 → 答复 → 办结) and is asked again, with a new link.
    resolve(client, headers("supervisor"), number, department, "已加装隔离桩，每天巡查。")
    second = follow_up.request_follow_up(s, number=number, actor=SUPERVISOR, settings=get_settings())
    assert second.token != first.token
    old = follow_up.record_rating(s, token=first.token, score=1, channel="web")
    assert old.outcome == "already_answered" and old.score == 2 and not old.changed

    good = follow_up.record_rating(s, token=second.token, score=5, channel="sms")
    assert good.outcome == "closed" and good.status is TicketStatus.closed and "满意" in good.message
    ticket = _ticket(s, number)
    assert ticket.status is TicketStatus.closed and ticket.closed_at is not None
    assert ticket.satisfaction == "满意" and ticket.satisfaction_score == 5
    events = _events(s, ticket.id or 0)
    assert [(e.action, e.actor) for e in events if e.action in ("follow_up", "close", "reopen")] == [
        ("follow_up", "supervisor-0"),
        ("reopen", "citizen"),
        ("follow_up", "supervisor-0"),
        ("close", "citizen"),
    ]
    answers = s.exec(select(FollowUp).where(FollowUp.ticket_id == ticket.id).order_by(col(FollowUp.id))).all()
    assert [(a.score, a.answered_channel) for a in answers] == [(2, "web"), (5, "sms")]
    assert answers[0].comment == "盲道又被电动车占了" and answers[1].comment is None


def test_second_answer_changes_nothing(resolved: Callable[..., str], own_session: Callable[[], Session]) -> None:
    number = resolved()
    s = own_session()
    asked = follow_up.request_follow_up(s, number=number, actor=SUPERVISOR, settings=get_settings())
    first = follow_up.record_rating(s, token=asked.token, score=3, comment="还行", channel="web")
    assert first.outcome == "closed" and first.satisfaction == "基本满意"
    ticket = _ticket(s, number)
    version, events = ticket.version, len(_events(s, ticket.id or 0))
    again = follow_up.record_rating(s, token=asked.token, score=1, comment="改主意了", channel="web")
    assert again.outcome == "already_answered" and again.score == 3
    assert "已经评价过了" in again.message
    ticket = _ticket(s, number)
    assert ticket.version == version and ticket.status is TicketStatus.closed and ticket.satisfaction_score == 3
    assert len(_events(s, ticket.id or 0)) == events
    stored = s.exec(select(FollowUp).where(FollowUp.token == asked.token)).one()
    assert stored.score == 3 and stored.comment == "还行"


def test_rating_on_a_call_back_by_number(resolved: Callable[..., str], own_session: Callable[[], Session]) -> None:
    number = resolved(contact_phone="010-62345678")  # a landline: no SMS possible
    s = own_session()
    asked = follow_up.request_follow_up(s, number=number, actor=SUPERVISOR, settings=get_settings())
    assert asked.sms_status == "not_configured" and asked.channel == "voice"
    result = follow_up.record_rating(s, ticket=number, score=4, channel="voice", actor=SUPERVISOR)
    assert result.outcome == "closed"
    ticket = _ticket(s, number)
    close = _events(s, ticket.id or 0)[-1]
    assert close.action == "close" and close.actor == "supervisor-0" and "代为记录" in (close.note or "")
    again = follow_up.record_rating(s, ticket=number, score=1, channel="voice")
    assert again.outcome == "already_answered" and again.score == 4
    never_asked = resolved()
    with pytest.raises(ApiError) as err:  # 办结 but never asked: nothing to rate yet
        follow_up.record_rating(s, ticket=never_asked, score=4, channel="voice")
    assert err.value.status_code == 409 and err.value.code == "no_follow_up_pending"


def test_bad_requests_are_refused_and_change_nothing(
    resolved: Callable[..., str], own_session: Callable[[], Session], client: TestClient, service_headers: dict
) -> None:
    from tests.backoffice.conftest import create

    s = own_session()
    fresh = create(client, service_headers)["number"]
    with pytest.raises(ApiError) as err:
        follow_up.request_follow_up(s, number=fresh, actor=SUPERVISOR, settings=get_settings())
    assert err.value.status_code == 409 and err.value.code == "illegal_transition"
    s.rollback()
    assert s.exec(select(FollowUp)).all() == []
    with pytest.raises(ApiError) as err:
        follow_up.request_follow_up(s, number="209901010001", actor=SUPERVISOR, settings=get_settings())
    assert err.value.status_code == 404

    number = resolved()
    asked = follow_up.request_follow_up(s, number=number, actor=SUPERVISOR, settings=get_settings())
    for score in (0, 6, True, "5", 2.5):
        with pytest.raises(ApiError) as err:
            follow_up.record_rating(s, token=asked.token, score=score, channel="web")  # type: ignore[arg-type]
        assert err.value.status_code == 422 and "1 到 5" in err.value.message
    with pytest.raises(ApiError) as err:
        follow_up.record_rating(s, token=asked.token, score=4, channel="fax")
    assert err.value.code == "invalid_channel"
    with pytest.raises(ApiError) as err:
        follow_up.record_rating(s, token=asked.token, score=4, comment="长" * 1001, channel="web")
    assert err.value.code == "comment_too_long"
    with pytest.raises(ApiError) as err:
        follow_up.record_rating(s, token="x" * 32, score=4, channel="web")
    assert err.value.status_code == 404
    with pytest.raises(ApiError):
        follow_up.record_rating(s, token=asked.token, ticket=number, score=4, channel="web")
    assert _ticket(s, number).status is TicketStatus.follow_up
    assert follow_up.pending_for_ticket(s, number=number) is not None


def test_reopen_without_comment_gets_a_default_reason(
    resolved: Callable[..., str], own_session: Callable[[], Session]
) -> None:
    number = resolved()
    s = own_session()
    asked = follow_up.request_follow_up(s, number=number, actor=SUPERVISOR, settings=get_settings())
    result = follow_up.record_rating(s, token=asked.token, score=1, comment="   ", channel="web")
    assert result.reopened
    ticket = _ticket(s, number)
    reopen = _events(s, ticket.id or 0)[-1]
    assert reopen.action == "reopen" and reopen.reason and "1分" in reopen.reason


def test_helpers() -> None:
    assert follow_up.satisfaction_for(5) == follow_up.satisfaction_for(4) == "满意"
    assert follow_up.satisfaction_for(3) == "基本满意"
    assert follow_up.satisfaction_for(2) == follow_up.satisfaction_for(1) == "不满意"
    assert follow_up.mobile_number("138 0013 8000") == "+8613800138000"
    assert follow_up.mobile_number("+8613800138000") == "+8613800138000"
    assert follow_up.mobile_number("010-62345678") is None and follow_up.mobile_number(None) is None
    assert set(follow_up.phone_variants("+8613800138000")) >= {"13800138000", "+8613800138000", "8613800138000"}
