"""The knowledge page: what citizens asked that went unanswered, and the answer entries staff write for it.

Operators and supervisors write entries (question forms, a plain answer, an easy-read
version and the source it rests on); a supervisor other than the writer approves them,
and only then does the assistant give them, with the source.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from accessibility import security
from api.db import new_session
from api.deps import SessionDep
from api.errors import ApiError
from api.knowledge import entries
from api.knowledge.index import build_index, default_data_dir, uploads_dir
from api.knowledge.ingest import DOC_SUFFIXES, load_corpus, parse_document
from api.knowledge.unanswered import list_unanswered
from api.models.knowledge import KnowledgeEntryCreate
from api.services import access, audit
from staff_console import sessions
from staff_console.deps import FormDep, form_text, page
from staff_console.ui import render
from staff_console.views import CHANNELS, notice_query, read_notice

router = APIRouter(prefix="/staff/knowledge")
WriteLogin = Annotated[sessions.ConsoleLogin, Depends(page("knowledge.write"))]
ApproveLogin = Annotated[sessions.ConsoleLogin, Depends(page("knowledge.approve"))]
FIELDS = ("questions", "answer", "easy_read", "source_title", "source_article", "source_date", "source_url")
FIELD_MESSAGES = {
    "questions": "请写出至少一种问法（每行一种）。",
    "answer": "请用平实的话写出答复（2到2000字）。",
    "easy_read": "易读版不超过1000字。",
    "source_title": "请写出答复依据的文件或网页名称。",
    "source_article": "条款不超过100字。",
    "source_date": "日期不超过32字，例如 2023年5月1日。",
    "source_url": "网址要以 http:// 或 https:// 开头。",
    "expires_on": "有效期请写成 2027-12-31 这样的日期，或留空。",
}
UNANSWERED_SHOWN = 30
UNANSWERED_READ = 2000


def unanswered_groups(limit: int = UNANSWERED_SHOWN) -> list[dict[str, Any]]:
    """Unanswered questions folded by wording (the same measure that matches entries): how often,
    other wordings, when last, the channels; most asked first."""
    groups: list[dict[str, Any]] = []
    for record in list_unanswered(limit=UNANSWERED_READ):
        question = str(record.get("question", "")).strip()
        if not question:
            continue
        group = next((g for g in groups if entries.similarity(question, g["question"]) >= entries.MATCH_MIN), None)
        if group is None:
            group = {"question": question, "count": 0, "examples": [], "channels": set(), "last": _when(record)}
            groups.append(group)
        group["count"] += 1
        group["channels"].add(CHANNELS.get(str(record.get("channel", "")), str(record.get("channel", ""))))
        if len(group["examples"]) < 3 and question not in group["examples"]:
            group["examples"].append(question)
    ranked = sorted(groups, key=lambda g: -g["count"])[:limit]
    for group in ranked:
        group["answered"] = entries.find(group["question"]) is not None
    return ranked


def _when(record: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(record.get("time", "")))
    except ValueError:
        return None


def _page(
    request: Request, db: Session, login: sessions.ConsoleLogin, status_code: int = 200, **extra: Any
) -> Response:
    listed = entries.list_entries(db)
    db.rollback()
    prefill = request.query_params.get("q", "")[:200]
    ctx: dict[str, Any] = {
        "title": "知识库 - 工作台",
        "groups": unanswered_groups(),
        "drafts": [e for e in listed if e.status == "draft"],
        "approved": [e for e in listed if e.status == "approved"],
        "today": entries.today(),
        "may_approve": access.may(login.principal, "knowledge.approve"),
        "notice": read_notice(request),
        "entry": {"questions": prefill},
        "errors": {},
        **extra,
    }
    return render(request, "staff/knowledge.html", ctx, login=login, status_code=status_code)


def _back(notice: str, page_url: str = "/staff/knowledge") -> Response:
    return security.apply_security_headers(RedirectResponse(f"{page_url}?{notice_query(notice)}", status_code=303))


@router.get("")
def index(request: Request, db: SessionDep, login: WriteLogin, revise: int = 0) -> Response:
    """With `revise`, the form starts from that entry and saves its next version."""
    if revise:
        try:
            old = entries.get(db, entry_id=revise)
        except ApiError:
            return _page(request, db, login)
        shown = {name: getattr(old, name) for name in FIELDS}
        shown.update(expires_on=old.expires_on.isoformat() if old.expires_on else "", revises=str(old.id))
        return _page(request, db, login, entry=shown)
    return _page(request, db, login)


@router.post("/entries")
def write(request: Request, db: SessionDep, login: WriteLogin, form: FormDep) -> Response:
    fields: dict[str, Any] = {name: form_text(form, name, 2100) for name in FIELDS}
    shown = dict(fields, expires_on=form_text(form, "expires_on", 20))
    errors: dict[str, str] = {}
    if shown["expires_on"]:
        try:
            fields["expires_on"] = date.fromisoformat(shown["expires_on"])
        except ValueError:
            errors["expires_on"] = FIELD_MESSAGES["expires_on"]
    revises = form_text(form, "revises")
    try:
        data = KnowledgeEntryCreate.model_validate(fields)
    except ValidationError as exc:
        for item in exc.errors():
            name = str(item["loc"][0]) if item.get("loc") else "questions"
            errors.setdefault(name, FIELD_MESSAGES.get(name, "请检查这一项。"))
    if errors:
        return _page(request, db, login, 400, entry=shown, errors=errors)
    try:
        previous = int(revises) if revises.isdigit() else None
        entry = entries.create(db, data=data, actor=login.principal, revises=previous)
    except ApiError as exc:
        return _page(request, db, login, 400, entry=shown, errors={"questions": exc.message.split(" / ")[0]})
    return _back(f"已保存答复草稿（第{entry.version}版），等待值班主管审核；审核前市民看不到。")


@router.post("/entries/{entry_id}/approve")
def approve(entry_id: int, db: SessionDep, login: ApproveLogin, form: FormDep) -> Response:
    try:
        entry = entries.approve(db, entry_id=entry_id, actor=login.principal)
    except ApiError as exc:
        return _back("没有审核：" + exc.message.split(" / ")[0])
    return _back(f"已审核通过第{entry.version}版，智能助手从现在起用它回答，并注明出处。")


@router.post("/entries/{entry_id}/retire")
def retire(entry_id: int, db: SessionDep, login: ApproveLogin, form: FormDep) -> Response:
    try:
        entries.retire(db, entry_id=entry_id, actor=login.principal)
    except ApiError as exc:
        return _back("没有停用：" + exc.message.split(" / ")[0])
    return _back("已停用这条答复，智能助手不再使用它。")


# --- policy documents staff add --------------------------------------------------------------------

MAX_DOCUMENT_BYTES = 2_000_000
PREVIEW_SENTENCES = 300
_PENDING_NAME = re.compile(r"^[0-9a-f]{16}\.(txt|html|htm)$")


def _kb_dir() -> Path:
    return default_data_dir()


def _pending_dir() -> Path:
    return _kb_dir() / "pending"


def _decode(raw: bytes) -> str | None:
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _documents_page(request: Request, login: sessions.ConsoleLogin, status_code: int = 200, **extra: Any) -> Response:
    added = uploads_dir(_kb_dir())
    docs = load_corpus(added) if added.is_dir() else []
    ctx: dict[str, Any] = {
        "title": "政策文件 - 知识库 - 工作台",
        "documents": [{"name": d.doc_id, "title": d.title, "sentences": len(d.sentences)} for d in docs],
        "may_add": access.may(login.principal, "knowledge.approve"),
        "notice": read_notice(request),
        "errors": {},
        "preview": None,
        **extra,
    }
    return render(request, "staff/knowledge_documents.html", ctx, login=login, status_code=status_code)


@router.get("/documents")
def documents(request: Request, login: WriteLogin) -> Response:
    return _documents_page(request, login)


@router.post("/documents/preview")
async def preview(request: Request, login: WriteLogin, form: FormDep) -> Response:
    """Show how an uploaded document splits into titled sections and sentences before anyone adds it."""
    upload = form.get("document")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _documents_page(request, login, 400, errors={"document": "请选择要上传的文件。"})
    suffix = Path(upload.filename).suffix.lower()
    raw = await upload.read(MAX_DOCUMENT_BYTES + 1)
    text = _decode(raw) if suffix in DOC_SUFFIXES and len(raw) <= MAX_DOCUMENT_BYTES else None
    if text is None:
        message = "只能上传不超过2MB的文本文件（.txt）或保存的网页（.html），文字要是UTF-8或GBK编码。"
        return _documents_page(request, login, 400, errors={"document": message})
    name = hashlib.sha256(raw).hexdigest()[:16] + suffix
    doc = parse_document(name, text)
    if not doc.sentences:
        return _documents_page(request, login, 400, errors={"document": "这个文件里没有读出政策条文，请检查文件内容。"})
    await run_in_threadpool(_save_pending, name, raw)
    return _documents_page(request, login, preview=doc, pending=name, limit=PREVIEW_SENTENCES)


def _save_pending(name: str, raw: bytes) -> None:
    _pending_dir().mkdir(parents=True, exist_ok=True)
    (_pending_dir() / name).write_bytes(raw)


@router.post("/documents/add")
async def add_document(login: ApproveLogin, form: FormDep) -> Response:
    """A supervisor adds a previewed document; the index is rebuilt and answers from it at once."""
    name = form_text(form, "pending", 40)
    source = _pending_dir() / name
    if not _PENDING_NAME.fullmatch(name) or not source.is_file():
        return _back("没有找到要加入的文件，请重新上传。", "/staff/knowledge/documents")
    target = uploads_dir(_kb_dir())
    target.mkdir(parents=True, exist_ok=True)
    source.replace(target / name)
    index = await run_in_threadpool(build_index)
    count = sum(1 for s in index.sentences if s.doc_id == name)
    with new_session() as db:
        audit.record(db, actor=login.principal, action="knowledge.document", target_type="document", target_id=name)
        db.commit()
    return _back(f"已加入知识库，共{count}句；智能助手现在就能引用它。", "/staff/knowledge/documents")
