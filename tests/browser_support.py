"""Browser fixtures shared by every suite (registered once in tests/conftest.py, so one chromium and one
app server serve the web, follow-up and console tests; Playwright's sync API allows only one at a time).

`web_server`: the app alone (Rasa pointed at a closed port, so every turn gets the
gateway's "recorded, staff will follow up" answer) in its own process and data
directory, for fast, deterministic browser tests. The real assistant is only used
where the conversation itself matters (`stack` from tests/conftest.py).
`browser`: Debian chromium (never a downloaded build), one per test module.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT
from tests.conftest import free_port as _free_port

ARTIFACTS = ROOT / "test-artifacts" / "web"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SECRET = "test-secret-key"
AUDITED: list[str] = []  # states audited with zero violations, reported at the end of the session


@dataclass
class AppServer:
    url: str
    data_dir: Path
    env: dict[str, str]

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.data_dir / 'hotline.db'}"


@pytest.fixture(scope="session")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    data_dir = tmp_path_factory.mktemp("web-app")
    port = _free_port()
    env = {
        **os.environ,
        "HOTLINE_DATA_DIR": str(data_dir),
        "HOTLINE_DATABASE_URL": "",
        "HOTLINE_RASA_URL": f"http://127.0.0.1:{_free_port()}",
        "HOTLINE_ACTION_SERVER_URL": f"http://127.0.0.1:{_free_port()}",
        "HOTLINE_RASA_TIMEOUT_SECONDS": "1",
        "HOTLINE_SECRET_KEY": SECRET,
        "HOTLINE_TWILIO_WEBHOOKS": "true",
        "HOTLINE_CHAT_RATE_LIMIT": "40",
        "HOTLINE_CHAT_RATE_WINDOW_SECONDS": "30",
        "HOTLINE_CHAT_REPEAT_SECONDS": "3",
    }
    subprocess.run([str(ROOT / ".venv/bin/hotline"), "db", "upgrade"], env=env, cwd=ROOT, check=True)
    log = (data_dir / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/python"), "-m", "uvicorn", "hotline.app:create_app", "--factory", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/static/hotline.css", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((data_dir / "server.log").read_text(errors="replace")[-3000:])
            time.sleep(0.2)
        yield AppServer(url=url, data_dir=data_dir, env=env)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Per module: Playwright's sync API keeps an event loop running while it is open, which would break
    later tests that start their own (asyncio.run)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def context_factory(browser: Any) -> Iterator[Any]:
    """New isolated browser contexts (own cookies), closed after the test."""
    made: list[Any] = []

    def make(**kwargs: Any) -> Any:
        options = {"locale": "zh-CN", "viewport": {"width": 1280, "height": 900}, **kwargs}
        ctx = browser.new_context(**options)
        ctx.set_default_timeout(15000)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


@pytest.fixture(scope="session")
def axe() -> Any:
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def audit(axe: Any, page: Any, state: str) -> None:
    """Zero WCAG 2.0/2.1/2.2 A and AA violations, or fail with what axe found.

    axe-core (bundled by axe-playwright-python) is injected once per document.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe.axe_script)
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    violations = page.evaluate("opts => axe.run(document, opts).then(r => r.violations)", options)
    if violations:
        lines = []
        for v in violations:
            lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
            lines += [f"    {n['target']}: {n.get('failureSummary', '')}" for n in v["nodes"][:5]]
        report = "\n".join(lines)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"axe-{state}.txt").write_text(report, encoding="utf-8")
        raise AssertionError(f"axe found {len(violations)} violation(s) in state {state!r}:\n{report}")
    AUDITED.append(state)


def screenshot_200(browser: Any, url: str, name: str, *, cookies: list[dict[str, Any]] | None = None) -> Path:
    """The page at 200 % zoom (a 1280 × 900 window showing 640 × 450 CSS px), no horizontal scrolling."""
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 640, "height": 450}, device_scale_factor=2)
    try:
        if cookies:
            ctx.add_cookies(cookies)
        page = ctx.new_page()
        page.goto(url)
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], f"{name}: horizontal scrolling at 200% zoom {widths}"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}-200pct.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    finally:
        ctx.close()
