"""The idle warning, narrow screens and the login form's CSRF defence in Debian's chromium (issue 20)."""

from __future__ import annotations

import subprocess
from typing import Any

import httpx
import pytest

from tests.browser_support import AppServer, audit
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

PASSWORD = "console-idle-pass-1"


@pytest.fixture(scope="module")
def idle_user(web_server: AppServer) -> str:
    env = {**web_server.env, "HOTLINE_NEW_USER_PASSWORD": PASSWORD}
    name = "idle-sup"
    done = subprocess.run(
        [str(ROOT / ".venv/bin/hotline"), "user", "create", name, "--role", "supervisor", "--full-name", "测试主管"],
        env=env,
        cwd=ROOT,
        capture_output=True,
    )
    assert done.returncode == 0 or b"already taken" in done.stderr, done.stderr
    return name


def _login(page: Any, base: str, name: str) -> None:
    page.goto(base + "/staff/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/staff" in url and "/staff/login" not in url)


def test_idle_warning_counts_down_keeps_focus_and_escape_extends(
    web_server: AppServer, idle_user: str, context_factory: Any, axe: Any
) -> None:
    page = context_factory().new_page()
    page.clock.install()
    _login(page, web_server.url, idle_user)
    page.goto(web_server.url + "/staff/tickets")
    page.focus("#overdue")
    page.evaluate(
        """() => { window.__said = [];
        new MutationObserver(() => { const t = document.getElementById('idle-announce').textContent;
          if (t) { window.__said.push(t); } })
        .observe(document.getElementById('idle-announce'), {childList: true, characterData: true, subtree: true}); }"""
    )
    page.clock.fast_forward("18:30")
    page.wait_for_selector("#idle-warning:not([hidden])")
    assert page.evaluate("document.activeElement.id") == "idle-extend"
    first = page.locator("#idle-left").inner_text()
    page.clock.run_for(3000)
    second = page.locator("#idle-left").inner_text()
    assert first != second, (first, second)  # the countdown moves
    audit(axe, page, "console-idle-warning-open")

    # Tab and Shift+Tab stay inside the dialog; the page behind it is inert.
    ids = []
    for _ in range(4):
        page.keyboard.press("Tab")
        ids.append(page.evaluate("document.activeElement.id"))
    assert set(ids) == {"idle-extend", "idle-logout"}, ids
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.getElementById('idle-warning').contains(document.activeElement)")
    assert page.evaluate("document.querySelector('.site-header').inert && document.querySelector('footer').inert")
    page.click("h1", force=True)  # a click behind the dialog does not take focus out of it
    assert page.evaluate("document.getElementById('idle-warning').contains(document.activeElement)")

    # Screen readers hear the time left only at 60, 30 and 10 seconds, not every second.
    page.clock.run_for(80_000)
    said = page.evaluate("window.__said")
    assert len(said) == 3, said
    assert "60秒" in said[0] or "1分钟" in said[0], said
    assert "30秒" in said[1] and "10秒" in said[2], said

    page.keyboard.press("Escape")  # Esc = continue
    page.wait_for_selector("#idle-warning", state="hidden")
    assert page.evaluate("document.activeElement.id") == "overdue"  # focus back where it was
    assert not page.evaluate("document.querySelector('.site-header').inert")
    # The new expiry is counted on the server's clock: the warning does not come straight back.
    page.clock.run_for(5000)
    assert page.locator("#idle-warning").is_hidden()


def test_staff_tables_are_usable_at_320_css_pixels(
    web_server: AppServer, idle_user: str, context_factory: Any, axe: Any
) -> None:
    base = web_server.url
    filed = httpx.post(
        base + "/api/chat/messages",
        json={"session_id": "web-narrow-ticket", "text": "小区门口的盲道被电动车占了好几个星期", "channel": "web"},
    )
    number = filed.json()["ticket_number"]
    page = context_factory(viewport={"width": 320, "height": 640}).new_page()
    _login(page, base, idle_user)
    for path, state in (("/staff/tickets", "console-tickets-320"), (f"/staff/tickets/{number}", "console-ticket-320")):
        page.goto(base + path)
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], f"{path}: the page itself scrolls sideways {widths}"
        region = page.locator(".table-scroll[role=region][tabindex='0']").first
        assert region.get_attribute("aria-labelledby")
        # No cell is squeezed to one character per line: each is at least a few characters wide.
        narrowest = page.evaluate(
            """() => Math.min(...[...document.querySelectorAll('.table-scroll td, .table-scroll th')]
                .filter(c => c.textContent.trim().length > 1)
                .map(c => c.getBoundingClientRect().width / parseFloat(getComputedStyle(c).fontSize)))"""
        )
        assert narrowest >= 3, f"{path}: a cell is only {narrowest:.1f} characters wide"
        audit(axe, page, state)
    status_cell = page.locator(".table-scroll td", has_text="受理").first
    lines = status_cell.evaluate("c => c.getBoundingClientRect().height / parseFloat(getComputedStyle(c).lineHeight)")
    assert lines < 2.5, lines  # "受理" on one line (plus padding)


def test_a_login_form_on_another_site_signs_nobody_in(
    web_server: AppServer, idle_user: str, context_factory: Any
) -> None:
    ctx = context_factory()
    page = ctx.new_page()
    attacker = "http://attacker.example"
    ctx.route(
        attacker + "/",
        lambda route: route.fulfill(
            content_type="text/html",
            body=(
                f'<html lang="zh"><body><form id="f" method="post" action="{web_server.url}/staff/login">'
                f'<input name="username" value="{idle_user}"><input name="password" value="{PASSWORD}">'
                '</form><button id="go" onclick="document.getElementById(\'f\').submit()">go</button></body></html>'
            ),
        ),
    )
    page.goto(attacker + "/")
    page.click("#go")
    page.wait_for_load_state()
    assert "页面已过期，请重新登录" in page.locator("main").inner_text()
    page.goto(web_server.url + "/staff/tickets")
    assert "/staff/login" in page.url  # not signed in
