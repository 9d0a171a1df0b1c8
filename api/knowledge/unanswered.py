"""Questions the documents could not answer, kept for staff to improve the corpus and FAQs.

An append-only JSON Lines file under the knowledge data folder: simple to back up
and to read from the staff console. Long digit runs (phone, ID numbers) are masked
before writing, since a question is not the place to keep a caller's identity.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.settings import get_settings

FILE_NAME = "unanswered.jsonl"
_lock = threading.Lock()
_LONG_NUMBER = re.compile(r"\d{6,}[\dXx]*")


def _path(data_dir: Path | None) -> Path:
    return (data_dir or get_settings().data_dir / "kb") / FILE_NAME


def record_unanswered(question: str, channel: str, score: float, *, data_dir: Path | None = None) -> dict[str, Any]:
    """Append one unanswered or low-confidence question; returns the record written."""
    record = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "question": _LONG_NUMBER.sub(lambda m: "*" * len(m.group(0)), question.strip())[:2000],
        "channel": channel,
        "score": round(float(score), 4),
    }
    path = _path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with _lock, path.open("a", encoding="utf-8") as fh:
        fh.write(line)
    return record


def list_unanswered(*, data_dir: Path | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Recorded questions, newest first; unreadable lines (a torn write) are skipped."""
    path = _path(data_dir)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    records.reverse()
    return records[:limit] if limit is not None else records
