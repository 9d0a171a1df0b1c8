"""A conversation as the citizen sees it, rebuilt from the grievance log.

The grievance log already holds every turn of a session (the citizen's text and the
replies), durably and in order, so the web chat keeps no second copy: a reload, a
restart or the no-JavaScript page all read the same history. Staff replies are
records with outcome "staff" (written by `post_staff_message`), so they appear in
the same log, in order, labelled as a person.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from accessibility import easy_read
from api import wording
from api.clock import china_time
from api.models.grievance import GrievanceRecord
from api.services import grievance_log

HISTORY_LIMIT = 300

SENDER_LABELS = {"me": "我", "bot": "智能助手", "staff": "工作人员", "system": "系统提示"}
KNOWN_PAYLOADS = {
    "/request_human": "转人工",
    "/request_easy_read": "请说简单一些",
    "/affirm": "是",
    "/deny": "不是",
    "/cancel": "取消",
    "/greet": "你好",
}
HUMAN_TEXT = "转人工"
EASY_READ_PAYLOAD = "/request_easy_read"


@dataclass
class Message:
    key: str
    record: int
    sender: str
    label: str
    text: str
    time: str
    buttons: list[dict[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Conversation:
    messages: list[Message]
    answering: str  # bot | waiting | staff
    last_id: int
    staff_name: str = ""

    @property
    def answering_text(self) -> str:
        if self.answering == "staff" and self.staff_name:
            return wording.text("web", "chat.answering_staff_named", name=self.staff_name)
        return wording.text("web", f"chat.answering_{self.answering}")


def _clock(moment: datetime | None) -> str:
    return china_time(moment, "%m-%d %H:%M")


def _buttons(reply: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for b in reply.get("buttons") or []:
        if isinstance(b, dict) and b.get("title") and b.get("payload"):
            out.append({"title": str(b["title"]), "payload": str(b["payload"])})
    return out


def shown_text(text: str, payload_titles: dict[str, str]) -> str:
    """What the citizen pressed, not the machine payload behind a quick reply."""
    if text.startswith("/"):
        return payload_titles.get(text) or KNOWN_PAYLOADS.get(text) or "（已选择）"
    return text


def records_for(session: Session, session_id: str, *, after: int = 0) -> list[GrievanceRecord]:
    query = (
        select(GrievanceRecord)
        .where(GrievanceRecord.session_id == session_id, GrievanceRecord.status == "received")
        .where(col(GrievanceRecord.id) > after)
        .order_by(col(GrievanceRecord.id).desc())
        .limit(HISTORY_LIMIT)
    )
    return list(session.exec(query).all())[::-1]


def build(records: list[GrievanceRecord], *, easy: bool = False) -> Conversation:
    """Turn log records into labelled messages and work out who is answering now."""
    messages: list[Message] = []
    payload_titles: dict[str, str] = {}
    answering = "bot"
    staff_name = ""
    last_id = 0
    for rec in records:
        last_id = max(last_id, rec.id)
        when = _clock(rec.created_at)
        if rec.text and rec.outcome != "staff" and rec.text != EASY_READ_PAYLOAD:
            # (the easy-read switch asks the assistant itself; the person typed nothing)
            messages.append(
                Message(f"{rec.id}-u", rec.id, "me", SENDER_LABELS["me"], shown_text(rec.text, payload_titles), when)
            )
        if rec.completed_at is None:
            continue
        for i, reply in enumerate(rec.replies or []):
            staff = rec.outcome == "staff" or reply.get("sender") == "staff"
            sender = "staff" if staff else ("system" if rec.outcome == "released" else "bot")
            text = str(reply.get("text") or "")
            if sender == "bot" and easy and text:
                text = easy_read.rewrite(text)
            label = SENDER_LABELS[sender]
            if staff and reply.get("name"):
                staff_name = str(reply["name"])
                label = f"{label}（{staff_name}）"
            buttons = _buttons(reply)
            for b in buttons:
                payload_titles[b["payload"]] = b["title"]
            if text or buttons:
                messages.append(Message(f"{rec.id}-r{i}", rec.id, sender, label, text, when, buttons))
        if rec.outcome == "staff":
            answering = "staff"
        elif rec.handoff:
            if answering != "staff":
                answering = "waiting"
            if not rec.replies and answering != "staff":
                waiting = wording.text("web", "handoff.waiting_note")
                messages.append(Message(f"{rec.id}-w", rec.id, "system", SENDER_LABELS["system"], waiting, when))
        elif rec.outcome in ("answered", "released"):
            answering = "bot"
    # Quick replies only make sense on the latest answer.
    latest = messages[-1].record if messages else None
    for m in messages:
        if m.record != latest:
            m.buttons = []
    return Conversation(messages, answering, last_id, staff_name if answering == "staff" else "")


def load(session: Session, session_id: str, *, easy: bool = False, after: int = 0) -> Conversation:
    """The conversation (or the part after record `after`, for polling)."""
    # Payload titles and the answering state need the earlier turns too, so build from all.
    conv = build(records_for(session, session_id), easy=easy)
    session.rollback()  # end the read transaction now: on SQLite it holds the write lock
    if after:
        conv.messages = [m for m in conv.messages if m.record > after]
    return conv


def post_staff_message(
    session: Session, *, session_id: str, text: str, staff_name: str = "", channel: str = "web"
) -> GrievanceRecord:
    """For the staff console: a person's reply, written to the log and shown in the citizen's chat."""
    rec = grievance_log.append(session, channel=channel, session_id=session_id, text="")
    return grievance_log.complete(
        session,
        record_id=rec.id,
        outcome="staff",
        replies=[{"text": text, "sender": "staff", "name": staff_name}],
        handoff=True,
    )
