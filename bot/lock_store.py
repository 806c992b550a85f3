"""A lock store on SQLite, so the embedded default can run several Sanic workers.

Rasa serialises the messages of one conversation with ticket locks. Its in-memory lock store lives
in one process, so Rasa refuses ``SANIC_WORKERS`` > 1 with it; the Redis lock store is shared but
needs a Redis server. This store keeps Rasa's own ``TicketLock`` objects in a small SQLite file
next to the conversation store (``XIESHANG_DB`` + ``.locks``), so worker processes on one machine
share them, and Rasa accepts it as a custom lock store (``bot/endpoints.yml``).

Every read-modify-write of a lock (issue a ticket, finish serving, drop expired tickets) runs in one
``BEGIN IMMEDIATE`` transaction, so two workers never hand out the same ticket. Only ticket numbers
and expiry times are stored; conversation ids are stored as a salted hash (the salt is made once
and kept beside the file). The scale-out profile (several machines) uses Rasa's Redis lock store.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Text

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore

logger = logging.getLogger(__name__)


def default_path() -> Path:
    db = os.environ.get("XIESHANG_DB") or str(Path(__file__).resolve().parent.parent / "var" / "xieshang.db")
    return Path(db + ".locks")


class SQLiteLockStore(LockStore):
    def __init__(self, endpoint_config: Any = None, db: Optional[str] = None) -> None:
        kwargs = getattr(endpoint_config, "kwargs", None) or {}
        self.path = Path(db or kwargs.get("db") or default_path())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS locks (id TEXT PRIMARY KEY, data TEXT NOT NULL)")
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('salt', ?)", (secrets.token_hex(16),))
            self._salt = conn.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()[0]
        super().__init__()

    # ----------------------------------------------------------------------------- storage
    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(str(self.path), timeout=10, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # locks are short-lived: a power cut only drops them
            self._local.conn = conn
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _key(self, conversation_id: Text) -> str:
        return hashlib.sha256((self._salt + conversation_id).encode("utf-8", "replace")).hexdigest()[:32]

    def _read(self, conn: sqlite3.Connection, conversation_id: Text) -> Optional[TicketLock]:
        row = conn.execute("SELECT data FROM locks WHERE id = ?", (self._key(conversation_id),)).fetchone()
        if row is None:
            return None
        lock = TicketLock.from_dict(json.loads(row[0]))
        lock.conversation_id = conversation_id
        return lock

    def _write(self, conn: sqlite3.Connection, lock: TicketLock) -> None:
        conn.execute("INSERT OR REPLACE INTO locks VALUES (?, ?)",
                     (self._key(lock.conversation_id), TicketLock(self._key(lock.conversation_id), lock.tickets).dumps()))

    def _modify(self, conversation_id: Text, change: Callable[[TicketLock], Any], create: bool = False) -> Any:
        with self._transaction() as conn:
            lock = self._read(conn, conversation_id)
            if lock is None:
                if not create:
                    return None
                lock = self.create_lock(conversation_id)
            result = change(lock)
            self._write(conn, lock)
            return result

    # ------------------------------------------------------------------------- LockStore API
    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        return self._read(self._connection(), conversation_id)

    def delete_lock(self, conversation_id: Text) -> None:
        self._connection().execute("DELETE FROM locks WHERE id = ?", (self._key(conversation_id),))

    def save_lock(self, lock: TicketLock) -> None:
        with self._transaction() as conn:
            self._write(conn, lock)

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return self._modify(conversation_id, lambda lock: lock.issue_ticket(lock_lifetime), create=True)
        except Exception as e:
            raise LockError(f"Error while acquiring lock. Error:\n{e}")

    def update_lock(self, conversation_id: Text) -> None:
        self._modify(conversation_id, lambda lock: lock.remove_expired_tickets())

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        self._modify(conversation_id, lambda lock: lock.remove_ticket_for(ticket_number))

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Finish serving and drop the lock if nobody else waits, in one transaction."""
        with self._transaction() as conn:
            lock = self._read(conn, conversation_id)
            if lock is None:
                return
            lock.remove_ticket_for(ticket_number)
            if lock.is_someone_waiting():
                self._write(conn, lock)
            else:
                conn.execute("DELETE FROM locks WHERE id = ?", (self._key(conversation_id),))
