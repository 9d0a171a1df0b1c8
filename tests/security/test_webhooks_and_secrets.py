"""Issue 18, items 4, 7, 11 and 13: forged Twilio webhooks, guessable SMS sessions, secrets lost on
restart, and input the database cannot store. Each attack is replayed against the real app and database."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from api.models.grievance import GrievanceRecord
from api.models.ticket import Ticket

ROOT = Path(__file__).resolve().parents[2]
PHONE = "+8613800138000"
SMS = {"From": PHONE, "To": "+8610012345", "Body": "评价 1", "MessageSid": "SM" + "0" * 32}
CALL = {"CallSid": "CA" + "1" * 32, "From": PHONE, "To": "+8610012345"}


def _reset() -> None:
    from api.settings import get_settings, stored_secret

    get_settings.cache_clear()
    stored_secret.cache_clear()


@pytest.fixture
def default_client(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The app as a fresh `make run` configures it: no Twilio account, no secrets set."""
    monkeypatch.delenv("HOTLINE_TWILIO_WEBHOOKS", raising=False)
    monkeypatch.delenv("HOTLINE_TWILIO_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("HOTLINE_SECRET_KEY", raising=False)
    monkeypatch.delenv("HOTLINE_CALLER_KEY_SALT", raising=False)
    _reset()
    from hotline.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c
    _reset()


def _records(db: Session) -> int:
    db.rollback()
    return int(db.exec(select(func.count()).select_from(GrievanceRecord)).one())


def test_forged_twilio_webhooks_are_refused_on_the_default_configuration(
    default_client: TestClient, db: Session
) -> None:
    before = _records(db)
    sms = default_client.post("/sms/incoming", data=SMS)
    call = default_client.post("/voice/incoming", data=CALL)
    follow_up = default_client.post("/voice/follow-up/sometoken/rating", data={"Digits": "5"})
    for resp in (sms, call, follow_up):
        assert resp.status_code == 403, resp.text
        assert resp.json()["error"]["code"] == "twilio_webhooks_closed"
        assert "未配置 Twilio" in resp.json()["error"]["message"]
    assert "stream_token" not in call.text and "<Stream" not in call.text
    assert _records(db) == before  # nothing was rated, unsubscribed or logged for the forger


def test_development_opens_the_webhooks_only_when_asked(settings_env: Path, db: Session) -> None:
    # settings_env opens them (HOTLINE_TWILIO_WEBHOOKS=true), as the test peers need.
    _reset()
    from hotline.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as c:
        assert c.post("/voice/incoming", data=CALL).status_code == 200


def test_production_refuses_to_start_without_twilio_token_and_public_url(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HOTLINE_DATA_DIR": str(tmp_path),
        "HOTLINE_ENVIRONMENT": "production",
        "HOTLINE_TWILIO_AUTH_TOKEN": "",
        "HOTLINE_PUBLIC_BASE_URL": "",
    }
    out = subprocess.run(
        [sys.executable, "-c", "from hotline.app import create_app; create_app()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 2
    assert "HOTLINE_TWILIO_AUTH_TOKEN must be set in production" in out.stderr
    assert "HOTLINE_PUBLIC_BASE_URL must be set in production" in out.stderr
    assert "Traceback" not in out.stderr
    ok = subprocess.run(
        [sys.executable, "-c", "from hotline.app import create_app; create_app()"],
        cwd=ROOT,
        env={**env, "HOTLINE_TWILIO_AUTH_TOKEN": "t0ken", "HOTLINE_PUBLIC_BASE_URL": "https://hotline.example.cn"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr


def test_secrets_are_generated_once_privately_and_survive_a_restart(default_client: TestClient) -> None:
    from api.settings import get_settings

    settings = get_settings()
    key, salt = settings.effective_secret_key, settings.effective_caller_salt
    for name, value in (("secret_key", key), ("caller_key_salt", salt)):
        path = settings.data_dir / name
        assert path.read_text().strip() == value and len(value) >= 32
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert salt != "hotline-caller-key"  # the old public default
    _reset()  # a new process reads the same files
    assert get_settings().effective_secret_key == key and get_settings().effective_caller_salt == salt


def test_web_chat_survives_an_app_restart(default_client: TestClient, settings_env: Path) -> None:
    page = default_client.get("/")
    assert page.status_code == 200
    cookies = dict(default_client.cookies)
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    first = default_client.post("/chat", data={"csrf": csrf, "text": "你好"}, follow_redirects=False)
    assert first.status_code == 303, first.text
    _reset()  # what a restarted process knows: the environment and the data directory
    from hotline.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False, cookies=cookies) as restarted:
        again = restarted.post("/chat", data={"csrf": csrf, "text": "残疾人证怎么办理"}, follow_redirects=False)
        assert again.status_code == 303, again.text
        page = restarted.get("/")
    assert "你好" in page.text and "残疾人证怎么办理" in page.text  # one conversation, both messages


def test_sms_session_cannot_be_derived_from_the_phone_or_an_exported_caller_key(default_client: TestClient) -> None:
    from accessibility.sms import sms_session_id
    from api.services.grievance_log import caller_key
    from api.settings import get_settings

    settings = get_settings()
    exported = caller_key("+8613800138000", salt=settings.effective_caller_salt)
    public_salt = caller_key("+8613800138000", salt="hotline-caller-key")
    sid = sms_session_id("+8613800138000", settings)
    assert sid.startswith("sms-")
    assert exported[:24] not in sid and public_salt[:24] not in sid


@pytest.mark.parametrize(
    "text",
    ["盲道\x00被占了", "盲道\ud800被占了", "盲道\x07被占了\x1b[0m"],
    ids=["nul", "lone-surrogate", "controls"],
)
def test_unstorable_characters_are_cleaned_and_the_message_is_kept(client: TestClient, db: Session, text: str) -> None:
    body = json.dumps({"session_id": "web-clean", "text": text, "channel": "web"})  # \u escapes, as a client sends
    resp = client.post("/api/chat/messages", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 200, resp.text
    record = db.get(GrievanceRecord, resp.json()["log_id"])
    assert record is not None and record.text is not None
    assert "盲道" in record.text and "被占了" in record.text
    assert "\x00" not in record.text and "\x07" not in record.text and "\ud800" not in record.text
    assert resp.json()["handoff"] is True and resp.json()["ticket_number"]  # Rasa is down here: a work order
    ticket = db.exec(select(Ticket).where(Ticket.number == resp.json()["ticket_number"])).one()
    assert "盲道" in ticket.description


def test_deep_json_gets_a_4xx_and_is_logged(client: TestClient, db: Session) -> None:
    before = _records(db)
    deep = b"[" * 100_000 + b"]" * 100_000
    resp = client.post("/api/chat/messages", content=deep, headers={"content-type": "application/json"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_json"
    assert _records(db) == before + 1
    tickets = client.post("/api/tickets", content=deep, headers={"content-type": "application/json"})
    assert tickets.status_code in (400, 401, 422)
    assert "/" in tickets.json()["error"]["message"]  # Chinese and English


def test_staff_and_form_input_with_nul_never_reaches_the_database_as_an_error(client: TestClient) -> None:
    resp = client.post("/api/auth/token", data={"username": "ad\x00min", "password": "x\x00"})
    assert resp.status_code == 401, resp.text
    page = client.post(
        "/complaint", content=b"description=%00abc", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert page.status_code < 500


def test_complaint_receipt_page_tells_strangers_nothing(client: TestClient, settings_env: Path) -> None:
    from tests.web.test_pages import _complaint, _csrf

    filed = _complaint(client, _csrf(client, "/complaint"))
    assert filed.status_code == 303
    own = client.get(filed.headers["location"])
    assert own.status_code == 200 and "已经提交成功" in own.text
    from hotline.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as stranger:
        peek = stranger.get(filed.headers["location"], follow_redirects=False)
        missing = stranger.get("/complaint/done?number=202601010001", follow_redirects=False)
    assert peek.status_code == missing.status_code == 303  # the same answer whether the order exists or not
    assert peek.headers["location"].endswith("/complaint") and missing.headers["location"].endswith("/complaint")


def test_a_browser_gets_chinese_pages_for_errors_and_the_api_keeps_json(client: TestClient) -> None:
    page = client.get("/no-such-page", headers={"accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert 'lang="zh-CN"' in page.text and "没有找到您要的内容" in page.text and "Not found" not in page.text
    assert '<a href="/">' in page.text
    api = client.get("/api/no-such-thing", headers={"accept": "text/html"})
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
