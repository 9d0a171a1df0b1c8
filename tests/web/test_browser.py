"""The web chat, status page and complaint form in Debian's chromium: keyboard, live region,
reload, no JavaScript, axe-core at WCAG 2.2 AA in every state, and 200 % zoom screenshots."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlmodel import Session

from accessibility import conversation
from api.db import make_engine
from api.services import grievance_log
from tests.browser_support import ARTIFACTS, AppServer, audit, screenshot_200

pytestmark = pytest.mark.browser

BOT_MESSAGES = "#conversation .msg:not(.msg-me)"

# Records what happens inside the log: each added message node (by key) and any change to a
# message that was already there. A screen reader announces additions to a polite log region,
# so "announced once" means: added once, complete, and never rewritten afterwards.
WATCH_LOG = """
() => {
  const log = document.getElementById('conversation');
  window.__added = [];
  window.__rewrites = 0;
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'childList' && r.target === log) {
        r.addedNodes.forEach((n) => { if (n.nodeType === 1) window.__added.push(n.textContent); });
      } else if (r.type === 'characterData' || (r.type === 'childList' && r.addedNodes.length)) {
        window.__rewrites += 1;
      }
    }
  }).observe(log, { childList: true, subtree: true, characterData: true });
}
"""


def _sid(context: Any) -> str:
    cookie = next(c for c in context.cookies() if c["name"] == "hotline_sid")
    return cookie["value"].rpartition(".")[0]


@pytest.fixture
def db_of(web_server: AppServer) -> Iterator[Session]:
    engine = make_engine(web_server.database_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def _wait_for_replies(page: Any, before: int) -> None:
    """Until the turn is over (the form is no longer busy) and, normally, a reply has arrived."""
    page.wait_for_function("() => !document.getElementById('chat-form').hasAttribute('data-busy')", timeout=30000)
    # A turn the assistant answers with silence (e.g. while a person holds the conversation) is allowed here.
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(
            "([sel, n]) => document.querySelectorAll(sel).length > n", arg=[BOT_MESSAGES, before], timeout=2000
        )


def _send_by_keyboard(page: Any, text: str) -> None:
    before = page.locator(BOT_MESSAGES).count()
    assert page.evaluate("document.activeElement.id") == "chat-text"
    page.keyboard.insert_text(text)
    page.keyboard.press("Enter")
    _wait_for_replies(page, before)
    assert page.locator(BOT_MESSAGES).count() > before, "no reply to " + text
    assert page.evaluate("document.activeElement.id") == "chat-text", "focus left the message box"


def _tab_to(page: Any, element_id: str, limit: int = 30) -> int:
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == element_id:
            return presses
    raise AssertionError(f"#{element_id} not reachable with Tab")


# --- the real assistant ---------------------------------------------------------------------

ANSWERS = [  # first match wins: the confidentiality and contact questions also mention 电话
    (r"怎么联系您", "发短信"),
    (r"保密", "不用保密"),
    (r"称呼", "王女士"),
    (r"哪一类", "无障碍"),
    (r"哪里|在哪", "海淀区中关村街道科源社区"),
    (r"什么时候", "这个月一直都这样"),
    (r"怎么解决|诉求|帮您做什么", "希望尽快清理盲道，以后有人管"),
    (r"电话", "13800138000"),
    (r"发生了什么|具体说|什么困难", "小区门口的盲道被电动车占了好几个星期，盲人没法走。"),
]


def test_complaint_conversation_by_keyboard_only(stack: Any, context_factory: Any) -> None:
    """Greeting, then a whole complaint intake, Tab/Enter/typing only, up to the confirmed submission."""
    page = context_factory().new_page()
    page.goto(stack.app_url + "/")
    assert _tab_to(page, "chat-text") > 1
    page.evaluate(WATCH_LOG)
    _send_by_keyboard(page, "你好")
    assert "您好" in page.locator(BOT_MESSAGES).last.inner_text()
    _send_by_keyboard(page, "我要投诉")
    submitted = False
    pressed = 0
    for _turn in range(16):
        last = page.locator(BOT_MESSAGES).last
        prompt = last.inner_text()
        if re.search(r"\d{12}", prompt) or submitted:
            break
        buttons = last.locator("button.quick")
        if buttons.count() and re.search(r"对吗|确认", prompt):
            # Quick replies are real buttons: reach the first one with Shift+Tab, press Enter.
            submitted = "确认" in prompt
            before = page.locator(BOT_MESSAGES).count()
            for _ in range(buttons.count()):
                page.keyboard.press("Shift+Tab")
            assert page.evaluate("document.activeElement.classList.contains('quick')")
            page.keyboard.press("Enter")
            pressed += 1
            _wait_for_replies(page, before)
            assert page.locator(BOT_MESSAGES).count() > before, page.locator("#conversation").inner_text()
            assert page.evaluate("document.activeElement.id") == "chat-text"
            continue
        answer = next((a for pattern, a in ANSWERS if re.search(pattern, prompt)), "是的")
        try:
            _send_by_keyboard(page, answer)
        except AssertionError:
            raise AssertionError(page.locator("#conversation").inner_text()) from None
    transcript = page.locator("#conversation").inner_text()
    texts = page.locator("#conversation .msg-text").all_inner_texts()
    assert pressed >= 1 and (submitted or re.search(r"\d{12}", transcript)), transcript
    # The answer to the submission: a work-order number when the assistant's ticket call succeeds;
    # which one depends on the other parts of the stack, so only its presence is checked here.
    final = page.locator(BOT_MESSAGES).last.inner_text()
    assert final.startswith("智能助手：") and len(final) > 10
    # Every message in the log was added exactly once and never rewritten: one announcement each.
    keys = page.eval_on_selector_all("#conversation .msg", "els => els.map(e => e.dataset.key)")
    assert len(page.evaluate("window.__added")) == len(keys) == len(set(keys))
    assert page.evaluate("window.__rewrites") == 0
    page.reload()
    assert page.locator("#conversation .msg-text").all_inner_texts() == texts  # survives a reload


# --- the app alone (assistant down: deterministic answers) ----------------------------------


def test_each_reply_is_announced_once_and_focus_stays(web_server: AppServer, context_factory: Any) -> None:
    page = context_factory().new_page()
    page.goto(web_server.url + "/")
    log = page.locator("#conversation")
    assert log.get_attribute("role") == "log" and log.get_attribute("aria-live") == "polite"
    page.evaluate(WATCH_LOG)
    page.focus("#chat-text")
    for text in ["残疾人证怎么办理", "补贴什么时候发", "<b>加粗</b><script>window.__xss = 1</script>"]:
        _send_by_keyboard(page, text)
    added = page.evaluate("window.__added")
    assert len(added) == 6  # three of mine, three replies: each added exactly once
    assert [a.split("：")[0] for a in added] == ["我", "智能助手"] * 3
    assert page.evaluate("window.__rewrites") == 0
    assert page.evaluate("window.__xss") is None
    assert "<b>加粗</b><script>window.__xss = 1</script>" in log.inner_text()  # shown as text
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "no visible focus on the message box"


def test_an_answer_lost_on_the_way_back_is_fetched_again_not_filed_twice(
    web_server: AppServer, context_factory: Any, db_of: Session
) -> None:
    """The server answers, the connection drops before the page hears it: the page sends the turn again
    under the same turn id, and the citizen sees one message and one answer, with one work order behind it
    (the assistant is down here, so every turn files an order: a second copy would file a second)."""
    ctx = context_factory()
    page = ctx.new_page()
    page.goto(web_server.url + "/")
    page.evaluate(WATCH_LOG)
    sent: list[dict[str, Any]] = []

    def drop_first_answer(route: Any) -> None:
        sent.append(route.request.post_data_json)
        if len(sent) == 1:
            route.fetch()  # the server receives the turn and answers it...
            route.abort("connectionreset")  # ...and the answer never reaches the page
        else:
            route.continue_()

    page.route("**/chat/send", drop_first_answer)
    page.focus("#chat-text")
    _send_by_keyboard(page, "我家楼道的扶手断了")
    assert len(sent) == 2 and sent[0]["turn_id"] == sent[1]["turn_id"] and sent[0]["turn_id"]
    assert [a.split("：")[0] for a in page.evaluate("window.__added")] == ["我", "智能助手"]
    assert page.locator("#chat-error").inner_text().strip() == ""
    records = grievance_log.search(db_of, session_id=_sid(ctx))
    db_of.rollback()
    assert [(r.text, r.turn_id) for r in records] == [("我家楼道的扶手断了", sent[0]["turn_id"])]
    assert records[0].ticket_number and "工单号" in page.locator(BOT_MESSAGES).last.inner_text()


def test_reload_keeps_the_conversation(web_server: AppServer, context_factory: Any) -> None:
    page = context_factory().new_page()
    page.goto(web_server.url + "/")
    page.focus("#chat-text")
    _send_by_keyboard(page, "我想问无障碍改造")
    before = page.locator("#conversation").inner_text()
    page.reload()
    after = page.locator("#conversation").inner_text()
    assert after == before and "我想问无障碍改造" in after
    assert page.locator("#conversation .msg").count() == 2
    # Still one conversation after another turn: nothing re-added.
    page.focus("#chat-text")
    _send_by_keyboard(page, "谢谢")
    keys = page.eval_on_selector_all("#conversation .msg", "els => els.map(e => e.dataset.key)")
    assert len(keys) == len(set(keys)) == 4


def test_no_javascript_fallback(web_server: AppServer, context_factory: Any) -> None:
    ctx = context_factory(java_script_enabled=False)
    page = ctx.new_page()
    page.goto(web_server.url + "/")
    page.fill("#chat-text", "没有脚本也能发送吗")
    page.click("#send-button")
    page.wait_for_url(re.compile(r"#latest$"))
    text = page.locator("#conversation").inner_text()
    assert "我：没有脚本也能发送吗" in text and "智能助手：" in text
    page.click("#send-button")  # empty
    assert "请先输入您要说的话" in page.locator("#chat-error").inner_text()
    assert page.get_attribute("#chat-text", "aria-invalid") == "true"
    page.click("#human-button")
    page.wait_for_url(re.compile(r"#latest$"))
    assert "我：转人工" in page.locator("#conversation").inner_text()
    page.click("button[value=contrast]")
    assert "theme-contrast" in (page.get_attribute("html", "class") or "")
    page.goto(web_server.url + "/status")
    page.fill("#number", "202601010001")
    page.fill("#phone_last4", "1234")
    page.click("form.stack-form button[type=submit]")
    assert "没有找到这个工单" in page.locator(".error-summary").inner_text()


def test_skip_link_and_keyboard_order(web_server: AppServer, context_factory: Any) -> None:
    page = context_factory().new_page()
    page.goto(web_server.url + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.locator(".skip-link").is_visible()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    first_in_main = page.evaluate("document.activeElement.closest('main') !== null")
    assert first_in_main
    # Human button is a real, reachable button next to the box.
    page.focus("#chat-text")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "human-button"
    page.keyboard.press("Enter")
    page.wait_for_selector(".answering-waiting")
    assert page.evaluate("document.activeElement.id") == "chat-text"


def test_axe_and_screenshots_in_every_state(
    web_server: AppServer, context_factory: Any, browser: Any, axe: Any, db_of: Session
) -> None:
    ctx = context_factory()
    page = ctx.new_page()
    base = web_server.url

    page.goto(base + "/")
    audit(axe, page, "chat-empty")
    page.focus("#chat-text")
    page.keyboard.press("Enter")  # empty message: error tied to the box
    assert "请先输入" in page.locator("#chat-error").inner_text()
    audit(axe, page, "chat-error")

    # A long chat with quick replies, staff and system messages, written straight into the log.
    sid = _sid(ctx)
    for i in range(25):
        rec = grievance_log.append(db_of, channel="web", session_id=sid, text=f"第{i + 1}个问题：补贴怎么申请？" * 2)
        grievance_log.complete(
            db_of,
            record_id=rec.id,
            outcome="answered",
            replies=[
                {
                    "text": "两项补贴是指困难残疾人生活补贴和重度残疾人护理补贴。" * 3,
                    "buttons": [
                        {"title": "申请条件", "payload": "/ask_conditions"},
                        {"title": "转人工", "payload": "/request_human"},
                    ],
                }
            ],
        )
    page.reload()
    assert page.locator("#conversation .msg").count() == 50
    assert page.locator("#conversation button.quick").count() == 2  # only on the latest answer
    audit(axe, page, "chat-long")

    page.focus("#chat-text")
    page.click("#human-button")
    page.wait_for_selector(".answering-waiting")
    audit(axe, page, "chat-handoff-waiting")
    page.evaluate(WATCH_LOG)
    conversation.post_staff_message(db_of, session_id=sid, text="您好，我是工作人员小李，我来帮您。", staff_name="小李")
    page.wait_for_selector(".msg-staff", timeout=15000)  # polled in, no reload
    assert page.evaluate("window.__added.length") == 1
    assert "小李" in page.locator("#answering").inner_text()
    audit(axe, page, "chat-handoff-staff")
    cookies = ctx.cookies()
    screenshot_200(browser, base + "/", "chat", cookies=cookies)

    page.click("button[data-pref=contrast]")
    assert "theme-contrast" in page.get_attribute("html", "class")
    audit(axe, page, "chat-high-contrast")
    page.click("button[data-pref=large]")
    assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "24px"
    audit(axe, page, "chat-large-text")
    page.reload()  # the switches are remembered
    assert "text-large" in page.get_attribute("html", "class")
    screenshot_200(browser, base + "/", "chat-large-contrast", cookies=ctx.cookies())
    page.click("button[data-pref=contrast]")
    page.click("button[data-pref=large]")

    for path, name in [("/transcript", "transcript"), ("/chat/new", "new-conversation")]:
        page.goto(base + path)
        audit(axe, page, name)
        screenshot_200(browser, base + path, name, cookies=cookies)

    page.goto(base + "/status")
    audit(axe, page, "status-empty")
    screenshot_200(browser, base + "/status", "status", cookies=cookies)
    page.click("form.stack-form button[type=submit]")
    assert page.evaluate("document.activeElement.className") == "error-summary"
    audit(axe, page, "status-errors")

    page.goto(base + "/complaint")
    audit(axe, page, "complaint-empty")
    screenshot_200(browser, base + "/complaint", "complaint", cookies=cookies)
    page.fill("#description", "占")
    page.click("form.stack-form > button[type=submit]")
    assert page.evaluate("document.activeElement.className") == "error-summary"
    audit(axe, page, "complaint-errors")
    page.click(".error-summary a[href='#description']")
    assert page.evaluate("document.activeElement.id") == "description"
    page.check("#kind-complaint")
    page.fill("#description", "社区康复站的工作人员态度很差，还不让我们排队。")
    page.fill("#contact_phone", "13912345678")
    page.click("form.stack-form > button[type=submit]")
    page.wait_for_url(re.compile(r"/complaint/done"))
    number = re.search(r"number=(\d{12})", page.url).group(1)
    audit(axe, page, "complaint-done")

    page.goto(base + "/status")
    page.fill("#number", number)
    page.fill("#phone_last4", "5678")
    page.click("form.stack-form button[type=submit]")
    assert "受理" in page.locator(".result").inner_text()
    assert page.evaluate("document.activeElement.id") == "result-title"
    audit(axe, page, "status-result")
    assert list(ARTIFACTS.glob("*-200pct.png"))
