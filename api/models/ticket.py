"""Work orders (工单): the model family, their events and internal notes, the daily number sequence.

Enum columns store the member *name* (ASCII) in the database; the API speaks the
member value. Kinds are Chinese in the API (the assistant sends them); statuses
are ASCII codes with Chinese labels in `STATUS_LABELS`.
"""

from __future__ import annotations

import enum
import re
from datetime import date, datetime
from typing import Any

from pydantic import ConfigDict, field_validator
from sqlalchemy import Column, Text
from sqlalchemy import Enum as SaEnum
from sqlmodel import Field, SQLModel

from api.models.common import CleanInput


class TicketKind(enum.StrEnum):
    consultation = "咨询"
    help_request = "求助"
    complaint = "投诉"
    suggestion = "建议"
    emergency = "紧急"


class TicketStatus(enum.StrEnum):
    received = "received"
    dispatched = "dispatched"
    accepted = "accepted"
    in_progress = "in_progress"
    replied = "replied"
    resolved = "resolved"
    follow_up = "follow_up"
    closed = "closed"
    reopened = "reopened"


STATUS_LABELS: dict[TicketStatus, str] = {
    TicketStatus.received: "受理",
    TicketStatus.dispatched: "派单",
    TicketStatus.accepted: "签收",
    TicketStatus.in_progress: "办理",
    TicketStatus.replied: "答复",
    TicketStatus.resolved: "办结",
    TicketStatus.follow_up: "回访",
    TicketStatus.closed: "关闭",
    TicketStatus.reopened: "重办",
}

# The SLA clock runs in these states; a reply (答复) stops it.
OPEN_STATUSES = (
    TicketStatus.received,
    TicketStatus.dispatched,
    TicketStatus.accepted,
    TicketStatus.in_progress,
    TicketStatus.reopened,
)


class TicketCategory(enum.StrEnum):
    disability_card = "残疾人证"
    subsidy = "补贴"
    rehabilitation = "康复"
    assistive_devices = "辅助器具"
    care = "托养"
    employment = "就业"
    education = "教育"
    accessibility = "无障碍"
    legal_rights = "法律维权"
    service_attitude = "服务态度"
    other = "其他"


class TicketPriority(enum.StrEnum):
    normal = "normal"
    urgent = "urgent"


class Satisfaction(enum.StrEnum):
    satisfied = "满意"
    basically_satisfied = "基本满意"
    unsatisfied = "不满意"


CHANNEL_VALUES: tuple[str, ...] = ("web", "sms", "voice", "phone", "walk_in", "letter", "email", "staff")

_PHONE_RE = re.compile(r"^\+?\d{3,15}$")


def normalize_phone(value: Any) -> Any:
    """Keep digits (and a leading +); empty means no phone. Refuse what cannot be dialled."""
    if value is None or not isinstance(value, str):
        return value
    compact = re.sub(r"[\s\-()（）]", "", value)
    if not compact:
        return None
    if not _PHONE_RE.fullmatch(compact):
        raise ValueError("phone must be 3 to 15 digits, optionally starting with +")
    return compact


class ContactPreference(enum.StrEnum):
    """How the citizen asked to be contacted; every outgoing contact respects it (a deaf citizen is never called)."""

    unknown = ""
    call = "call"
    sms = "sms"
    chat = "chat"
    none = "none"


class TicketBase(SQLModel):
    kind: TicketKind = Field(default=TicketKind.consultation, max_length=16)
    category: str = Field(default=TicketCategory.other.value, max_length=16)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    district: str = Field(default="", max_length=64, description="区县")
    street: str = Field(default="", max_length=64, description="街道/乡镇")
    community: str = Field(default="", max_length=64, description="社区/村")
    occurred_at_text: str = Field(default="", max_length=200, description="When it happened, in the caller's words")
    wish: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    channel: str = Field(default="web", max_length=16)
    session_id: str | None = Field(default=None, max_length=128, index=True)
    contact_phone: str | None = Field(default=None, max_length=20)
    contact_name: str | None = Field(default=None, max_length=64)
    location_text: str = Field(default="", max_length=200, description="The place in the citizen's words, as read back")
    # Stored by value, not by name like the other enums: "" (not said) is what migration 0008 gives
    # the work orders made before it, and a name column would refuse to read it back.
    contact_preference: ContactPreference = Field(
        default=ContactPreference.unknown,
        sa_type=SaEnum(
            ContactPreference,
            values_callable=lambda members: [m.value for m in members],
            native_enum=False,
            length=8,
        ),
        description="How the citizen wants to be contacted: call, sms, chat, none, or empty when not said",
    )
    priority: TicketPriority = Field(default=TicketPriority.normal, max_length=16)
    confidential: bool = Field(default=False, description="Hide the caller's identity from the handling department")


_CREATE_EXAMPLE: dict[str, Any] = {
    "kind": "投诉",
    "category": "无障碍",
    "description": "小区门口的盲道被电动车占了，已经好几个星期了。",
    "district": "海淀区",
    "street": "中关村街道",
    "community": "科源社区",
    "occurred_at_text": "这个月一直都有",
    "wish": "希望清理盲道并且以后有人管",
    "contact_phone": "13800138000",
    "contact_name": "王女士",
    "confidential": False,
    "channel": "web",
    "session_id": "web-3f2a9c",
    "priority": "normal",
}


class TicketCreate(CleanInput, TicketBase):
    """What the assistant's action server (service token) or a staff member submits."""

    model_config = ConfigDict(  # type: ignore[assignment]
        json_schema_extra={"examples": [_CREATE_EXAMPLE]}
    )

    category: TicketCategory = TicketCategory.other
    description: str = Field(min_length=1, max_length=5000)
    district: str = Field(default="", max_length=64)
    street: str = Field(default="", max_length=64)
    community: str = Field(default="", max_length=64)
    occurred_at_text: str = Field(default="", max_length=200)
    wish: str = Field(default="", max_length=2000)
    channel: str = Field(default="web", description="web, sms, voice, phone, walk_in, letter, email or staff")
    session_id: str | None = Field(default=None, max_length=128)
    contact_phone: str | None = Field(default=None, max_length=32)
    contact_name: str | None = Field(default=None, max_length=64)

    @field_validator("contact_phone", mode="after")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        result: str | None = normalize_phone(value)
        return result

    @field_validator("channel", mode="after")
    @classmethod
    def _channel(cls, value: str) -> str:
        if value not in CHANNEL_VALUES:
            raise ValueError("channel must be one of " + ", ".join(CHANNEL_VALUES))
        return value

    @field_validator("contact_name", "session_id", mode="after")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None


class Ticket(TicketBase, table=True):
    __tablename__ = "ticket"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=12, unique=True, index=True)
    status: TicketStatus = Field(default=TicketStatus.received, max_length=16)
    created_at: datetime
    updated_at: datetime | None = None
    created_by: str | None = Field(default=None, max_length=64)
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    assignee: str | None = Field(default=None, max_length=64, index=True)
    deadline: datetime | None = Field(default=None, index=True)
    sla_working_days: int | None = None
    extension_count: int = 0
    reopen_count: int = 0
    public_reply: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    replied_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    satisfaction: str | None = Field(default=None, max_length=16)
    satisfaction_score: int | None = Field(default=None, description="The citizen's last follow-up rating, 1 to 5")
    version: int = 1
    idempotency_key: str | None = Field(default=None, max_length=200, unique=True)


class TicketUpdate(CleanInput):
    """A staff edit; `version` must be the one read, or the edit is refused (409)."""

    model_config = ConfigDict(  # type: ignore[assignment]
        json_schema_extra={"examples": [{"version": 1, "category": "无障碍", "priority": "urgent"}]}
    )

    version: int = Field(ge=1, le=2**31 - 1, description="The version you read; newer means someone else edited")
    kind: TicketKind | None = None
    category: TicketCategory | None = None
    description: str | None = Field(default=None, min_length=1, max_length=5000)
    district: str | None = Field(default=None, max_length=64)
    street: str | None = Field(default=None, max_length=64)
    community: str | None = Field(default=None, max_length=64)
    occurred_at_text: str | None = Field(default=None, max_length=200)
    wish: str | None = Field(default=None, max_length=2000)
    contact_phone: str | None = Field(default=None, max_length=32)
    contact_name: str | None = Field(default=None, max_length=64)
    priority: TicketPriority | None = None
    confidential: bool | None = None
    assignee: str | None = Field(default=None, max_length=64)
    department_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    public_reply: str | None = Field(default=None, max_length=5000)
    reason: str | None = Field(
        default=None,
        max_length=500,
        description="Why; required to lift confidentiality (`confidential: false`, supervisors only). Kept in history",
    )

    @field_validator("contact_phone", mode="after")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        result: str | None = normalize_phone(value)
        return result


class TicketPublic(TicketBase):
    """A work order as staff see it (contact fields may be masked for their role)."""

    id: int
    number: str
    status: TicketStatus
    status_text: str = ""
    created_at: datetime
    updated_at: datetime | None = None
    created_by: str | None = None
    department_id: int | None = None
    assignee: str | None = None
    deadline: datetime | None
    deadline_text: str = ""
    overdue: bool = False
    extension_count: int = 0
    reopen_count: int = 0
    public_reply: str | None = None
    replied_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    satisfaction: str | None = None
    satisfaction_score: int | None = None
    version: int = 1
    allowed_actions: list[str] = Field(default_factory=list)


class TicketCreated(SQLModel):
    """The answer to a creation: what the assistant reads back to the citizen."""

    model_config = ConfigDict(  # type: ignore[assignment]
        json_schema_extra={
            "examples": [
                {
                    "number": "202611240007",
                    "status": "received",
                    "status_text": "受理",
                    "kind": "投诉",
                    "deadline": "2026-12-11T15:59:59.999999Z",
                    "deadline_text": "13个工作日内，即12月11日前",
                    "created_at": "2026-11-24T01:02:03Z",
                }
            ]
        }
    )

    id: int
    number: str
    status: TicketStatus
    status_text: str
    kind: TicketKind
    deadline: datetime | None
    deadline_text: str
    created_at: datetime


class TicketCitizenView(SQLModel):
    """What a citizen may see with the number and the phone's last four digits."""

    model_config = ConfigDict(  # type: ignore[assignment]
        json_schema_extra={
            "examples": [
                {
                    "number": "202611240007",
                    "kind": "投诉",
                    "status": "replied",
                    "status_text": "答复",
                    "created_at": "2026-11-24T01:02:03Z",
                    "deadline": "2026-12-11T15:59:59.999999Z",
                    "deadline_text": "13个工作日内，即12月11日前",
                    "replied_at": "2026-11-30T06:00:00Z",
                    "closed_at": None,
                    "public_reply": "已联系物业清理盲道，并安排每日巡查。",
                }
            ]
        }
    )

    number: str
    kind: TicketKind
    status: TicketStatus
    status_text: str
    created_at: datetime
    deadline: datetime | None
    deadline_text: str
    replied_at: datetime | None
    closed_at: datetime | None
    public_reply: str | None


class TicketPage(SQLModel):
    items: list[TicketPublic]
    total: int
    offset: int
    limit: int


class TicketEventBase(SQLModel):
    action: str = Field(max_length=16)
    from_status: TicketStatus | None = Field(default=None, max_length=16)
    to_status: TicketStatus | None = Field(default=None, max_length=16)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class TicketEvent(TicketEventBase, table=True):
    """One change of a work order: who, when, from, to, why."""

    __tablename__ = "ticket_event"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    at: datetime
    actor: str = Field(max_length=64)


class TicketEventPublic(TicketEventBase):
    id: int
    at: datetime
    actor: str


class TransitionAction(enum.StrEnum):
    dispatch = "dispatch"
    reject = "reject"
    accept = "accept"
    start = "start"
    reply = "reply"
    resolve = "resolve"
    follow_up = "follow_up"
    close = "close"
    reopen = "reopen"
    extend = "extend"


class TransitionCreate(CleanInput):
    """A move in the 12345 loop; which fields are needed depends on the action."""

    model_config = ConfigDict(  # type: ignore[assignment]
        json_schema_extra={
            "examples": [
                {"action": "dispatch", "department_id": 1, "note": "请区残联核实处理"},
                {"action": "reject", "reason": "不属于本单位职责，应由区城管局办理"},
                {"action": "extend", "reason": "需要现场核查，涉及多个部门", "working_days": 5},
                {"action": "reply", "public_reply": "已联系物业清理盲道。"},
                {"action": "reopen", "satisfaction": "不满意", "reason": "盲道又被占了"},
            ]
        }
    )

    action: TransitionAction
    reason: str | None = Field(default=None, max_length=2000)
    note: str | None = Field(default=None, max_length=2000)
    version: int | None = Field(default=None, ge=1, le=2**31 - 1, description="Optional optimistic-concurrency check")
    department_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    assignee: str | None = Field(default=None, max_length=64)
    public_reply: str | None = Field(default=None, max_length=5000)
    satisfaction: Satisfaction | None = None
    working_days: int | None = Field(default=None, ge=1, le=30, description="延期: extra working days")


class TicketNoteBase(SQLModel):
    text: str = Field(sa_column=Column(Text, nullable=False))


class TicketNote(TicketNoteBase, table=True):
    """Internal note: never shown to the citizen."""

    __tablename__ = "ticket_note"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    at: datetime
    author: str = Field(max_length=64)


class TicketNoteCreate(CleanInput):
    model_config = ConfigDict(  # type: ignore[assignment]
        json_schema_extra={"examples": [{"text": "已电话联系来电人，约定周五上门。"}]}
    )

    text: str = Field(min_length=1, max_length=5000)


class TicketNotePublic(TicketNoteBase):
    id: int
    at: datetime
    author: str


class TicketDaySequence(SQLModel, table=True):
    """Last number issued per day; incremented under a row lock so numbers never repeat."""

    __tablename__ = "ticket_day_sequence"

    day: date = Field(primary_key=True)
    last: int = 0


class FollowUpChannel(enum.StrEnum):
    sms = "sms"
    web = "web"
    voice = "voice"


class FollowUp(SQLModel, table=True):
    """One satisfaction request (回访) of a resolved work order and, once given, the citizen's answer.

    `token` is the secret in the citizen's web link `/feedback/{token}`; `channel` is how the
    request went out, `answered_channel` how the answer came back.
    """

    __tablename__ = "follow_up"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    token: str = Field(max_length=64, unique=True, index=True)
    channel: FollowUpChannel = Field(default=FollowUpChannel.web, max_length=8)
    requested_at: datetime
    requested_by: str = Field(max_length=64)
    answered_at: datetime | None = Field(default=None, index=True)
    answered_channel: FollowUpChannel | None = Field(default=None, max_length=8)
    score: int | None = None
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
