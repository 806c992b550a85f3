"""Rasa's SQL tracker store, made private.

- Every event is masked (xieshang.privacy) before it is written: phone, ID, bank card numbers and
  e-mail addresses never reach the database.
- "删除我的数据": when the action server runs ``action_delete_my_data``, the next save deletes every
  stored event of that sender instead of appending (SQLTrackerStore has no delete of its own).
- Conversations idle for longer than ``retention_days`` (default 30, env XIESHANG_RETENTION_DAYS)
  are purged at start-up and then about once an hour.
"""
from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Optional, Text

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from xieshang.privacy import mask_data

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


class PrivateSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, retention_days: Optional[float] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        days = retention_days if retention_days is not None else os.environ.get("XIESHANG_RETENTION_DAYS", 30)
        self.retention_seconds = float(days) * 86400
        self._last_purge = 0.0
        self.purge_expired()

    async def save(self, tracker: DialogueStateTracker) -> None:
        if deletion_requested(tracker):
            self.delete(tracker.sender_id)
            return
        with self.session_scope() as session:
            for event in self._additional_events(session, tracker):
                data = mask_data(event.as_dict())
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()
        if time.time() - self._last_purge > 3600:
            self.purge_expired()

    def delete(self, sender_id: Text) -> int:
        with self.session_scope() as session:
            n = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id).delete()
            session.commit()
        logger.info("deleted a conversation on the user's request (%d events)", n)
        return n

    def purge_expired(self, now: Optional[float] = None) -> int:
        """Delete every conversation whose newest event is older than the retention period."""
        import sqlalchemy as sa

        self._last_purge = time.time()
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
