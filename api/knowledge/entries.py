"""Answer entries staff write and supervisors approve: their lifecycle and how a question finds one.

The documents answer what they say; an office also needs answers to what people actually
ask ("残疾人证怎么办理"), resting on a named source. Staff write an entry from the list of
unanswered questions, a supervisor approves it, and from then until it expires the assistant
gives it, always with its source. A change makes a new version that waits for approval while
the approved one keeps answering; approving it retires the one before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from api.clock import CHINA_TZ
from api.db import begin_write, new_session
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
    asked, written = _pairs(question), _pairs(form)
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


def find(question: str, *, session: Session | None = None) -> Match | None:
    """The approved entry whose question form is closest to `question`, if close enough."""
    if session is None:
        with new_session() as own:
            found = find(question, session=own)
            own.expunge_all()
            return found
    best: Match | None = None
    for entry in in_force(session):
        for form in entry.question_list():
            score = similarity(question, form)
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
    return entry
