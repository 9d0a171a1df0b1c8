"""The scaled-out mode on one machine: two app instances and two Rasa servers behind HAProxy, on
PostgreSQL (a fresh database: the app's data and Rasa's tracker store) and Redis (Rasa's lock store).

What it proves: a conversation's turns are served by both instances and its form still completes (the
assistant's state is in the shared tracker store, the web chat's in the grievance log); a staff member
takes over on one instance while the citizen's live stream is held by the other; 200 concurrent turns
survive one app instance killed in the middle: every turn is answered or visibly refused by the
balancer (and then answered when sent again under its turn id), none is answered twice, every turn has
exactly one grievance record, the chain verifies, and work-order numbers stay unique. Server-sent events
and the phone line's WebSocket pass through the balancer. The task worker, killed the hard way while Twilio
(a local peer) holds one of its SMS and others wait on the Redis queue the app instances share, is restarted
and sends every outbox message exactly once, and the follow-up (回访) and the deadline warnings each fire
once, however often asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import websockets
from huey.exceptions import TaskLockedException
from sqlalchemy import create_engine, text

from api.settings import Settings
from hotline.worker import build_queue
from tests.conftest import POSTGRES_URL, ROOT, _postgres_database, start_stack
from tests.followup.twilio_peer import OUR_NUMBER, TwilioPeer
from tests.followup.twilio_peer import SID as TWILIO_SID
from tests.followup.twilio_peer import TOKEN as TWILIO_TOKEN
from tests.staff_support import PASSWORD, Console, create_user
from tests.voice.conftest import Peer

pytestmark = pytest.mark.stack

REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
INSTANCE = "x-hotline-instance"
# The first scenario of tests/conversation/scenarios.yml: a complaint with a correction at the read-back.
INTAKE = [
    "我要投诉",
    "街道办的工作人员不给我办残疾证的换证手续，推来推去",
    "对",
    "和平区南营门街道西康路社区",
    "上个星期三上午",
    "希望尽快给我办好换证",
    "13912345678",
    "打电话",
    "我姓王",
    "需要保密",
    "电话不对 改一下",
    "13912345679",
    "确认提交",
]
TOPICS = ["你好", "谢谢你", "残疾人证怎么办理", "我想问问护理补贴", "你是机器人吗", "再见"]


def _redis_answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def twilio_api() -> Iterator[TwilioPeer]:
    """Twilio's REST API as a local peer for the whole stack: every SMS the worker sends lands here."""
    peer = TwilioPeer()
    yield peer
    peer.close()


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory, twilio_api: TwilioPeer) -> Iterator[Any]:
    if not POSTGRES_URL:
        pytest.skip("the scaled-out mode needs PostgreSQL (HOTLINE_TEST_POSTGRES_URL unset)")
    if not _redis_answers(REDIS_URL):
        pytest.skip(f"the scaled-out mode needs Redis ({REDIS_URL} does not answer)")
    if shutil.which("haproxy") is None:
        pytest.skip("the scaled-out mode needs HAProxy (scripts/system_packages.sh --with-tests installs it)")
    from stack import ScaleOut, free_port

    scale = ScaleOut(app_ports=(free_port(), free_port()), rasa_ports=(free_port(), free_port()))
    database = _postgres_database()
    url = next(database)
    try:
        stack = start_stack(
            tmp_path_factory.mktemp("scaled"),
            scale=scale,
            HOTLINE_DATABASE_URL=url,
            HOTLINE_REDIS_URL=REDIS_URL,
            HOTLINE_RASA_WORKERS="2",
            # Every client here is this machine behind the balancer: one address, which would be limited.
            HOTLINE_CHAT_API_PER_ADDRESS_PER_MINUTE="100000",
            HOTLINE_CHAT_RATE_LIMIT="1000",
            HOTLINE_RASA_TIMEOUT_SECONDS="30",
            # The outbox goes to the local Twilio peer; a message a killed worker held is looked at again soon.
            HOTLINE_TWILIO_ACCOUNT_SID=TWILIO_SID,
            HOTLINE_TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
            HOTLINE_TWILIO_PHONE_NUMBER=OUR_NUMBER,
            HOTLINE_TWILIO_API_BASE_URL=twilio_api.url,
            HOTLINE_OUTBOX_LEASE_SECONDS="5",
            HOTLINE_OUTBOX_RETRY_SECONDS="1",
        )
        try:
            yield stack
        finally:
            stack.stop()
    finally:
        next(database, None)


def _query(stack: Any, sql: str, **params: Any) -> list[Any]:
    """Rows of the stack's PostgreSQL database, read as an auditor would."""
    engine = create_engine(stack.env()["HOTLINE_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())
    finally:
        engine.dispose()


def _instance_url(stack: Any, n: int) -> str:
    return f"http://127.0.0.1:{stack.scale.app_ports[n - 1]}"


def test_balancer_spreads_one_conversation_over_both_instances(scaled: Any) -> None:
    """A complaint intake whose turns land on both instances still files its work order with every field."""
    served: list[str] = []
    said: list[str] = []
    ticket = None
    with httpx.Client(base_url=scaled.app_url, timeout=60) as client:
        for turn in INTAKE:
            resp = client.post("/api/chat/messages", json={"session_id": "web-scale-intake", "text": turn})
            assert resp.status_code == 200, resp.text
            served.append(resp.headers[INSTANCE])
            said += [r.get("text") or "" for r in resp.json()["replies"]]
            ticket = resp.json()["ticket_number"] or ticket
        # A second, short conversation: round-robin alternates when nothing else reaches the balancer.
        quiet: list[str] = []
        for turn in ("你好", "谢谢", "再见", "你好"):
            resp = client.post("/api/chat/messages", json={"session_id": "web-scale-small", "text": turn})
            quiet.append(resp.headers[INSTANCE])
    assert set(served) == {"app1", "app2"}, served
    assert set(quiet) == {"app1", "app2"}, quiet
    assert ticket and re.fullmatch(r"\d{12}", ticket), said
    [row] = _query(scaled, "SELECT location_text, contact_phone, confidential FROM ticket WHERE number = :n", n=ticket)
    # The correction made on one instance holds in the order filed through the other.
    assert row.location_text == "和平区南营门街道西康路社区" and row.contact_phone == "13912345679" and row.confidential


def test_take_over_on_one_instance_reaches_the_citizen_streaming_from_the_other(scaled: Any) -> None:
    create_user(scaled, "scale.operator", "operator")
    staff = Console(_instance_url(scaled, 1), "scale.operator")
    citizen = httpx.Client(timeout=60)
    try:
        page = citizen.get(f"{scaled.app_url}/")
        token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
        assert token, "no CSRF token on the chat page"
        sent = citizen.post(
            f"{scaled.app_url}/chat/send", json={"text": "转人工", "after": 0}, headers={"X-CSRF-Token": token.group(1)}
        )
        assert sent.status_code == 200, sent.text
        after = sent.json()["last_id"]
        sid = citizen.cookies["hotline_sid"].split(".")[0]

        events: list[dict[str, Any]] = []
        stream_instance: list[str] = []
        done = threading.Event()

        def listen() -> None:
            with citizen.stream("GET", f"{_instance_url(scaled, 2)}/chat/events?after={after}", timeout=60) as resp:
                stream_instance.append(resp.headers[INSTANCE])
                for line in resp.iter_lines():
                    if line.startswith("data: "):
                        events.append(json.loads(line[6:]))
                        if any(m["sender"] == "staff" for e in events for m in e["messages"]):
                            break
                    if done.is_set():
                        break

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        time.sleep(1.0)
        staff.take(sid)
        reply = staff.client.post(
            f"/staff/conversations/{sid}/reply", data={"csrf": staff.csrf(), "text": "您好，我是工作人员小李。"}
        )
        assert reply.status_code in (200, 303), reply.text[:300]
        assert staff.client.get("/staff").headers[INSTANCE] == "app1"
        listener.join(30)
        done.set()
    finally:
        staff.close()
        citizen.close()
    assert stream_instance == ["app2"]
    assert any(e["answering"] == "staff" for e in events), events
    staff_texts = [m["text"] for e in events for m in e["messages"] if m["sender"] == "staff"]
    assert any("小李" in t for t in staff_texts), events


def test_streams_pass_through_the_balancer(scaled: Any) -> None:
    """Server-sent events arrive through HAProxy as they are sent, and a phone call's WebSocket is upgraded
    through it and greeted (its stream token asked of the balancer, as the browser phone does)."""
    with httpx.Client(base_url=scaled.app_url, timeout=30) as citizen:
        token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', citizen.get("/").text)
        assert token
        citizen.post("/chat/send", json={"text": "你好", "after": 0}, headers={"X-CSRF-Token": token.group(1)})
        began = time.monotonic()
        with citizen.stream("GET", "/chat/events?after=0") as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            first = next(line for line in resp.iter_lines() if line.startswith("data: "))
        assert time.monotonic() - began < 10 and "你好" in first

    phone = httpx.get(f"{scaled.app_url}/phone/token", timeout=10)
    grant = phone.json()

    async def call() -> list[dict[str, Any]]:
        ws = await websockets.connect(scaled.app_url.replace("http://", "ws://") + "/voice/stream", max_size=2**22)
        peer = Peer(ws, call_sid=grant["call_sid"])
        try:
            await peer.start(stream_token=grant["stream_token"])
            return await peer.until(lambda m: m.get("event") == "hotline" and m["hotline"]["type"] == "say", 30)
        finally:
            await ws.close()

    heard = asyncio.run(call())
    greeting = heard[-1]["hotline"]["text"]
    assert "0" in greeting or "零" in greeting, greeting  # the greeting names key 0 first


async def _turn(
    client: httpx.AsyncClient, session_id: str, words: str, turn_id: str
) -> tuple[int, str, dict[str, Any]]:
    try:
        resp = await client.post(
            "/api/chat/messages", json={"session_id": session_id, "text": words, "turn_id": turn_id}
        )
    except httpx.TransportError as exc:
        return 0, type(exc).__name__, {}
    body = resp.json() if resp.status_code == 200 else {}
    return resp.status_code, resp.headers.get(INSTANCE, ""), body


async def _storm(
    stack: Any, turns: list[tuple[str, str, str]], kill_after: int
) -> list[tuple[int, str, dict[str, Any]]]:
    """All turns at once; once app instance 1 has answered `kill_after` of them, it is killed the hard way."""
    answered_by_app1 = 0
    killed = asyncio.Event()

    async with httpx.AsyncClient(
        base_url=stack.app_url, timeout=120, limits=httpx.Limits(max_connections=len(turns))
    ) as client:

        async def one(session_id: str, words: str, turn_id: str) -> tuple[int, str, dict[str, Any]]:
            nonlocal answered_by_app1
            result = await _turn(client, session_id, words, turn_id)
            answered_by_app1 += result[1] == "app1"
            if answered_by_app1 >= kill_after and not killed.is_set():
                killed.set()
                stack.kill_part("app.1")
            return result

        return list(await asyncio.gather(*(one(*turn) for turn in turns)))


def test_200_concurrent_turns_survive_an_instance_killed_mid_run(scaled: Any) -> None:
    turns = [(f"web-storm-{i:03d}", f"{TOPICS[i % len(TOPICS)]}（第{i}条）", f"storm-{i:03d}") for i in range(200)]
    first = asyncio.run(_storm(scaled, turns, kill_after=10))

    failed = [i for i, (status, _, _) in enumerate(first) if status != 200]
    # Only the turns the killed instance held when it died fail, and only as the balancer's refusal.
    assert all(first[i][0] == 502 for i in failed), [first[i][:2] for i in failed]
    refused = re.findall(r"public app/(app\d) \S+ 502 .* POST /api/chat/messages", scaled.log_file.read_text())
    assert refused == ["app1"] * len(failed), refused
    served = {instance for status, instance, _ in first if status == 200}
    assert served == {"app1", "app2"}, served

    async def again() -> list[tuple[int, str, dict[str, Any]]]:
        async with httpx.AsyncClient(base_url=scaled.app_url, timeout=120) as client:
            return list(await asyncio.gather(*(_turn(client, *turns[i]) for i in failed)))

    second = asyncio.run(again()) if failed else []
    by_instance = {name: sum(1 for status, i, _ in first if status == 200 and i == name) for name in sorted(served)}
    print(f"200 concurrent turns: {by_instance} answered, {len(failed)} refused by the balancer and sent again")
    assert all(status == 200 for status, _, _ in second), second
    answers = {turns[i][1]: body for i, (_, _, body) in enumerate(first) if body}
    answers.update({turns[i][1]: body for i, (_, _, body) in zip(failed, second, strict=True)})
    assert len(answers) == 200

    rows = _query(
        scaled, "SELECT id, text, outcome, replies, turn_id FROM grievance_log WHERE session_id LIKE 'web-storm-%'"
    )
    numbers = [row.number for row in _query(scaled, "SELECT number FROM ticket")]
    by_text: dict[str, list[Any]] = {}
    for row in rows:
        by_text.setdefault(row.text, []).append(row)
    for (_, words, turn_id), body in ((turn, answers[turn[1]]) for turn in turns):
        records = by_text.get(words, [])
        # One record per turn, even for a turn sent again after the instance holding it died: the retry
        # carried the same turn id, and the first copy's record was completed, not written again.
        assert len(records) == 1, (words, records)
        [record] = records
        assert record.id == body["log_id"] and record.turn_id == turn_id and record.outcome is not None, words
        # The citizen's answer is the one sealed in that record.
        replies = json.loads(record.replies) if isinstance(record.replies, str) else record.replies
        assert [r.get("text") for r in replies] == [r.get("text") for r in body["replies"]], words
    # The assistant took every message once: a retry whose first copy it had answered got that answer back.
    heard = _query(
        scaled,
        "SELECT sender_id, count(*) AS n FROM events WHERE type_name = 'user' AND sender_id LIKE 'web-storm-%'"
        " GROUP BY sender_id",
    )
    assert len(heard) == 200 and all(row.n == 1 for row in heard), [tuple(r) for r in heard if r.n != 1]
    assert len(numbers) == len(set(numbers)), "work-order numbers repeat"

    verify = subprocess.run(
        [str(ROOT / ".venv/bin/hotline"), "log", "verify"], env=scaled.env(), cwd=ROOT, capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # The supervisor brought the killed instance back; the balancer sends it turns again.
    scaled.wait_ready(timeout=120)
    deadline = time.monotonic() + 30
    back: set[str] = set()
    with httpx.Client(base_url=scaled.app_url, timeout=60) as client:
        while back != {"app1", "app2"} and time.monotonic() < deadline:
            resp = client.post("/api/chat/messages", json={"session_id": "web-storm-after", "text": "你好"})
            back.add(resp.headers.get(INSTANCE, ""))
    assert back == {"app1", "app2"}, back
    assert scaled.restarts.get("app.1") == 1
    log = scaled.log_file.read_text(errors="replace")
    assert "app/app2" in log and "app/app1" in log, "the balancer's access log names both instances"


# The task worker killed mid-send: work orders whose follow-up (回访) SMS and deadline warnings are due, and a
# staff member's SMS replies through both instances. One follow-up SMS is held by Twilio when the worker dies.
RESOLVED = ["13900100001", "13900100002", "13900100003"]
OVERDUE, DUE_SOON, REPLY_TO = "13900100011", "13900100012", "13900100021"


def _write(stack: Any, sql: str, **params: Any) -> None:
    """Change the stack's rows as time would (backdating), in a transaction of its own."""
    engine = create_engine(stack.env()["HOTLINE_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()


def _until(check: Any, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _bearer(client: httpx.Client, username: str) -> dict[str, str]:
    resp = client.post("/api/auth/token", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def _order(client: httpx.Client, service: dict[str, str], phone: str, **extra: Any) -> str:
    body = {"kind": "投诉", "category": "无障碍", "description": "测试用：盲道被电动车占了", "contact_phone": phone}
    resp = client.post("/api/tickets", json={**body, "contact_preference": "sms", **extra}, headers=service)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["number"])


def _run_now(stack: Any, queue: Any, task: Any, name: str) -> None:
    """Put one periodic check on the shared queue under a known id and wait until the worker has run it (the
    worker logs each task). Its own schedule may hold the check's lock at that moment: then ask again."""
    for attempt in range(3):
        job = task.s()
        job.id = f"{name}-{attempt}"
        ran, refused = f"{job.id} executed in", f"{job.id} not run"
        queue.huey.enqueue(job)
        _until(lambda: ran in _log(stack) or refused in _log(stack), job.id)  # noqa: B023 (waited for here)
        if ran in _log(stack):
            return
    raise AssertionError(f"{name} never ran: its lock stayed taken")


def _log(stack: Any) -> str:
    return str(stack.log_file.read_text(errors="replace"))


def test_outbox_follow_ups_and_deadline_warnings_survive_the_worker_killed_mid_send(
    scaled: Any, twilio_api: TwilioPeer
) -> None:
    peer = twilio_api
    env = scaled.env()
    # The test's own handle on the queue, made as the app's and the worker's are: only HOTLINE_REDIS_URL is set.
    settings = Settings(_env_file=None, data_dir=scaled.data_dir, queue_url="", redis_url=env["HOTLINE_REDIS_URL"])  # type: ignore[call-arg]
    queue = build_queue(settings)
    create_user(scaled, "scale.admin", "admin")
    create_user(scaled, "scale.supervisor", "supervisor")
    create_user(scaled, "scale.sender", "operator")
    service = {"Authorization": f"Bearer {env['HOTLINE_SERVICE_TOKEN']}"}
    with httpx.Client(base_url=scaled.app_url, timeout=60) as client:
        admin, supervisor = _bearer(client, "scale.admin"), _bearer(client, "scale.supervisor")
        made = client.post("/api/departments", json={"code": "hp-dpf", "name": "和平区残联"}, headers=admin)
        assert made.status_code == 201, made.text
        department = made.json()["id"]
        resolved = [_order(client, service, phone) for phone in RESOLVED]
        for number in resolved:
            steps = [("dispatch", {"department_id": department}), ("accept", {}), ("start", {})]
            for action, extra in [*steps, ("reply", {"public_reply": "已联系物业清理盲道。"}), ("resolve", {})]:
                moved = client.post(
                    f"/api/tickets/{number}/transitions", json={"action": action, **extra}, headers=supervisor
                )
                assert moved.status_code == 200, (action, moved.text)
        overdue, due_soon = _order(client, service, OVERDUE), _order(client, service, DUE_SOON)
        asked = client.post("/api/chat/messages", json={"session_id": "web-scale-sms", "text": "转人工"})
        assert asked.status_code == 200, asked.text
        replied_order = _order(client, service, REPLY_TO, session_id="web-scale-sms")
    mine = [*resolved, overdue, due_soon, replied_order]
    # Resolved a month ago (well past 8 staffed hours, whatever the hour and holidays in China); one order past
    # its deadline, one due within the policy's warning window.
    for number in resolved:
        _write(scaled, "UPDATE ticket SET resolved_at = now() - interval '30 days' WHERE number = :n", n=number)
    _write(scaled, "UPDATE ticket SET deadline = now() - interval '2 hours' WHERE number = :n", n=overdue)
    _write(scaled, "UPDATE ticket SET deadline = now() + interval '1 hour' WHERE number = :n", n=due_soon)

    # A slow Twilio; the first follow-up SMS is accepted but answered only after the worker is gone.
    held = "+86" + RESOLVED[0]
    peer.delay = 2.0
    peer.hold.add(held)
    _run_now(scaled, queue, queue.follow_ups, "check-follow-ups-before-kill")
    _run_now(scaled, queue, queue.deadlines, "check-deadlines-before-kill")
    # No sweep asked for: the worker queues the follow-up SMS it writes itself as it commits them.
    assert peer.held.wait(60), "the worker never sent the held follow-up SMS"

    # The same member of staff signed in on each instance, replying through them in turn.
    consoles = [Console(_instance_url(scaled, n), "scale.sender") for n in (1, 2)]
    try:
        consoles[0].take("web-scale-sms")
        served: set[str] = set()
        for i in range(6):
            staff = consoles[i % 2]
            resp = staff.client.post(
                "/staff/conversations/web-scale-sms/reply",
                data={"csrf": staff.csrf(), "text": f"请带身份证到窗口办理（第{i + 1}条）"},
            )
            assert resp.status_code in (200, 303), resp.text[:300]
            served.add(resp.headers[INSTANCE])
    finally:
        for staff in consoles:
            staff.close()
    [replies] = _query(scaled, "SELECT count(*) AS n FROM outbox_message WHERE purpose = 'staff_reply'")
    assert replies.n == 6, "the replies wrote no SMS to the outbox: was the conversation taken?"
    # A crash inside a periodic check leaves Huey's lock behind; the restarted worker must not be stopped by it.
    for lock in ("follow_up.request_due", "deadlines.raise_due"):
        with contextlib.suppress(TaskLockedException):  # the worker holds it right now, and dies with it
            queue.huey.lock_task(lock).acquire()
    scaled.kill_part("worker")
    unfinished = _query(
        scaled,
        "SELECT o.id FROM outbox_message o JOIN ticket t ON t.id = o.ticket_id "
        "WHERE t.number = ANY(:n) AND o.status IN ('pending', 'sending')",
        n=mine,
    )
    peer.release.set()
    peer.delay = 0.2
    assert served == {"app1", "app2"}, served
    # The held follow-up and most of the replies were still to send when the worker died.
    assert len(unfinished) >= 4, unfinished

    # Asked again after the restart (and by the worker's own schedule): nothing may be raised or sent twice.
    _run_now(scaled, queue, queue.follow_ups, "check-follow-ups-after-restart")
    _run_now(scaled, queue, queue.deadlines, "check-deadlines-after-restart")
    outbox_sql = (
        "SELECT o.id, o.recipient, o.body, o.status, o.purpose, o.attempts, o.provider_sid, t.number "
        "FROM outbox_message o JOIN ticket t ON t.id = o.ticket_id WHERE t.number = ANY(:n) ORDER BY o.id"
    )
    _until(lambda: all(r.status == "sent" for r in _query(scaled, outbox_sql, n=mine)), "every message to be sent", 120)

    rows = _query(scaled, outbox_sql, n=mine)
    assert sorted(r.purpose for r in rows) == ["follow_up"] * 3 + ["staff_reply"] * 6, rows
    assert sorted(r.number for r in rows if r.purpose == "follow_up") == sorted(resolved)
    delivered: dict[tuple[str, str], int] = {}
    for message in peer.messages:
        delivered[(message["To"], message["Body"])] = delivered.get((message["To"], message["Body"]), 0) + 1
    assert all(count == 1 for count in delivered.values()), delivered  # no SMS reached a citizen twice
    assert all(delivered.get((r.recipient, r.body)) == 1 for r in rows), (rows, delivered)  # and none was lost
    [held_row] = [r for r in rows if r.recipient == held]
    # Twilio had accepted it when the worker died: the restarted worker found it there and did not send it again.
    assert peer.posts.count(("Messages", held)) == 1 and held_row.attempts == 2, held_row
    assert held_row.provider_sid == next(m["sid"] for m in peer.messages if m["To"] == held)

    follow_ups = _query(
        scaled,
        "SELECT t.number, t.status, count(f.id) AS asked FROM ticket t LEFT JOIN follow_up f ON f.ticket_id = t.id "
        "WHERE t.number = ANY(:n) GROUP BY t.number, t.status",
        n=mine,
    )
    assert {r.number: r.asked for r in follow_ups} == {n: int(n in resolved) for n in mine}, follow_ups
    assert all(r.status == "follow_up" for r in follow_ups if r.number in resolved), follow_ups
    alerts = _query(
        scaled,
        "SELECT t.number, a.kind FROM deadline_alert a JOIN ticket t ON t.id = a.ticket_id WHERE t.number = ANY(:n)",
        n=mine,
    )
    assert sorted((r.number, r.kind) for r in alerts) == sorted([(overdue, "escalation"), (due_soon, "reminder")])
    events = _query(
        scaled,
        "SELECT t.number, e.action FROM ticket_event e JOIN ticket t ON t.id = e.ticket_id "
        "WHERE t.number = ANY(:n) AND e.action IN ('sla_reminder', 'sla_escalation', 'follow_up')",
        n=mine,
    )
    assert sorted((r.number, r.action) for r in events) == sorted(
        [(overdue, "sla_escalation"), (due_soon, "sla_reminder")] + [(n, "follow_up") for n in resolved]
    ), events

    assert scaled.restarts.get("worker") == 1
    # One queue on Redis for every process: nobody fell back to a SQLite queue of its own.
    assert not (scaled.data_dir / "queue.db").exists()
