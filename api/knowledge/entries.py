"""Answer entries staff write and supervisors approve: their lifecycle and how a question finds one.

The documents answer what they say; an office also needs answers to what people actually
ask ("残疾人证怎么办理"), resting on a named source. Staff write an entry from the list of
unanswered questions, a supervisor approves it, and from then until it expires the assistant
gives it, always with its source. A change makes a new version that waits for approval while
the approved one keeps answering; approving it retires the one before.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from api.clock import CHINA_TZ
from api.db import begin_write, get_engine, new_session
from api.knowledge import tokens
from api.models.knowledge import EntryStatus, KnowledgeEntry, KnowledgeEntryCreate
from api.services import audit
from api.services.audit import Principal
from api.services.grievance_log import utcnow
from api.services.problems import problem

# Both the citizen's question and the entry's question form must be covered this much by the
# other (character pairs of their content words): a near miss falls through to the documents,
# which is safer than a confident answer to a different question.
MATCH_MIN = 0.75
_GAP = re.compile(r"[\s\W]+")
# Every question the assistant answers asks for entries first, so the approved forms are kept in
# memory with their pairs worked out. Approving or retiring here refreshes them at once; another
# app instance's change is seen within this many seconds.
SNAPSHOT_SECONDS = 30.0


def _pairs(text: str) -> set[str]:
    content = tokens.strip_fillers(tokens.normalize(text))
    found: set[str] = set()
    for run in _GAP.split(content):
        found.update(run[i : i + 2] for i in range(len(run) - 1))
        if len(run) == 1:
            found.add(run)
    return found


def similarity(question: str, form: str) -> float:
    """The smaller of the two coverages, 0-1."""
    return _coverage(_pairs(question), _pairs(form))


def _coverage(asked: set[str] | frozenset[str], written: set[str] | frozenset[str]) -> float:
    if not asked or not written:
        return 0.0
    shared = len(asked & written)
    return min(shared / len(asked), shared / len(written))


@dataclass(frozen=True)
class Match:
    entry: KnowledgeEntry
    form: str
    score: float


def today() -> date:
    return datetime.now(CHINA_TZ).date()


def in_force(session: Session, *, on: date | None = None) -> list[KnowledgeEntry]:
    """Approved entries that have not expired."""
    on = on or today()
    rows = session.exec(select(KnowledgeEntry).where(KnowledgeEntry.status == EntryStatus.approved)).all()
    return [e for e in rows if e.expires_on is None or e.expires_on >= on]


@dataclass(frozen=True)
class _Snapshot:
    key: tuple[int, date]
    taken: float
    forms: tuple[tuple[KnowledgeEntry, str, frozenset[str]], ...]


_snapshot: _Snapshot | None = None
_snapshot_lock = threading.Lock()


def forget_snapshot() -> None:
    """The next question reads the entries again (after an approval or retirement here)."""
    global _snapshot
    _snapshot = None


def _forms_in_force() -> tuple[tuple[KnowledgeEntry, str, frozenset[str]], ...]:
    global _snapshot
    key = (id(get_engine()), today())
    current = _snapshot
    if current is not None and current.key == key and time.monotonic() - current.taken < SNAPSHOT_SECONDS:
        return current.forms
    with _snapshot_lock, new_session() as session:
        rows = in_force(session)
        session.expunge_all()
    forms = tuple((entry, form, frozenset(_pairs(form))) for entry in rows for form in entry.question_list())
    _snapshot = _Snapshot(key, time.monotonic(), forms)
    return forms


def find(question: str, *, session: Session | None = None) -> Match | None:
    """The approved entry whose question form is closest to `question`, if close enough.

    Without a session the in-memory snapshot answers; with one, the entries are read in it.
    """
    if session is None:
        forms = _forms_in_force()
    else:
        forms = tuple((e, form, frozenset(_pairs(form))) for e in in_force(session) for form in e.question_list())
    asked = _pairs(question)
    best: Match | None = None
    for entry, form, written in forms:
        score = _coverage(asked, written)
        if score >= MATCH_MIN and (best is None or score > best.score):
            best = Match(entry, form, score)
    return best


def get(session: Session, *, entry_id: int) -> KnowledgeEntry:
    entry = session.get(KnowledgeEntry, entry_id)
    if entry is None:
        raise problem(404, "entry_not_found")
    return entry


def list_entries(session: Session) -> list[KnowledgeEntry]:
    """Every version that is not retired, newest first."""
    query = (
        select(KnowledgeEntry)
        .where(KnowledgeEntry.status != EntryStatus.retired)
        .order_by(col(KnowledgeEntry.id).desc())
    )
    return list(session.exec(query).all())


def create(
    session: Session, *, data: KnowledgeEntryCreate, actor: Principal, revises: int | None = None
) -> KnowledgeEntry:
    """A draft; with `revises`, the next version of that entry (the approved one keeps answering)."""
    begin_write(session)
    key, version = None, 1
    if revises is not None:
        previous = get(session, entry_id=revises)
        key = previous.entry_key or previous.id
        version = 1 + max(
            e.version for e in session.exec(select(KnowledgeEntry).where(KnowledgeEntry.entry_key == key)).all()
        )
    entry = KnowledgeEntry(
        **data.model_dump(), entry_key=key, version=version, created_by=actor.username, created_at=utcnow()
    )
    session.add(entry)
    session.flush()
    if entry.entry_key is None:
        entry.entry_key = entry.id
    audit.record(
        session,
        actor=actor,
        action="knowledge.draft",
        target_type="knowledge_entry",
        target_id=str(entry.entry_key),
        detail={"version": entry.version, "source": entry.citation()},
    )
    session.commit()
    return entry


def approve(session: Session, *, entry_id: int, actor: Principal) -> KnowledgeEntry:
    """A supervisor's approval: the entry answers from now on; its earlier approved version retires.

    Nobody approves their own entry: a second person reads every answer before citizens do.
    """
    begin_write(session)
    entry = get(session, entry_id=entry_id)
    if entry.status != EntryStatus.draft:
        raise problem(409, "entry_not_draft")
    if entry.created_by == actor.username:
        raise problem(403, "entry_own_approval")
    for older in session.exec(
        select(KnowledgeEntry).where(
            KnowledgeEntry.entry_key == entry.entry_key, KnowledgeEntry.status == EntryStatus.approved
        )
    ).all():
        older.status = EntryStatus.retired
        session.add(older)
    entry.status = EntryStatus.approved
    entry.approved_by = actor.username
    entry.approved_at = utcnow()
    session.add(entry)
    _audit(session, actor, "knowledge.approve", entry)
    session.commit()
    forget_snapshot()
    return entry


def _audit(session: Session, actor: Principal, action: str, entry: KnowledgeEntry) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        target_type="knowledge_entry",
        target_id=str(entry.entry_key),
        detail={"version": entry.version},
    )


def retire(session: Session, *, entry_id: int, actor: Principal) -> KnowledgeEntry:
    begin_write(session)
    entry = get(session, entry_id=entry_id)
    entry.status = EntryStatus.retired
    session.add(entry)
    _audit(session, actor, "knowledge.retire", entry)
    session.commit()
    forget_snapshot()
    return entry
