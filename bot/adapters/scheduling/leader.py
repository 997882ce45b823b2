"""Exactly one replica runs the scheduler and the sweep.

PostgreSQL: a session-level advisory lock held on a dedicated connection. If the leader dies,
its connection closes, the lock is released, and another replica takes it at its next tick.
The lock is per schema (advisory locks are per database): two deployments that keep their
tables in different schemas of one database each have their own scheduler.
SQLite is a single-process database, so its one process always leads.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

#: Arbitrary but fixed: "eksa" as a 32-bit integer; the lock's second key is the schema's hash.
LOCK_KEY = 0x656B7361
_TRY_LOCK = text("SELECT pg_try_advisory_lock(:k, hashtext(current_schema()))")
_UNLOCK = text("SELECT pg_advisory_unlock(:k, hashtext(current_schema()))")


class AlwaysLeader:
    def is_leader(self) -> bool:
        return True

    def release(self) -> None:
        pass


class AdvisoryLockLeader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def is_leader(self) -> bool:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute(text("SELECT 1"))
                    return True
                except Exception:
                    log.warning("lost the scheduler lock's connection")
                    self._drop()
            try:
                conn = self.engine.connect()
                got = conn.execute(_TRY_LOCK, {"k": LOCK_KEY}).scalar()
                conn.commit()
            except Exception as e:
                log.warning("cannot reach the database for the scheduler lock: %s", e)
                return False
            if got:
                log.info("this replica now runs the scheduler")
                self._conn = conn
                return True
            conn.close()
            return False

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.invalidate()
            self._conn = None

    def release(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(Exception):  # closing the session frees it anyway
                    self._conn.execute(_UNLOCK, {"k": LOCK_KEY})
                    self._conn.close()
                self._conn = None


def leader_for(engine: Engine) -> AlwaysLeader | AdvisoryLockLeader:
    return AdvisoryLockLeader(engine) if engine.dialect.name == "postgresql" else AlwaysLeader()
