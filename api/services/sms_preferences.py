"""Per-number SMS preferences: 退订 (no more texts) and easy-read, kept by the number's salted key.

Every module that sends a text asks `is_unsubscribed` first (the SMS channel, staff replies,
follow-ups, the phone line's "9"), so one 退订 stops them all. A JSON file under data_dir
for now; one process writes it at a time (`SmsState` holds the lock).
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

from api.services import grievance_log
from api.settings import Settings


def normalize_phone(raw: str) -> str:
    digits = re.sub(r"[^\d+]", "", raw or "")
    return digits


class SmsState:
    """Unsubscribed and easy-read numbers (a JSON file under data_dir) and pending 更多 text (memory)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.more: dict[str, str] = {}

    def _read(self) -> dict[str, list[str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {"unsubscribed": [], "easy": []}
        return {k: list(data.get(k, [])) for k in ("unsubscribed", "easy")}

    def _write(self, data: dict[str, list[str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(self.path)

    def has(self, kind: str, key: str) -> bool:
        return key in self._read()[kind]

    def set(self, kind: str, key: str, on: bool) -> None:
        with self._lock:
            data = self._read()
            values = set(data[kind])
            values = values | {key} if on else values - {key}
            data[kind] = sorted(values)
            self._write(data)


def is_unsubscribed(settings: Settings, phone: str) -> bool:
    """For any module that sends SMS (voice "9", notifications): respect 退订."""
    key = grievance_log.caller_key(normalize_phone(phone), salt=settings.effective_caller_salt)
    return SmsState(settings.data_dir / "sms_state.json").has("unsubscribed", key)
