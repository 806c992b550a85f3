"""Rasa's SQL tracker store, made private.

- Every event is masked (xieshang.privacy) before it is written: phone, ID, bank card numbers and
  e-mail addresses never reach the database.
- "删除我的数据": when the action server runs ``action_delete_my_data``, the next save deletes every
  stored event of that sender instead of appending (SQLTrackerStore has no delete of its own).
- Conversations idle for longer than ``retention_days`` (default 30, env XIESHANG_RETENTION_DAYS)
  are purged at start-up and then about once an hour.
- Recently saved conversations are kept in memory (``TrackerCache``): reading a conversation back
  from SQL and replaying its events took a quarter of the server's time per message (cProfile,
  docs/performance.md). A kept tracker is used only while the database holds exactly what was saved
  (the newest event id is checked on every read, so several Sanic workers or replicas stay
  correct), and only if nothing in it needed masking (so it equals what a read from the database
  would give). It is handed out once: a caller that does not save it back leaves nothing behind.
  At most ``XIESHANG_TRACKER_CACHE`` conversations (default 256, the ones being talked in now) are
  kept: a long conversation holds a few hundred kB. A tracker handed out from the cache also
  remembers how many of its events are stored, so saving it needs no count query (Rasa's
  ``_additional_events``); the conversation's ticket lock keeps other writers out in between.
- On SQLite, connections are pooled and the database runs in WAL mode with ``synchronous=NORMAL``
  (cProfile: a new connection per query and an fsync per commit were a quarter of a turn). A crash
  of the process loses nothing; a power cut can lose the last turns (docs/performance.md).
- Sender ids are stored pseudonymised: ``stored_sender_id`` is a keyed hash (HMAC-SHA256) of the id
  a channel gives (a WeChat openid, a web chat session, or whatever a REST client sends — possibly a
  phone number). The key comes from ``XIESHANG_SENDER_KEY`` or is made once in
  ``$XIESHANG_VAR/sender-key`` (mode 600; replicas on one machine share it, several machines must
  share the variable). Rows written in clear by an older version are converted at start-up.
"""
from __future__ import annotations

import json
import logging
import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Text, Tuple

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from xieshang.privacy import STORED_FORM, STORED_PREFIX, mask_data, sender_key, stored_sender_id  # noqa: F401 (re-exported)

logger = logging.getLogger(__name__)
DELETE_ACTION = "action_delete_my_data"
def deletion_requested(tracker: DialogueStateTracker) -> bool:
    """True when the delete action ran after the latest user message."""
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecuted) and event.action_name == DELETE_ACTION:
            return True
        if isinstance(event, UserUttered):
            return False
    return False


class StoredKeys(list):
    def __init__(self, keys: Iterable[Text], to_stored: Callable[[Text], Text]) -> None:
        super().__init__(keys)
        self._set = set(self)
        self._to_stored = to_stored

    def __contains__(self, sender_id: object) -> bool:
        return isinstance(sender_id, str) and (sender_id in self._set or self._to_stored(sender_id) in self._set)


class TrackerCache:
    """Trackers by sender with the id of the newest stored event; least recently saved dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: "OrderedDict[Text, Tuple[DialogueStateTracker, int]]" = OrderedDict()

    def put(self, sender_id: Text, tracker: DialogueStateTracker, last_id: int) -> None:
        if self.size <= 0:
            return
        self._items[sender_id] = (tracker, last_id)
        self._items.move_to_end(sender_id)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def take(self, sender_id: Text) -> Optional[Tuple[DialogueStateTracker, int]]:
        return self._items.pop(sender_id, None)

    def drop(self, sender_id: Optional[Text] = None) -> None:
        if sender_id is None:
            self._items.clear()
        else:
            self._items.pop(sender_id, None)

    def __len__(self) -> int:
        return len(self._items)


def same_as_stored_session(tracker: DialogueStateTracker) -> bool:
    """True if the tracker holds what ``retrieve`` would read back: at most one conversation session,
    and nothing before its ``SessionStarted`` (Rasa reads from that event on, and counts from it
    which events of a tracker are new when saving)."""
    starts = [i for i, e in enumerate(tracker.events) if isinstance(e, SessionStarted)]
    return not starts or starts == [0]


class PrivateSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, retention_days: Optional[float] = None, cache_size: Optional[int] = None,
                 var: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        days = retention_days if retention_days is not None else os.environ.get("XIESHANG_RETENTION_DAYS", 30)
        self.retention_seconds = float(days) * 86400
        self._last_purge = 0.0
        size = cache_size if cache_size is not None else os.environ.get("XIESHANG_TRACKER_CACHE", 256)
        self.cache = TrackerCache(int(size))
        self.cache_hits = 0
        # sender -> (stored events, newest stored id, tracker) of a tracker handed out from the cache
        self._handed_out: "OrderedDict[Text, Tuple[int, int, DialogueStateTracker]]" = OrderedDict()
        self._sender_key = sender_key(Path(var) if var else None)
        self._tune_sqlite()
        self.pseudonymise_old_rows()
        self.purge_expired()

    def _tune_sqlite(self) -> None:
        """Pooled connections and WAL for the embedded SQLite database (Rasa uses SQLAlchemy 1.4's
        default for files: a new connection for every session, and the rollback journal)."""
        import sqlalchemy as sa

        if self.engine.dialect.name != "sqlite" or self.engine.url.database in (None, "", ":memory:"):
            return
        self.engine.dispose()
        self.engine = sa.create_engine(self.engine.url, poolclass=sa.pool.QueuePool, pool_size=2,
                                       max_overflow=8, connect_args={"check_same_thread": False})

        @sa.event.listens_for(self.engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    def stored_id(self, sender_id: Text) -> Text:
        return stored_sender_id(sender_id, self._sender_key)

    def pseudonymise_old_rows(self) -> int:
        """Replace sender ids written in clear (before this version) by their stored form."""
        with self.session_scope() as session:
            clear = [row[0] for row in session.query(self.SQLEvent.sender_id).distinct()
                     if not row[0].startswith(STORED_PREFIX)]
            for sender in clear:
                session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender).update(
                    {self.SQLEvent.sender_id: self.stored_id(sender)}, synchronize_session=False)
            session.commit()
        if clear:
            logger.info("pseudonymised the sender ids of %d stored conversations", len(clear))
        return len(clear)

    async def keys(self) -> Iterable[Text]:
        """The stored (pseudonymised) ids; ``sender_id in keys()`` also works with the id in clear, as
        Rasa's HTTP API checks a conversation's existence that way."""
        return StoredKeys(await super().keys(), self.stored_id)

    async def exists(self, conversation_id: Text) -> bool:
        with self.session_scope() as session:
            return self._newest_id(session, conversation_id) is not None

    def _event_query(self, session: Any, sender_id: Text, fetch_events_from_all_sessions: bool) -> Any:
        return super()._event_query(session, self.stored_id(sender_id), fetch_events_from_all_sessions)

    def _newest_id(self, session: Any, sender_id: Text) -> Optional[int]:
        """The id of the conversation's newest stored event (None: nothing stored). Checked on every
        cached read, so it is a prepared SQL core statement: 20 µs, where the ORM query took 150."""
        stmt = self.__dict__.get("_newest_stmt")
        if stmt is None:
            import sqlalchemy as sa

            table = self.SQLEvent.__table__
            stmt = self._newest_stmt = (sa.select(sa.func.max(table.c.id))
                                        .where(table.c.sender_id == sa.bindparam("sender")))
        return session.execute(stmt, {"sender": self.stored_id(sender_id)}).scalar()

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        self._handed_out.pop(sender_id, None)
        kept = self.cache.take(sender_id)
        if kept is not None:
            tracker, last_id = kept
            with self.session_scope() as session:
                if self._newest_id(session, sender_id) == last_id:
                    self.cache_hits += 1
                    self._handed_out[sender_id] = (len(tracker.events), last_id, tracker)
                    while len(self._handed_out) > max(self.cache.size, 1):  # read but never saved back
                        self._handed_out.popitem(last=False)
                    return tracker
        return await super().retrieve(sender_id)

    def _new_events(self, session: Any, tracker: DialogueStateTracker) -> Tuple[list, Optional[int]]:
        """The events of ``tracker`` not stored yet, and the newest stored id if known without a query."""
        handed = self._handed_out.pop(tracker.sender_id, None)
        if handed is not None and handed[2] is tracker and len(tracker.events) >= handed[0]:
            return list(tracker.events)[handed[0]:], handed[1]
        return list(self._additional_events(session, tracker)), None

    async def save(self, tracker: DialogueStateTracker) -> None:
        if deletion_requested(tracker):
            self.delete(tracker.sender_id)
            return
        self.cache.drop(tracker.sender_id)
        exact = True  # what is stored equals the tracker in memory
        with self.session_scope() as session:
            events, last_id = self._new_events(session, tracker)
            rows = []
            stored_sender = self.stored_id(tracker.sender_id)
            for event in events:
                original = event.as_dict()
                data = mask_data(original)
                exact = exact and data == original
                rows.append(dict(
                    sender_id=stored_sender,
                    type_name=event.type_name,
                    timestamp=data.get("timestamp"),
                    intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                    action_name=data.get("name"),
                    data=json.dumps(data),
                ))
            # one SQL core executemany, not ORM objects: the ORM's unit of work was 2 ms a turn
            # (cProfile); one core insert per event was another 10% of a save. The newest id is read
            # back in the same transaction: the conversation's ticket lock means nobody else writes.
            if rows:
                session.execute(self.SQLEvent.__table__.insert(), rows)
                last_id = self._newest_id(session, tracker.sender_id)
            session.commit()
            if exact and same_as_stored_session(tracker):
                if last_id is None:
                    last_id = self._newest_id(session, tracker.sender_id)
                if last_id is not None:
                    self.cache.put(tracker.sender_id, tracker, last_id)
        if time.time() - self._last_purge > 3600:
            self.purge_expired()

    def delete(self, sender_id: Text) -> int:
        self.cache.drop(sender_id)
        self._handed_out.pop(sender_id, None)
        with self.session_scope() as session:
            n = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == self.stored_id(sender_id)).delete()
            session.commit()
        logger.info("deleted a conversation on the user's request (%d events)", n)
        return n

    def purge_expired(self, now: Optional[float] = None) -> int:
        """Delete every conversation whose newest event is older than the retention period."""
        import sqlalchemy as sa

        self._last_purge = time.time()
        if hasattr(self, "cache"):
            self.cache.drop()
            self._handed_out.clear()
        if self.retention_seconds <= 0:
            return 0
        cutoff = (now or time.time()) - self.retention_seconds
        with self.session_scope() as session:
            stale = (
                session.query(self.SQLEvent.sender_id)
                .group_by(self.SQLEvent.sender_id)
                .having(sa.func.max(self.SQLEvent.timestamp) < cutoff)
                .all()
            )
            senders = [row[0] for row in stale]
            n = 0
            if senders:
                n = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id.in_(senders)).delete(synchronize_session=False)
            session.commit()
        if n:
            logger.info("purged %d conversations older than the retention period", len(senders))
        return n
