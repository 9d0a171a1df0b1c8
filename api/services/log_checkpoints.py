"""Signed checkpoints of the grievance log's head, kept outside the database.

The keyed hashes stop anyone without the log key from re-hashing a rewritten record,
but deleting the newest records and moving the head back needs no key. So, every few
minutes while the log grows, on every export of the log and on `hotline log checkpoint`,
the head (record number and hash) is signed with the log key and appended to a file
outside the database. Point `HOTLINE_LOG_CHECKPOINT_DIR` at storage the database owner
cannot rewrite (another host's mount, an append-only directory). Each line also carries
the signature of the line before it, so a line taken out of the middle is detected too.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import hmac
import json
import logging
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select
from starlette.concurrency import run_in_threadpool

from api.models.grievance import GrievanceRecord, LogHead
from api.settings import get_settings

log = logging.getLogger(__name__)

FILE_NAME = "checkpoints.jsonl"


@dataclass(frozen=True)
class LogKey:
    secret: bytes
    key_id: str


@lru_cache(maxsize=4)
def _key(raw: str) -> LogKey:
    fingerprint = hashlib.sha256(b"hotline-log-key\x00" + raw.encode()).hexdigest()[:16]
    return LogKey(secret=raw.encode(), key_id=fingerprint)


def current_key() -> LogKey:
    """The configured log key (read when first needed, never at import)."""
    return _key(get_settings().effective_log_key)


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    head_hash: str
    written_at: str
    key_id: str
    reason: str
    legacy: bool
    prev_signature: str
    signature: str = ""

    def signed_part(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("signature")
        return data


def _sign(key: LogKey, data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    return hmac.new(key.secret, b"checkpoint\x00" + canonical, hashlib.sha256).hexdigest()


def checkpoint_file(directory: Path | None = None) -> Path:
    return (directory or get_settings().effective_checkpoint_dir) / FILE_NAME


def read(*, key: LogKey, directory: Path | None = None) -> tuple[list[Checkpoint], list[str]]:
    """Every checkpoint whose signature holds, and a description of every line that does not."""
    path = checkpoint_file(directory)
    if not path.exists():
        return [], []
    valid: list[Checkpoint] = []
    problems: list[str] = []
    previous = ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            checkpoint = Checkpoint(**json.loads(line))
        except (ValueError, TypeError):
            problems.append(f"checkpoint file line {number} is not a checkpoint")
            continue
        if checkpoint.key_id != key.key_id or not hmac.compare_digest(
            checkpoint.signature, _sign(key, checkpoint.signed_part())
        ):
            problems.append(f"checkpoint file line {number} (record {checkpoint.seq}): signature does not match")
            continue
        if checkpoint.prev_signature != previous:
            problems.append(f"checkpoint file line {number}: the checkpoint before it was removed or altered")
        previous = checkpoint.signature
        valid.append(checkpoint)
    return valid, problems


def write(
    session: Session, *, reason: str, key: LogKey | None = None, directory: Path | None = None
) -> Checkpoint | None:
    """Append a signed checkpoint of the current head, unless the newest one already covers it.

    The file is locked while its last line is read and the new one appended, so several
    processes writing checkpoints at once keep one unbroken sequence.
    """
    key = key or current_key()
    head = session.get(LogHead, 1)
    session.rollback()
    if head is None or head.last_seq == 0:
        return None
    return _append(key, seq=head.last_seq, head_hash=head.last_hash, reason=reason, legacy=False, directory=directory)


def anchor_legacy(session: Session, *, key: LogKey | None = None, directory: Path | None = None) -> Checkpoint | None:
    """Sign the newest record written before the log key existed, so unkeyed records stay tamper-evident."""
    key = key or current_key()
    last = session.exec(select(func.max(GrievanceRecord.id)).where(col(GrievanceRecord.key_id) == "")).one()
    if not last:
        session.rollback()
        return None
    rec = session.get(GrievanceRecord, last)
    session.rollback()
    assert rec is not None
    existing, _ = read(key=key, directory=directory)
    if any(c.legacy and c.seq >= rec.id for c in existing):
        return None
    return _append(key, seq=rec.id, head_hash=rec.record_hash, reason="legacy", legacy=True, directory=directory)


def _append(
    key: LogKey, *, seq: int, head_hash: str, reason: str, legacy: bool, directory: Path | None
) -> Checkpoint | None:
    path = checkpoint_file(directory)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "r+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        lines = [line for line in fh.read().splitlines() if line.strip()]
        previous = ""
        if lines:
            try:
                last = json.loads(lines[-1])
                previous = str(last.get("signature", ""))
                if int(last.get("seq", -1)) == seq and last.get("head_hash") == head_hash and not legacy:
                    return None
            except (ValueError, TypeError, AttributeError):
                pass  # a damaged last line is reported by `read`; the chain of signatures continues after it
        unsigned = Checkpoint(
            seq=seq,
            head_hash=head_hash,
            written_at=datetime.now(UTC).isoformat(timespec="seconds"),
            key_id=key.key_id,
            reason=reason,
            legacy=legacy,
            prev_signature=previous,
        )
        checkpoint = Checkpoint(**{**unsigned.signed_part(), "signature": _sign(key, unsigned.signed_part())})
        fh.write(json.dumps(asdict(checkpoint), ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return checkpoint


async def keep_writing(engine: Engine, *, every_seconds: float) -> None:
    """The app's periodic checkpoint: bounds how many newest records could vanish unnoticed."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await run_in_threadpool(_write_with_engine, engine)
        except Exception:  # a full disk must not stop the app; the next round tries again
            log.exception("could not write a grievance-log checkpoint")


def _write_with_engine(engine: Engine) -> None:
    with Session(engine) as session:
        write(session, reason="periodic")
