"""Rasa's SQL tracker store, tuned for the hotline: every conversation stays on disk, but a turn
no longer reloads and replays the whole conversation, nor waits for fsyncs in the event loop.

- The tracker a turn saved is kept in memory and handed to the conversation's next turn,
  if the database still ends with the event this process wrote last (one indexed query);
  otherwise, e.g. when another Rasa instance answered in between, it is read from the
  database as before. Each kept tracker is handed out once: Rasa changes the tracker it
  gets, and a turn that fails before saving must not leave its half-done state behind.
  Saving a tracker handed out this way writes the events after the ones known to be
  stored, without counting the stored ones again.
- SQLite runs in WAL mode with `synchronous=NORMAL` and pooled connections: a committed
  turn survives a crash or restart of Rasa (what DESIGN.md asks); only a power loss can
  drop the turns since the last checkpoint, and those are in the app's grievance log too.
- Every save hands a summary of the tracker to `hotline_nlu.channel`, so the gateway's
  webhook answers with the turn's intent and slots without reading the conversation back.
"""

from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import event
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from hotline_nlu.channel import note_saved

KEPT_TRACKERS = 2000


class HotlineTrackerStore(SQLTrackerStore):
    """SQLTrackerStore plus a checked hand-over of the last saved tracker and SQLite tuning."""

    def __init__(self, *args: Any, kept_trackers: int = KEPT_TRACKERS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # sender -> (id of its last stored event, tracker, number of its events stored)
        self._kept: OrderedDict[str, tuple[int, DialogueStateTracker, int]] = OrderedDict()
        # sender -> (tracker handed out from `_kept`, number of its events stored)
        self._handed: dict[str, tuple[DialogueStateTracker, int]] = {}
        self._kept_max = int(kept_trackers)
        if self.engine.dialect.name == "sqlite":
            url = self.engine.url
            self.engine.dispose()
            # Rasa may reach the store from its executor threads as well as its event loop.
            self.engine = sa.create_engine(
                url, poolclass=QueuePool, pool_size=2, connect_args={"check_same_thread": False}
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
            self.sessionmaker = sessionmaker(bind=self.engine)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        kept = self._kept.pop(sender_id, None)
        self._handed.pop(sender_id, None)
        if kept is not None and kept[0] == self._last_event_id(sender_id):
            if len(self._handed) >= self._kept_max:  # turns that failed before saving
                self._handed.clear()
            self._handed[sender_id] = (kept[1], kept[2])
            return kept[1]
        return await super().retrieve(sender_id)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """SQLTrackerStore.save (Rasa 3.6), which also learns the id of the last row it wrote."""
        self._kept.pop(tracker.sender_id, None)
        handed = self._handed.pop(tracker.sender_id, None)
        await self.stream_events(tracker)
        with self.session_scope() as session:
            new_events: Iterator[Any]
            if handed is not None and handed[0] is tracker:
                new_events = itertools.islice(tracker.events, handed[1], None)
            else:
                new_events = self._additional_events(session, tracker)
            rows = []
            for new_event in new_events:
                data = new_event.as_dict()
                rows.append(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=new_event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.add_all(rows)
            session.flush()
            last_id = rows[-1].id if rows else None
            session.commit()
        note_saved(tracker)
        if self._matches_stored_session(tracker):
            if last_id is None:
                last_id = self._last_event_id(tracker.sender_id)
            self._kept[tracker.sender_id] = (last_id, tracker, len(tracker.events))
            while len(self._kept) > self._kept_max:
                self._kept.popitem(last=False)

    @staticmethod
    def _matches_stored_session(tracker: DialogueStateTracker) -> bool:
        """Would reading the conversation back give these very events?

        The database returns the events from the latest `SessionStarted` on; a tracker that
        started a session in this turn still holds the events before it, so it is not kept.
        """
        return not any(isinstance(e, SessionStarted) for e in itertools.islice(tracker.events, 1, None))

    def _last_event_id(self, sender_id: str) -> int:
        with self.session_scope() as session:
            last = session.query(sa.func.max(self.SQLEvent.id)).filter(self.SQLEvent.sender_id == sender_id).scalar()
        return int(last or 0)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
