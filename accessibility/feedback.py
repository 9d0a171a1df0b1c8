"""The citizen's follow-up page `/feedback/{token}`: rate a resolved work order 1–5.

A plain HTML form (no JavaScript needed) with the same CSRF protection and security
headers as the complaint form. A link that is unknown, already used, or whose work
order has left 回访 gets a friendly page, never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from accessibility import ui, workorders
from api import wording
from api.deps import SessionDep
from api.errors import ApiError
from api.models.ticket import FollowUpChannel, Ticket, TicketKind, TicketStatus
from api.services import follow_up
from api.settings import get_settings

router = APIRouter(include_in_schema=False)

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
COMMENT_MAX_CHARS = 500
SCORES = [(score, follow_up.SCORE_LABELS[score]) for score in (5, 4, 3, 2, 1)]
TITLE = "服务评价 · 残联服务热线"

# Errors and the pages of a rating that cannot be given (<state>_title, <state>_text).
ERRORS = wording.texts("web", "feedback")


def _page(request: Request, ctx: dict[str, Any], status_code: int = 200) -> Response:
    base = {"title": TITLE, "state": "form", "scores": SCORES, "comment_max": COMMENT_MAX_CHARS}
    return ui.render(request, "feedback.html", {**base, **ctx}, status_code=status_code)


def _state_page(request: Request, state: str, *, number: str = "", status_code: int = 200) -> Response:
    heading, text = ERRORS[f"{state}_title"], ERRORS[f"{state}_text"]
    return _page(
        request,
        {"state": state, "heading": heading, "text": text, "number_grouped": workorders.group_digits(number)},
        status_code=status_code,
    )


@dataclass(frozen=True)
class _Order:
    number: str
    kind: str
    reply: str


def _load(db: Session, token: str) -> tuple[str, _Order | None]:
    """("form" | "answered" | "closed" | "unknown", what the page shows of the work order)."""
    found = follow_up.get_by_token(db, token) if TOKEN_RE.match(token) else None
    ticket = db.get(Ticket, found.ticket_id) if found is not None else None
    if found is None or ticket is None:
        state = "unknown"
    elif found.answered_at is not None:
        state = "answered"
    elif ticket.status is not TicketStatus.follow_up or (
        (pending := follow_up.pending_for_ticket(db, number=ticket.number)) is None or pending.id != found.id
    ):
        state = "closed"
    else:
        state = "form"
    order = None
    if ticket is not None:
        kind = ticket.kind.value if isinstance(ticket.kind, TicketKind) else str(ticket.kind)
        order = _Order(ticket.number, kind, workorders.public_reply(ticket))
    db.rollback()  # reads only: end the transaction (on SQLite it would hold back writers)
    return state, order


def _form_page(
    request: Request, order: _Order, *, form: dict[str, str], errors: dict[str, str], status_code: int = 200
) -> Response:
    return _page(
        request,
        {
            "number_grouped": workorders.group_digits(order.number),
            "kind": order.kind,
            "reply": order.reply,
            "form": form,
            "errors": errors,
        },
        status_code=status_code,
    )


@router.get("/feedback/{token}")
async def feedback_form(request: Request, token: str, db: SessionDep) -> Response:
    state, ticket = await run_in_threadpool(_load, db, token)
    if state != "form" or ticket is None:
        return _state_page(request, state, number=ticket.number if ticket else "", status_code=_status(state))
    return _form_page(request, ticket, form={"score": "", "comment": ""}, errors={})


def _status(state: str) -> int:
    return 404 if state == "unknown" else 200


@router.post("/feedback/{token}")
async def feedback_submit(request: Request, token: str, db: SessionDep) -> Response:
    raw = await request.form()
    if not ui.check_csrf(request, str(raw.get("csrf") or "")):
        return ui.render(
            request,
            "message.html",
            {"title": "页面已失效", "heading": "页面已失效", "text": ERRORS["csrf"]},
            status_code=403,
        )
    state, ticket = await run_in_threadpool(_load, db, token)
    if state != "form" or ticket is None:
        return _state_page(request, state, number=ticket.number if ticket else "", status_code=_status(state))
    form = {"score": str(raw.get("score") or "").strip()[:8], "comment": str(raw.get("comment") or "")}
    errors: dict[str, str] = {}
    if form["score"] not in {str(s) for s, _ in SCORES}:
        errors["score"] = ERRORS["score"]
    comment = form["comment"].strip()
    if len(comment) > COMMENT_MAX_CHARS:
        errors["comment"] = ERRORS["comment"].format(n=len(comment), limit=COMMENT_MAX_CHARS)
    if errors:
        form["comment"] = form["comment"][: COMMENT_MAX_CHARS * 4]
        return _form_page(request, ticket, form=form, errors=errors, status_code=422)
    try:
        result = await run_in_threadpool(
            follow_up.record_rating,
            db,
            token=token,
            score=int(form["score"]),
            comment=comment,
            channel=FollowUpChannel.web,
            settings=get_settings(),
        )
    except ApiError as exc:
        if exc.status_code == 404:
            return _state_page(request, "unknown", status_code=404)
        if exc.code == "invalid_comment":
            errors["comment"] = ERRORS["comment_invalid"]
        else:
            errors["score"] = ERRORS["score"]
        return _form_page(request, ticket, form=form, errors=errors, status_code=422)
    if result.outcome == "already_answered":
        return _state_page(request, "answered", number=result.number)
    if result.outcome == "not_pending":
        return _state_page(request, "closed", number=result.number)
    return _page(
        request,
        {
            "title": "谢谢您的评价 · 残联服务热线",
            "state": "done",
            "heading": "谢谢您的评价",
            "text": result.message,
            "reopened": result.reopened,
            "number_grouped": workorders.group_digits(result.number),
        },
    )
