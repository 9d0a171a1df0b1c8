"""The task worker sends the outbox to Twilio (a local fake Twilio API server, a protocol peer) as a real
process: a refused message is retried and ends failed with Twilio's reason on the work order and in the
audit trail; one accepted after an HTTP 500 is sent once; a worker killed while Twilio is answering a
claimed message is restarted and does not send it again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from api.clock import utcnow
from api.db import new_session
from api.models.outbox import OutboxMessage
from api.models.staff import AuditEvent
from api.models.ticket import FollowUp, Ticket, TicketEvent
from api.services import follow_up
from api.services.audit import Principal
from api.settings import get_settings
from tests.followup.twilio_peer import TwilioPeer, send_outbox

ROOT = Path(__file__).resolve().parents[2]
SUPERVISOR = Principal(username="supervisor-0", role="supervisor")
REFUSED, FLAKY, HELD, SLOW, TWICE = "13900000001", "13900000002", "13900000003", "13900000004", "13900000005"


def e164(phone: str) -> str:
    return "+86" + phone


@pytest.fixture
def outbox_env(twilio: TwilioPeer, monkeypatch: pytest.MonkeyPatch) -> TwilioPeer:
    """Quick retries (0.3 s, doubling, three tries) and a short lease, so the test runs in seconds."""
    monkeypatch.setenv("HOTLINE_OUTBOX_RETRY_SECONDS", "0.3")
    monkeypatch.setenv("HOTLINE_OUTBOX_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("HOTLINE_OUTBOX_LEASE_SECONDS", "3")
    get_settings.cache_clear()
    return twilio


@pytest.fixture
def worker(outbox_env: TwilioPeer, tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """start() runs `python -m hotline worker` (the Procfile's command) against the test's database."""
    started: list[subprocess.Popen[bytes]] = []
    log_path = tmp_path / "worker.log"
    log = log_path.open("ab")

    def start() -> subprocess.Popen[bytes]:
        """Start a worker and wait until it consumes (so what the test adds next reaches it by the queue)."""
        env = dict(os.environ, PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false")
        before = log_path.read_text(encoding="utf-8").count("consumer started")
        proc = subprocess.Popen(
            [sys.executable, "-m", "hotline", "worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        started.append(proc)
        _wait_for(lambda: log_path.read_text(encoding="utf-8").count("consumer started") > before, "the worker")
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    log.close()


def _ask(number: str) -> None:
    with new_session() as s:
        asked = follow_up.request_follow_up(s, number=number, actor=SUPERVISOR, settings=get_settings())
    assert asked.sms_queued and not asked.call_queued  # they asked for SMS: no call


def _row(phone: str) -> OutboxMessage:
    with new_session() as s:
        row = s.exec(select(OutboxMessage).where(OutboxMessage.recipient == e164(phone))).one()
        s.expunge_all()  # readable after the session ends
        return row


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _last_event(number: str) -> tuple[str, str, str, str]:
    """(action, actor, note, reason) of the work order's newest event."""
    with new_session() as s:
        ticket = s.exec(select(Ticket).where(Ticket.number == number)).one()
        query = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(col(TicketEvent.id).desc())
        event = s.exec(query).first()
        assert event is not None
        return event.action, event.actor, event.note or "", event.reason or ""


def test_refused_is_retried_then_failed_and_a_500_is_retried_and_sent_once(
    outbox_env: TwilioPeer, resolved: Callable[..., str], worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    peer = outbox_env
    peer.refuse[e164(REFUSED)] = (21211, f"The 'To' number {e164(REFUSED)} is not a valid phone number.")
    peer.fail_once.add(e164(FLAKY))
    refused = resolved(contact_phone=REFUSED, contact_preference="sms")
    flaky = resolved(contact_phone=FLAKY, contact_preference="sms")
    worker()
    _ask(refused)
    _ask(flaky)

    _wait_for(lambda: _row(REFUSED).status == "failed", "the refused message to fail")
    _wait_for(lambda: _row(FLAKY).status == "sent", "the flaky message to be sent")
    row = _row(REFUSED)
    assert row.attempts == 3 and "21211" in row.last_error and "not a valid phone number" in row.last_error
    assert peer.posts.count(("Messages", e164(REFUSED))) == 3  # tried three times, with backoff
    action, actor, note, reason = _last_event(refused)
    assert action == "follow_up_sms" and actor == "system:outbox" and "21211" in reason
    assert "失败" in note and "不要打电话" in note  # they asked for SMS: staff are not told to call
    with new_session() as s:
        failed = s.exec(select(AuditEvent).where(AuditEvent.action == "outbox_sms_failed")).one()
        assert failed.target_id == str(row.id) and failed.detail is not None
        assert "21211" in failed.detail["reason"] and failed.detail["attempts"] == 3
        assert e164(REFUSED) not in str(failed.detail)  # the number is masked in the audit trail
        # The citizen will not get the SMS and is not to be phoned: the follow-up now waits on the web link.
        assert s.exec(select(FollowUp).join(Ticket).where(Ticket.number == refused)).one().channel == "web"

    flaky_row = _row(FLAKY)
    assert flaky_row.attempts == 2 and flaky_row.sent_at is not None and flaky_row.provider_sid.startswith("SM")
    assert peer.posts.count(("Messages", e164(FLAKY))) == 2
    assert [m["To"] for m in peer.messages] == [e164(FLAKY)]  # accepted exactly once
    assert "回复数字1到5" in peer.messages[0]["Body"]
    assert _last_event(flaky) == ("follow_up_sms", "system:outbox", "回访短信已发出。", "")


def test_a_worker_killed_while_twilio_answers_does_not_send_twice_after_restart(
    outbox_env: TwilioPeer, resolved: Callable[..., str], worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    peer = outbox_env
    peer.hold.add(e164(HELD))  # Twilio accepts the message but answers only after the worker is gone
    number = resolved(contact_phone=HELD, contact_preference="sms")
    first = worker()
    _ask(number)
    assert peer.held.wait(40), "the worker never sent the message"
    assert _row(HELD).status == "sending"
    first.kill()  # SIGKILL: no clean-up, the row stays claimed
    first.wait()
    peer.release.set()

    worker()  # the supervisor's restart
    _wait_for(lambda: _row(HELD).status == "sent", "the restarted worker to finish the message")
    row = _row(HELD)
    assert row.attempts == 2  # looked at again only after the lease ran out
    assert peer.posts.count(("Messages", e164(HELD))) == 1 and len(peer.messages) == 1  # never sent twice
    assert row.provider_sid == peer.messages[0]["sid"]
    assert _last_event(number)[2] == "回访短信已发出。"


def test_a_request_that_timed_out_after_twilio_accepted_it_is_not_sent_again(
    outbox_env: TwilioPeer, resolved: Callable[..., str], worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    """Twilio took the message but its answer came after our 2 s timeout: the try counts as failed, and the
    next one asks Twilio first, finds the message, and records it as sent, without texting the citizen again."""
    peer = outbox_env
    peer.hold.add(e164(SLOW))  # accepted, then answered only after `release`, long after the timeout
    number = resolved(contact_phone=SLOW, contact_preference="sms")
    worker()
    _ask(number)
    _wait_for(lambda: _row(SLOW).status == "sent", "the timed-out message to be found and recorded")
    peer.release.set()
    row = _row(SLOW)
    assert row.attempts == 2 and "Timeout" in row.last_error  # the first try timed out
    assert peer.posts.count(("Messages", e164(SLOW))) == 1 and len(peer.messages) == 1  # texted once
    assert row.provider_sid == peer.messages[0]["sid"]
    assert _last_event(number)[2] == "回访短信已发出。"


def test_the_same_words_sent_twice_on_purpose_are_two_messages(outbox_env: TwilioPeer) -> None:
    """Staff send the same reply twice; the second fails once (HTTP 500). Asking Twilio before its retry
    finds the first message with the same words, which belongs to the other row: the second is still sent."""
    from api.models.outbox import OutboxKind
    from api.services import outbox

    peer = outbox_env
    with new_session() as s:
        outbox.add(s, kind=OutboxKind.sms, recipient=e164(TWICE), body="请明天上午来窗口办理。", key="reply-1")
        s.commit()
    assert send_outbox() == ["sent"]
    peer.fail_once.add(e164(TWICE))
    with new_session() as s:
        outbox.add(s, kind=OutboxKind.sms, recipient=e164(TWICE), body="请明天上午来窗口办理。", key="reply-2")
        s.commit()
    assert send_outbox() == ["retry"]
    time.sleep(0.5)  # the retry is due after 0.3 s
    assert send_outbox() == ["sent"]
    assert [m["Body"] for m in peer.messages] == ["请明天上午来窗口办理。"] * 2  # the citizen got both
    with new_session() as s:
        sids = [r.provider_sid for r in s.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()]
    assert sids == [m["sid"] for m in peer.messages]


def test_a_committed_message_is_queued_for_the_worker_at_once(
    outbox_env: TwilioPeer, resolved: Callable[..., str]
) -> None:
    """The app (its lifespan runs in `client`) tells the worker about each committed outbox row; a rolled-back
    one is never announced (nor kept)."""
    from api.models.outbox import OutboxKind
    from api.services import outbox
    from hotline.worker import build_queue

    number = resolved(contact_phone=FLAKY, contact_preference="sms")
    queue = build_queue(get_settings())
    assert queue.huey.pending() == []
    with new_session() as s:
        outbox.add(s, kind=OutboxKind.sms, recipient=e164(HELD), body="不发", key="rolled-back")
        s.flush()
        s.rollback()
    assert queue.huey.pending() == []
    _ask(number)
    assert [task.args for task in queue.huey.pending()] == [(_row(FLAKY).id,)]
    with new_session() as s:
        assert len(s.exec(select(OutboxMessage)).all()) == 1


REDIS_QUEUE = "redis://127.0.0.1:6379/6"


@pytest.fixture
def redis_queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The scaled-out queue: Huey on Redis (set before the app starts, so the app announces rows there too)."""
    import redis

    try:
        redis.Redis.from_url(REDIS_QUEUE, socket_timeout=2).ping()
    except redis.RedisError:
        pytest.skip("Redis is not running at 127.0.0.1:6379")
    monkeypatch.setenv("HOTLINE_QUEUE_URL", REDIS_QUEUE)
    yield REDIS_QUEUE
    from hotline.worker import build_queue

    build_queue(get_settings()).huey.flush()


def test_the_worker_runs_on_a_redis_queue_too(
    redis_queue: str,
    outbox_env: TwilioPeer,
    resolved: Callable[..., str],
    worker: Callable[[], subprocess.Popen[bytes]],
) -> None:
    from hotline.worker import build_queue

    build_queue(get_settings()).huey.flush()
    number = resolved(contact_phone=FLAKY, contact_preference="sms")
    worker()
    _ask(number)
    _wait_for(lambda: _row(FLAKY).status == "sent", "the message sent through the Redis queue", timeout=20)
    assert [m["To"] for m in outbox_env.messages] == [e164(FLAKY)]


def test_the_phone_lines_answer_by_sms_goes_through_the_outbox(outbox_env: TwilioPeer, settings_env: Path) -> None:
    """Key 9 on a call: the answer is written to the outbox (no work order), and sent like any other message."""
    import asyncio

    from tests.followup.twilio_peer import send_outbox
    from voice.actions import CallActions

    actions = CallActions(
        get_settings(), call_sid="CA" + "9" * 32, session_id="voice-9", caller_phone="", is_twilio_call=True
    )
    assert asyncio.run(actions.send_sms("139 1234 5678", "【残联服务热线】办证请带身份证。")) is True
    assert asyncio.run(actions.send_sms("010-62345678", "不是手机")) is False  # a landline cannot take an SMS
    row = _row("13912345678")
    assert (row.kind, row.purpose, row.ticket_id, row.status) == ("sms", "answer", None, "pending")
    assert send_outbox() == ["sent"]
    assert [(m["To"], m["Body"]) for m in outbox_env.messages] == [
        ("+8613912345678", "【残联服务热线】办证请带身份证。")
    ]


def test_health_says_when_messages_wait_for_a_worker(outbox_env: TwilioPeer, client: TestClient) -> None:
    """No worker running: a message due for more than five minutes shows on /health (the app stays up)."""
    from sqlalchemy import update

    from api.models.outbox import OutboxKind
    from api.services import outbox

    assert client.get("/health").json()["checks"]["outbox"]["status"] == "ok"
    with new_session() as s:
        outbox.add(s, kind=OutboxKind.sms, recipient=e164(FLAKY), body="您好", key="waiting")
        s.commit()
    assert client.get("/health").json()["checks"]["outbox"]["status"] == "ok"  # just written: not late
    with new_session() as s:
        s.execute(update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(minutes=6)))
        s.commit()
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["checks"]["outbox"]["status"] == "down"
    assert "task worker" in health.json()["checks"]["outbox"]["reason"]


def test_a_number_that_texted_unsubscribe_gets_no_sms_from_the_outbox(
    outbox_env: TwilioPeer, client: TestClient, resolved: Callable[..., str]
) -> None:
    """退订 is respected when the message is sent, not only when it is written: no request reaches Twilio."""
    from twilio.request_validator import RequestValidator

    from tests.followup.twilio_peer import OUR_NUMBER, TOKEN, send_outbox

    number = resolved(contact_phone=FLAKY, contact_preference="sms")
    _ask(number)  # written while the citizen could still be texted
    params = {"From": e164(FLAKY), "To": OUR_NUMBER, "Body": "退订", "MessageSid": "SM" + "7" * 32}
    signature = RequestValidator(TOKEN).compute_signature("https://hotline.example.cn/sms/incoming", params)
    assert client.post("/sms/incoming", data=params, headers={"X-Twilio-Signature": signature}).status_code == 200
    assert send_outbox() == ["failed"]  # at once: trying again cannot help
    row = _row(FLAKY)
    assert row.attempts == 1 and "退订" in row.last_error and outbox_env.posts == []
    assert "退订" in _last_event(number)[3]
