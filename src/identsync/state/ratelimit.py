"""The portal's leaky bucket, shared by every process and machine through PostgreSQL.

Why: :class:`identsync.bitrix24.ratelimit.LeakyBucket` paces one process. Under Airflow
every task is its own process, and Celery workers run on several machines, so each task
starts with an empty local bucket: three tasks may each send their 48-request burst at once,
and the portal (capacity 50 on plan "standard") answers 503 QUERY_LIMIT_EXCEEDED.

How: one row per portal in ``identsync_rate_limits`` (in the sync-state database every task
already reaches) holds the level and when it was last updated. Each request is booked by ONE
statement that drains the row by the time elapsed and adds 1, under the row lock and on the
database's clock (``clock_timestamp()``), so workers' clocks never matter and two bookings
cannot interleave. The caller waits ``(level - limit) / drain`` when that is positive: like
the local bucket, reservations of callers still waiting count. A 503 seen by any worker
fills the row, which slows every worker down.

Cost: one round trip on one autocommit connection per bucket object (opened lazily, TCP
keepalives, shared by threads under a lock); see ``python -m bench.limiter_cost``.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from identsync.bitrix24.ratelimit import plan_limits
from identsync.errors import SyncError
from identsync.state.db import lock_session, schema_lock, transaction

__all__ = ["TABLE", "PgLeakyBucket", "RateLimitStateUnavailable", "ensure_schema",
           "portal_key", "shared_pg_bucket", "reset_pg_registry"]

TABLE = "identsync_rate_limits"
APPLICATION_NAME = "identsync-ratelimit"
CONNECT_TIMEOUT_S = 10
# A booking is one indexed row update; far longer means the database is in trouble, and a
# task should fail (Airflow retries it) rather than hang on it.
STATEMENT_TIMEOUT = "10s"

# The drained level at the database's "now", read once, after the row lock is taken.
_DRAINED = ("greatest(0, r.level - greatest(0, extract(epoch FROM c.now - r.updated_at)::float8)"
            " * %(drain)s)")

_RESERVE = f"""
    INSERT INTO {TABLE} AS r (portal, level, updated_at)
    VALUES (%(portal)s, 1, clock_timestamp())
    ON CONFLICT (portal) DO UPDATE SET (level, updated_at) = (
        SELECT {_DRAINED} + 1, c.now FROM (SELECT clock_timestamp() AS now) c)
    RETURNING level"""

_FILL = f"""
    INSERT INTO {TABLE} AS r (portal, level, updated_at)
    VALUES (%(portal)s, %(capacity)s, clock_timestamp())
    ON CONFLICT (portal) DO UPDATE SET (level, updated_at) = (
        SELECT greatest({_DRAINED}, %(capacity)s), c.now
          FROM (SELECT clock_timestamp() AS now) c)
    RETURNING level"""

_LEVEL = f"""
    SELECT {_DRAINED} FROM {TABLE} r, (SELECT clock_timestamp() AS now) c
     WHERE r.portal = %(portal)s"""

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    portal text PRIMARY KEY,
    level double precision NOT NULL,
    updated_at timestamptz NOT NULL
)"""


def ensure_schema(dsn: str) -> None:
    """Create the table (SyncState's first task can do it with the rest of the schema)."""
    with transaction(dsn, APPLICATION_NAME) as cur:
        schema_lock(cur)
        cur.execute(_SCHEMA)


class RateLimitStateUnavailable(SyncError):
    """The shared limiter cannot reach its table: the task fails and Airflow retries it."""


def portal_key(host: str, user_id: str | int) -> str:
    """The row's key: portal host and webhook user (the portal limits per webhook), no token."""
    return f"{host.strip().lower()}/{str(user_id).strip()}"


class PgLeakyBucket:
    """A leaky bucket whose level lives in PostgreSQL; same interface as ``LeakyBucket``.

    :param dsn: the sync-state database (never shown in messages or repr).
    :param portal_key: :func:`portal_key` of the portal and webhook user.
    :param capacity: the portal's X; ``drain_per_second``: its Y.
    :param headroom: slots left unused (network and scheduling jitter between the booking and
        the request reaching the portal).
    :param sleep: injectable for tests.
    """

    def __init__(
        self,
        dsn: str,
        portal_key: str,
        capacity: int,
        drain_per_second: float,
        *,
        headroom: int = 2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if drain_per_second <= 0:
            raise ValueError("drain_per_second must be positive")
        if not 1 <= capacity - headroom:
            raise ValueError("capacity - headroom must be at least 1")
        self.capacity = capacity
        self.drain_per_second = float(drain_per_second)
        self.limit = capacity - headroom
        self.portal = portal_key
        self._dsn = dsn
        self._sleep = sleep
        self._lock = threading.Lock()
        self._conn: psycopg2.extensions.connection | None = None
        self._schema_checked = False
        _live.add(self)

    @classmethod
    def for_plan(cls, plan: str, dsn: str, portal_key: str, **kwargs: Any) -> PgLeakyBucket | None:
        limits = plan_limits(plan)
        if limits is None:
            return None
        return cls(dsn, portal_key, limits.capacity, limits.drain_per_second, **kwargs)

    # -- the bucket ------------------------------------------------------------------------

    def reserve(self) -> float:
        """Book one request; return how long the caller must wait before sending it."""
        level = self._one(_RESERVE, {"portal": self.portal, "drain": self.drain_per_second})
        excess = level - self.limit
        return excess / self.drain_per_second if excess > 0 else 0.0

    def acquire(self) -> float:
        """Wait until one request fits; return the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait

    def fill(self) -> None:
        """The portal said 503: assume its bucket is full, for every worker sharing the row."""
        self._one(_FILL, {"portal": self.portal, "drain": self.drain_per_second,
                          "capacity": float(self.capacity)})

    @property
    def level(self) -> float:
        """Current counter at the database's now, reservations included."""
        return self._one(_LEVEL, {"portal": self.portal, "drain": self.drain_per_second},
                         missing=0.0)

    # -- PostgreSQL ------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        try:
            ensure_schema(self._dsn)
        except psycopg2.Error as exc:
            raise self._unavailable(exc) from None
        self._schema_checked = True

    def close(self) -> None:
        with self._lock:
            self._drop_connection()

    def _one(self, sql: str, args: dict[str, Any], missing: float | None = None) -> float:
        with self._lock:
            reconnected = False
            while True:
                try:
                    row = self._execute(sql, args)
                except psycopg2.errors.UndefinedTable as exc:
                    # A bucket may be the first user of a fresh database (a task that syncs
                    # before any ensure_schema ran): create the table once, then book.
                    if self._schema_checked:
                        raise self._unavailable(exc) from None
                    self.ensure_schema()
                    continue
                except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                    # The server restarted or a middlebox cut an idle connection. Retrying a
                    # booking that did land only books one slot too many: harmless.
                    self._drop_connection()
                    if reconnected:
                        raise self._unavailable(exc) from None
                    reconnected = True
                    continue
                except psycopg2.Error as exc:
                    raise self._unavailable(exc) from None
                if row is None:
                    if missing is None:
                        raise RuntimeError(f"{TABLE}: no row returned")  # pragma: no cover
                    return missing
                return float(row[0])

    def _execute(self, sql: str, args: dict[str, Any]) -> Sequence[Any] | None:
        conn = self._connection()
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchone()

    def _connection(self) -> psycopg2.extensions.connection:
        if self._conn is None or self._conn.closed:
            dsn = self._dsn
            if "connect_timeout" not in psycopg2.extensions.parse_dsn(dsn):
                dsn = psycopg2.extensions.make_dsn(dsn, connect_timeout=CONNECT_TIMEOUT_S)
            conn = lock_session(dsn, APPLICATION_NAME)
            try:
                with conn.cursor() as cur:
                    cur.execute("SET statement_timeout = %s", (STATEMENT_TIMEOUT,))
                    # A booking lost in a server crash costs one request of headroom, while
                    # waiting for the WAL flush of every booking costs milliseconds: this
                    # session alone commits without waiting for the disk.
                    cur.execute("SET synchronous_commit = off")
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except psycopg2.Error:
                pass

    def _unavailable(self, exc: psycopg2.Error) -> RateLimitStateUnavailable:
        # libpq's text names host, port and user, never the password; strip it anyway in
        # case a driver ever echoes the DSN.
        lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
        reason = lines[0] if lines else ""
        try:
            secret = psycopg2.extensions.parse_dsn(self._dsn).get("password")
        except psycopg2.ProgrammingError:
            secret = None
        for text in (self._dsn, secret):
            if text:
                reason = reason.replace(text, "***")
        return RateLimitStateUnavailable(
            f"rate limiter for portal {self.portal}: cannot book a request in the sync-state "
            f"database ({type(exc).__name__}: {reason}); without it requests to the portal "
            f"cannot be paced, so none is sent")

    def _after_fork(self) -> None:
        # The child inherited the parent's socket: closing it would end the parent's session,
        # so forget it and open a new one when needed.
        self._lock = threading.Lock()
        self._conn = None

    def __repr__(self) -> str:  # the DSN may carry a password
        return (f"PgLeakyBucket(portal={self.portal!r}, capacity={self.capacity}, "
                f"drain_per_second={self.drain_per_second})")


_live: weakref.WeakSet[PgLeakyBucket] = weakref.WeakSet()
_registry: dict[tuple[str, str], PgLeakyBucket] = {}
_registry_lock = threading.Lock()


def shared_pg_bucket(dsn: str, host: str, user_id: str | int, plan: str) -> PgLeakyBucket | None:
    """The process-wide shared bucket for one database and portal (None for "unlimited").

    One object (one connection) per process is enough: threads share it. The first caller
    decides the plan, as with ``shared_bucket``.
    """
    if plan_limits(plan) is None:
        return None
    key = (dsn, portal_key(host, user_id))
    with _registry_lock:
        bucket = _registry.get(key)
        if bucket is None:
            bucket = PgLeakyBucket.for_plan(plan, dsn, key[1])
            assert bucket is not None
            _registry[key] = bucket
        return bucket


def reset_pg_registry() -> None:
    """Close and forget every shared bucket (tests)."""
    with _registry_lock:
        buckets = list(_registry.values())
        _registry.clear()
    for bucket in buckets:
        bucket.close()


def _after_fork_in_child() -> None:
    global _registry_lock
    _registry_lock = threading.Lock()
    for bucket in list(_live):
        bucket._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
