"""Issue 18 items 12 and 13: phone and ID numbers are masked in every written form, and stay out of process logs.

* A table of written forms, each masked so that no run of the original digits is
  left; ordinary numbers (dates, amounts, work-order numbers, short numbers) stay.
* Through the real app: an auditor reading a conversation with these forms (API
  search and the console's audit view) sees none of the digits.
* A database error whose statement carries a citizen's ID number does not put it
  into the log, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from api.db import get_engine, make_engine
from api.services import grievance_log
from api.services.masking import MaskingLogFilter, mask_phone, mask_replies, mask_text
from tests.backoffice.conftest import (  # noqa: F401  (fixtures shared with the back-office suite)
    PASSWORD,
    fast_argon2,
    headers,
    make_user,
)

ID = "110105194912310021"
MOBILE = "13812345678"

# (written form, the number's digits in ASCII, what the masked number must read)
FORMS: list[tuple[str, str, str]] = [
    # 身份证号
    ("身份证110105194912310021", ID, "110***********0021"),
    ("身份证号：11010519491231002X", "11010519491231002X", "110***********002X"),
    ("身份证 110105 19491231 0021", ID, "110***********0021"),
    ("身份证 1101 0519 4912 3100 21", ID, "110***********0021"),
    ("身份证110105-19491231-002x", "11010519491231002X", "110***********002X"),
    ("身份证１１０１０５１９４９１２３１００２１", ID, "110***********0021"),
    ("身份证１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X", "110***********002X"),
    ("老身份证110105491231002", "110105491231002", "110********1002"),
    ("老身份证 110105 491231 002", "110105491231002", "110********1002"),
    ("身份证一一零一零五一九四九一二三一零零二一", ID, "110***********0021"),
    ("身份证幺幺洞幺洞五幺九四九幺二三幺洞洞二叉", "11010519491231002X", "110***********002X"),
    ("身份证壹壹零壹零伍壹玖肆玖壹贰叁壹零零贰壹", ID, "110***********0021"),
    # mobiles
    ("电话13812345678", MOBILE, "138****5678"),
    ("电话 138 1234 5678", MOBILE, "138****5678"),
    ("电话138-1234-5678", MOBILE, "138****5678"),
    ("电话138.1234.5678", MOBILE, "138****5678"),
    ("电话１３８１２３４５６７８", MOBILE, "138****5678"),
    ("电话１３８　１２３４　５６７８", MOBILE, "138****5678"),
    ("电话１３８－１２３４－５６７８", MOBILE, "138****5678"),
    ("电话一三八一二三四五六七八", MOBILE, "138****5678"),
    ("电话幺三八幺二三四五六七八", MOBILE, "138****5678"),
    ("电话一三八 一二三四 五六七八", MOBILE, "138****5678"),
    ("电话一三八，一二三四，五六七八", MOBILE, "138****5678"),  # speech recognition's pauses
    ("电话138一二三四5678", MOBILE, "138****5678"),
    ("我打了一三八一二三四五六七八两次", MOBILE, "138****5678"),
    ("统一一三八一二三四五六七八", MOBILE, "138****5678"),
    ("电话+86 138 1234 5678", MOBILE, "+86 138****5678"),
    ("电话+8613812345678", MOBILE, "+86 138****5678"),
    ("电话＋８６　１３８１２３４５６７８", MOBILE, "+86 138****5678"),
    ("电话0086-138-1234-5678", MOBILE, "0086 138****5678"),
    ("电话013812345678", MOBILE, "138****5678"),
    # landlines
    ("座机010-12345678", "01012345678", "010-****5678"),
    ("座机0311 8765 4321", "031187654321", "0311-****4321"),
    ("座机0311-87654321", "031187654321", "0311-****4321"),
    ("座机(010)87654321", "01087654321", "010-****4321"),
    ("座机（０１０）８７６５４３２１", "01087654321", "010-****4321"),
    ("座机零幺零八七六五四三二一", "01087654321", "010-****4321"),
    ("座机 +86 10 8765 4321", "1087654321", "+86 10-****4321"),
    ("座机010-87654321转801", "01087654321", "010-****4321"),
    ("电话：87654321", "87654321", "****4321"),
    ("家里座机 8765-4321", "87654321", "****4321"),
    # bank card (Luhn-valid)
    ("卡号6222 0212 3456 7890 128", "6222021234567890128", "***************0128"),
]

# Ordinary numbers that must come out unchanged.
KEPT = [
    "2000元",
    "补贴一共12000000元",
    "2024年3月5日",
    "2024-03-05",
    "2024.03.05 14:30",
    "二〇二四年三月五日",
    "工单202611240007",
    "工单号 2026 1124 0007",
    "工单二零二六一一二四零零零七",
    "工单202611240007、202611240008",
    "请拨打12345",
    "报警110，急救120",
    "客服400-123-4567",
    "第3栋2单元1201室",
    "邮编100080",
    "一二三四五六七",
    "两千零五十元",
    "回执 记录17 哈希3f9a13812345678ab",
    "13812345678901",  # 14 digits: not a phone number
]


# Characters a reader skips when reading a number (a masked number's own dash or space included).
_TRANSPARENT = " \t\u3000-－.．,，()（）+＋"
_NUMERALS = str.maketrans("零〇洞一幺壹二两贰三叁四肆五伍六陆七柒拐八捌九玖勾叉", "0001112223344556677788999X")


def _runs(shown: str) -> list[str]:
    """The digit runs a reader finds in `shown`, in ASCII: Chinese numerals read, separators skipped, `*` breaks."""
    runs, current = [], []
    for ch in shown.translate(_NUMERALS):
        if ch.isdecimal():
            current.append(str(int(ch)))
        elif ch in "Xx":
            current.append("X")
        elif ch not in _TRANSPARENT:
            runs.append("".join(current))
            current = []
    runs.append("".join(current))
    return [r for r in runs if r]


def _visible_text(html: str) -> str:
    """What a reader of the page sees: tags and their attributes (timestamps, tokens) are not read out."""
    html = re.sub(r"<(script|style)\b.*?</\1>", "\n", html, flags=re.S | re.I)
    return re.sub(r"<[^>]*>", "\n", html)


def _no_run_left(shown: str, digits: str, size: int = 5) -> None:
    """No `size` consecutive digits of the original number survive, in any script."""
    runs = _runs(shown)
    for start in range(len(digits) - size + 1):
        piece = digits[start : start + size]
        assert not any(piece in run for run in runs), (shown, piece)


@pytest.mark.parametrize(("written", "digits", "expected"), FORMS, ids=[f[0] for f in FORMS])
def test_every_written_form_is_masked(written: str, digits: str, expected: str) -> None:
    masked = mask_text(written)
    assert masked is not None
    assert expected in masked, masked
    _no_run_left(masked, digits)


@pytest.mark.parametrize("kept", KEPT)
def test_ordinary_numbers_stay(kept: str) -> None:
    assert mask_text(kept) == kept


def test_several_numbers_in_one_text() -> None:
    text_ = f"工单202611240007，身份证{ID} 电话138 1234 5678 座机010-87654321，2024年3月5日交了2000元"
    assert mask_text(text_) == (
        "工单202611240007，身份证110***********0021 电话138****5678 座机010-****4321，2024年3月5日交了2000元"
    )
    assert mask_text("2024-03-05 13812345678") == "2024-03-05 138****5678"
    dictated = "工单二零二六一一二四零零零七，电话一三八一二三四五六七八"
    assert mask_text(dictated) == "工单二零二六一一二四零零零七，电话138****5678"


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("13812345678", "138****5678"),
        ("+86 138 1234 5678", "138****5678"),
        ("１３８１２３４５６７８", "138****5678"),
        ("一三八一二三四五六七八", "138****5678"),
        ("010-12345678", "010-****5678"),
        ("０３１１　８７６５　４３２１", "0311-****4321"),
        ("87654321", "****4321"),
        ("110", "***"),
        ("无", "无"),
    ],
)
def test_contact_phone_field(field: str, expected: str) -> None:
    assert mask_phone(field) == expected


def test_replies_masked_in_every_form() -> None:
    replies = [{"text": "好的，您的电话是一三八一二三四五六七八吗？", "buttons": []}]
    assert mask_replies(replies) == [{"text": "好的，您的电话是138****5678吗？", "buttons": []}]


# --- through the real app ------------------------------------------------------------------------

# A mobile whose digits do not also occur in a page's ordinary numbers (12345, times, years).
APP_MOBILE = "13907315264"
TRANSCRIPT = [
    "我的身份证 110105 19491231 0021，电话１３９０７３１５２６４",
    "再说一遍：一三九 零七三一 五二六四，身份证幺幺洞幺洞五幺九四九幺二三幺洞洞二幺",
    "家里座机0311-8765 4321，也可以打+86 139-0731-5264",
]


def test_auditor_sees_none_of_the_digits(
    client: TestClient,
    db: Session,
    headers: Callable[..., dict[str, str]],  # noqa: F811
) -> None:
    for words in TRANSCRIPT:
        rec = grievance_log.append(db, channel="web", session_id="web-forms", text=words)
        grievance_log.complete(db, record_id=rec.id, outcome="answered", replies=[{"text": f"您说的是：{words}"}])
    db.rollback()

    supervisor = client.get("/api/grievance-log", params={"session_id": "web-forms"}, headers=headers("supervisor"))
    assert "１３９０７３１５２６４" in supervisor.text  # the supervisor sees the citizen's words as written

    auditor = client.get("/api/grievance-log", params={"session_id": "web-forms"}, headers=headers("auditor"))
    assert auditor.status_code == 200 and len(auditor.json()["items"]) == 3
    shown = " ".join(f"{item['text']} {item['replies']}" for item in auditor.json()["items"])
    for digits in (ID, APP_MOBILE, "87654321"):
        _no_run_left(shown, digits)
    assert "139****5264" in shown and "110***********0021" in shown and "0311-****4321" in shown

    # The console's audit view, logged in through its form as an auditor.
    username = make_user(db, "auditor", username="console-auditor")
    login = client.post("/staff/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert login.status_code == 303, login.text
    page = client.get("/staff/audit", params={"session_id": "web-forms"})
    assert page.status_code == 200 and "web-forms" in page.text
    shown = _visible_text(page.text)
    assert "139****5264" in shown
    for digits in (ID, APP_MOBILE, "87654321"):
        _no_run_left(shown, digits)


# --- nothing personal in process logs --------------------------------------------------------------

SECRETS = (ID, MOBILE)


def _assert_clean(logged: str) -> None:
    for secret in SECRETS:
        assert secret not in logged
        _no_run_left(logged, secret)


def _refuse_ids(url: str) -> None:
    """Make the real grievance_log refuse a text with an ID number, the way a failing statement would."""
    with get_engine().begin() as conn:
        if url.startswith("sqlite"):
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_probe BEFORE INSERT ON grievance_log WHEN instr(NEW.text, '1101') > 0 "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            )
        else:
            # PostgreSQL names the whole failing row in the error's DETAIL, parameters hidden or not.
            conn.execute(
                text("ALTER TABLE grievance_log ADD CONSTRAINT refuse_probe CHECK (position('1101' in text) = 0)")
            )


def test_database_error_keeps_personal_data_out_of_the_log(
    client: TestClient,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _refuse_ids(database_url)
    caplog.set_level(logging.INFO)
    words = f"我的身份证{ID}，电话{MOBILE}"
    resp = client.post("/api/chat/messages", json={"session_id": "web-logprobe", "text": words, "channel": "web"})
    assert resp.status_code >= 500, resp.text
    assert ID not in resp.text and MOBILE not in resp.text
    failures = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert failures, "the failed statement was not logged at all"
    logged = "\n".join(caplog.handler.format(r) for r in caplog.records)  # message and traceback
    assert re.search(r"refused by the test|refuse_probe", logged), logged
    _assert_clean(logged)


def test_engine_errors_carry_no_values(
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Unique key, check constraint and bad-input errors of the real engine, logged with their tracebacks."""
    engine = make_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    statements = [
        "INSERT INTO probe (id_no, n) VALUES (:v, 1)",  # duplicate key: PostgreSQL names the key's value
        "INSERT INTO probe (id_no, n) VALUES (:w, -1)",  # check: PostgreSQL lists the failing row
        "INSERT INTO probe (id_no, n) VALUES ('x', CAST(:v AS integer) * 100000)",  # bad input: the value quoted
    ]
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE probe (id_no VARCHAR(40) UNIQUE, n INTEGER CHECK (n > 0))"))
            conn.execute(text("INSERT INTO probe (id_no, n) VALUES (:v, 1)"), {"v": ID})
        errors = 0
        for sql in statements:
            try:
                with engine.begin() as conn:
                    conn.execute(text(sql), {"v": ID, "w": f"电话{MOBILE}"})
            except Exception:
                errors += 1
                logging.getLogger("hotline.errors").exception("unhandled error")
        assert errors >= 2  # SQLite multiplies the bad integer without complaint
        logged = "\n".join(caplog.handler.format(r) for r in caplog.records)
        assert "probe" in logged
        _assert_clean(logged)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS probe"))
        engine.dispose()


def test_log_filter_masks_messages_and_tracebacks() -> None:
    """The safety net a process's log handlers can carry: numbers masked in the message and the traceback."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskingLogFilter())
    logger = logging.getLogger("hotline.test_masking_forms")
    logger.addHandler(handler)
    try:
        logger.warning("SMS to %s failed", "+86 138 1234 5678")
        try:
            raise ValueError(f"bad row ({ID}, 电话一三八一二三四五六七八)")
        except ValueError:
            logger.exception("unhandled error")
    finally:
        logger.removeHandler(handler)
    logged = stream.getvalue()
    assert "SMS to +86 138****5678 failed" in logged and "ValueError: bad row (110***********0021" in logged
    _assert_clean(logged)
