"""The citizen's web page `/feedback/{token}`: accessible form, CSRF, clear errors, friendly dead ends."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

from fastapi.testclient import TestClient
from sqlmodel import select

from api.db import new_session
from api.models.ticket import FollowUp, Ticket, TicketStatus
from api.services import follow_up
from api.services.audit import Principal
from api.settings import get_settings

SUPERVISOR = Principal(username="supervisor-0", role="supervisor")


class _Form(HTMLParser):
    """Collects what a screen reader relies on: fieldset/legend, radios and their labels."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.legend = ""
        self.radios: list[dict[str, str]] = []
        self.labels: dict[str, str] = {}
        self._label_for: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.stack.append(tag)
        if tag == "input" and a.get("type") == "radio":
            self.radios.append(a)
        if tag == "label":
            self._label_for = a.get("for")
            self.labels.setdefault(self._label_for or "", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_for = None
        while self.stack and self.stack.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        if "legend" in self.stack and "fieldset" in self.stack:
            self.legend += data.strip()
        if self._label_for is not None:
            self.labels[self._label_for] += data.strip()


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the form carries a CSRF token"
    return match.group(1)


def _ask(number: str) -> str:
    with new_session() as s:
        return follow_up.request_follow_up(s, number=number, actor=SUPERVISOR, settings=get_settings()).token


def _status(number: str) -> TicketStatus:
    with new_session() as s:
        return s.exec(select(Ticket).where(Ticket.number == number)).one().status


def test_form_is_accessible_and_protected(client: TestClient, resolved: Callable[..., str]) -> None:
    number = resolved()
    token = _ask(number)
    page = client.get(f"/feedback/{token}")
    assert page.status_code == 200
    assert "Content-Security-Policy" in page.headers and page.headers["Cache-Control"] == "no-store"
    form = _Form()
    form.feed(page.text)
    assert form.legend.startswith("您对这次办理满意吗")
    assert [r["value"] for r in form.radios] == ["5", "4", "3", "2", "1"]
    assert all(r["name"] == "score" for r in form.radios)
    assert form.labels["score-5"] == "5 分：非常满意" and form.labels["score-1"] == "1 分：很不满意"
    assert form.labels["comment"].startswith("您的意见")
    assert "<script>" not in page.text  # no inline script: the form works without JavaScript
    assert "已联系物业清理盲道。" in page.text  # the reply being rated

    # No CSRF token (or a forged one): refused, nothing recorded.
    assert client.post(f"/feedback/{token}", data={"score": "5"}).status_code == 403
    assert client.post(f"/feedback/{token}", data={"score": "5", "csrf": "0" * 32}).status_code == 403
    assert _status(number) is TicketStatus.follow_up


def test_bad_score_gets_a_clear_error_then_a_good_one_closes(client: TestClient, resolved: Callable[..., str]) -> None:
    number = resolved()
    token = _ask(number)
    csrf = _csrf(client.get(f"/feedback/{token}").text)
    for bad in ("9", "", "五", "3.5"):
        resp = client.post(f"/feedback/{token}", data={"csrf": csrf, "score": bad, "comment": "我的意见"})
        assert resp.status_code == 422
        assert "请选择一个评分" in resp.text and 'aria-invalid="true"' in resp.text
        assert resp.text.count('role="alert"') == 1 and "<title>错误：" in resp.text
        assert "我的意见" in resp.text  # what the citizen typed is kept
    too_long = client.post(f"/feedback/{token}", data={"csrf": csrf, "score": "4", "comment": "长" * 501})
    assert too_long.status_code == 422 and "最多 500 个字" in too_long.text
    assert _status(number) is TicketStatus.follow_up

    done = client.post(f"/feedback/{token}", data={"csrf": csrf, "score": "4", "comment": "处理得很快"})
    assert done.status_code == 200 and "谢谢您的评价" in done.text and "4分，满意" in done.text
    assert _status(number) is TicketStatus.closed
    with new_session() as s:
        answer = s.exec(select(FollowUp).where(FollowUp.token == token)).one()
        assert (answer.score, answer.comment, answer.answered_channel) == (4, "处理得很快", "web")

    again = client.post(f"/feedback/{token}", data={"csrf": csrf, "score": "1"})
    assert again.status_code == 200 and "已经评价过了" in again.text
    assert "已经评价过了" in client.get(f"/feedback/{token}").text
    assert _status(number) is TicketStatus.closed


def test_unsatisfied_on_the_web_reopens(client: TestClient, resolved: Callable[..., str]) -> None:
    number = resolved()
    token = _ask(number)
    csrf = _csrf(client.get(f"/feedback/{token}").text)
    resp = client.post(f"/feedback/{token}", data={"csrf": csrf, "score": "1", "comment": "根本没人来"})
    assert resp.status_code == 200 and "重新办理" in resp.text and "/status" in resp.text
    assert _status(number) is TicketStatus.reopened


def test_unknown_or_stale_links_get_a_friendly_page(
    client: TestClient, resolved: Callable[..., str], headers: Callable[..., dict[str, str]]
) -> None:
    for token in ("x" * 32, "short", "a" * 65, "bad%20token%3Cscript%3E"):
        page = client.get(f"/feedback/{token}")
        assert page.status_code == 404 and "没有找到这次评价" in page.text
        assert "<script>" not in page.text
    csrf = _csrf(client.get("/complaint").text)
    posted = client.post(f"/feedback/{'y' * 32}", data={"csrf": csrf, "score": "5"})
    assert posted.status_code == 404 and "没有找到这次评价" in posted.text

    number = resolved()
    token = _ask(number)
    # Staff closed the order by hand in the meantime: the link no longer asks anything.
    resp = client.post(
        f"/api/tickets/{number}/transitions",
        json={"action": "close", "satisfaction": "满意"},
        headers=headers("supervisor"),
    )
    assert resp.status_code == 200, resp.text
    page = client.get(f"/feedback/{token}")
    assert page.status_code == 200 and "现在不需要评价" in page.text and 'name="score"' not in page.text
    posted = client.post(f"/feedback/{token}", data={"csrf": csrf, "score": "1"})
    assert posted.status_code == 200 and "现在不需要评价" in posted.text
    assert _status(number) is TicketStatus.closed
