"""PgLeakyBucket against real PostgreSQL, and several OS processes against the real emulator.

The proof: three processes, each with its own client and its own database connection, read
as fast as they can from one plan-"standard" portal. With the shared bucket the portal
refuses nothing and the run takes what the drain rate allows; with a local bucket per process
(what every Airflow task has today) the same portal answers 503.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from identsync.bitrix24.address import WebhookAddress
from identsync.state.ratelimit import (
    TABLE,
    PgLeakyBucket,
    RateLimitStateUnavailable,
    portal_key,
    reset_pg_registry,
    shared_pg_bucket,
)

ROOT = Path(__file__).resolve().parents[2]
KEY = portal_key("clinic.bitrix24.ru", 1)


def _rows(dsn: str) -> dict[str, float]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT portal, level FROM {TABLE}")
            return {p: lvl for p, lvl in cur.fetchall()}
    finally:
        conn.close()


@pytest.fixture
def buckets(pg_dsn: str):
    """Factory of buckets on the test schema (table created); all closed at teardown."""
    made: list[PgLeakyBucket] = []

    def make(key: str = KEY, capacity: int = 50, drain: float = 2.0,
             **kw: Any) -> PgLeakyBucket:
        bucket = PgLeakyBucket(pg_dsn, key, capacity, drain, **kw)
        made.append(bucket)
        return bucket

    make().ensure_schema()
    yield make
    for bucket in made:
        bucket.close()
    reset_pg_registry()


def test_drain_arithmetic_on_the_database_clock(buckets: Any, pg_dsn: str) -> None:
    """capacity 10, headroom 2 (limit 8), drain 20/s: 12 bookings, then a real pause."""
    bucket = buckets(capacity=10, drain=20.0)
    t0 = time.monotonic()
    waits = [bucket.reserve() for _ in range(12)]
    level = bucket.level
    spent = time.monotonic() - t0
    drained = 20.0 * spent  # at most this much can have leaked out meanwhile
    assert waits[:8] == [0.0] * 8
    for k, wait in enumerate(waits[8:], start=9):  # booking k sees level k (less the drain)
        ideal = (k - 8) / 20.0
        assert ideal - drained / 20.0 - 1e-6 <= wait <= ideal + 1e-9, (k, wait)
    assert 12 - drained - 1e-6 <= level <= 12.0

    t1 = time.monotonic()
    before = bucket.level
    time.sleep(0.3)
    later = bucket.level
    span = time.monotonic() - t1  # the database's clock moved at most this much between reads
    assert before - 20.0 * span - 1e-6 <= later <= before - 20.0 * 0.3 + 1e-6, (before, later)

    time.sleep(0.7)  # well past empty: the level floors at 0, no credit carried over
    assert bucket.level == 0.0
    assert bucket.reserve() == 0.0
    assert _rows(pg_dsn)[KEY] == 1.0  # stored exactly: max(0, 12 - 20/s x 1 s) + 1


def test_concurrent_bookings_are_serialised(buckets: Any) -> None:
    """4 objects (4 connections) x 50 bookings from threads: every level 1..200 seen once."""
    objs = [buckets(capacity=3, drain=0.001) for _ in range(4)]  # limit 1, ~no drain
    seen: list[float] = []
    lock = threading.Lock()

    def book(bucket: PgLeakyBucket) -> None:
        mine = [bucket.reserve() for _ in range(50)]
        with lock:
            seen.extend(mine)

    threads = [threading.Thread(target=book, args=(b,)) for b in objs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # wait = (level - 1) / drain, so each booking's level is recoverable; a lost update
    # would show up as a repeated level and a final level below 200.
    levels = sorted(round(1 + w * 0.001) for w in seen)
    assert levels == list(range(1, 201))
    assert 199.99 <= objs[0].level <= 200.0


def test_fill_by_one_object_slows_another(buckets: Any, pg_dsn: str) -> None:
    first, second = buckets(), buckets()  # plan standard: capacity 50, limit 48, drain 2
    assert first.reserve() == 0.0 and second.reserve() == 0.0
    t0 = time.monotonic()
    first.fill()
    wait = second.reserve()
    gap = time.monotonic() - t0
    expected = (50 - 48 + 1) / 2.0
    assert expected - gap - 1e-6 <= wait <= expected + 1e-9
    pids = {b._conn.get_backend_pid() for b in (first, second) if b._conn is not None}
    assert len(pids) == 2  # two sessions: the only thing they share is the row
    assert list(_rows(pg_dsn)) == [KEY]


def test_portal_keys_keep_separate_rows(buckets: Any, pg_dsn: str) -> None:
    a = buckets(portal_key("clinic.bitrix24.ru", 1), capacity=5)
    b = buckets(portal_key("clinic.bitrix24.ru", 2), capacity=5)
    assert portal_key("Clinic.Bitrix24.ru", "1") == a.portal
    assert [a.reserve() for _ in range(6)][-1] > 0.0  # a is past its limit of 3
    assert b.reserve() == 0.0
    rows = _rows(pg_dsn)
    assert set(rows) == {"clinic.bitrix24.ru/1", "clinic.bitrix24.ru/2"}
    assert rows["clinic.bitrix24.ru/2"] == 1.0 and rows["clinic.bitrix24.ru/1"] > 4.0

    shared = shared_pg_bucket(pg_dsn, "CLINIC.bitrix24.ru", 1, "standard")
    assert shared is shared_pg_bucket(pg_dsn, "clinic.bitrix24.ru", "1", "enterprise")
    assert shared is not shared_pg_bucket(pg_dsn, "clinic.bitrix24.ru", 2, "standard")
    assert shared_pg_bucket(pg_dsn, "clinic.bitrix24.ru", 1, "unlimited") is None
    assert PgLeakyBucket.for_plan("unlimited", pg_dsn, KEY) is None


def test_dropped_connection_is_reopened_once(buckets: Any, pg_dsn: str) -> None:
    bucket = buckets()
    t0 = time.monotonic()
    bucket.reserve()
    assert bucket._conn is not None
    old = bucket._conn.get_backend_pid()
    admin = psycopg2.connect(pg_dsn)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (old,))
    finally:
        admin.close()
    assert bucket.reserve() == 0.0
    assert bucket._conn.get_backend_pid() != old
    level = bucket.level
    assert 2.0 - 2.0 * (time.monotonic() - t0) - 1e-6 <= level <= 2.0  # both bookings count


def test_unreachable_database_names_it_without_secrets() -> None:
    dsn = "postgresql://postgres:s3cret-pw@127.0.0.1:1/test"
    bucket = PgLeakyBucket(dsn, KEY, 50, 2.0)
    with pytest.raises(RateLimitStateUnavailable) as info:
        bucket.acquire()
    text = str(info.value)
    assert "the sync-state database" in text and KEY in text
    assert "s3cret" not in text and dsn not in text and "s3cret" not in repr(bucket)
    assert info.value.__cause__ is None and info.value.__suppress_context__


# -- several processes against one emulator ------------------------------------------------

# Each process: read its config line, build its client (and its own database session), say
# "ready", wait for "go", then read as fast as the limiter lets it.
CHILD = r"""
import json, sys, time
from identsync.bitrix24.client import Bitrix24Client
from identsync.bitrix24.ratelimit import LeakyBucket
from identsync.errors import Bitrix24RateLimited
from identsync.state.ratelimit import PgLeakyBucket

cfg = json.loads(sys.stdin.readline())
if cfg["dsn"]:
    bucket = PgLeakyBucket.for_plan("standard", cfg["dsn"], cfg["key"])
    bucket.level  # connect before the clock starts
else:
    bucket = LeakyBucket.for_plan("standard")
client = Bitrix24Client(cfg["webhook"], plan="standard", bucket=bucket, timeout=(5, 30),
                        max_read_attempts=cfg["attempts"])
print("ready", flush=True)
sys.stdin.readline()
started = time.monotonic()
ok = failed = 0
for _ in range(cfg["reads"]):
    try:
        client.call("crm.deal.list", {"select": ["ID"], "start": -1})
        ok += 1
    except Bitrix24RateLimited:
        failed += 1
print(json.dumps({"ok": ok, "failed": failed, "elapsed": time.monotonic() - started,
                  **client.stats.as_dict()}), flush=True)
"""


def _run_processes(webhook: str, reads: int, dsn: str | None, *, processes: int = 3,
                   attempts: int = 5) -> tuple[float, list[dict[str, Any]]]:
    """Start the processes, release them together; (seconds until the last ends, reports)."""
    cfg = json.dumps({"webhook": webhook, "reads": reads, "dsn": dsn, "attempts": attempts,
                      "key": _emu_key(webhook)})
    procs = [subprocess.Popen([sys.executable, "-c", CHILD], cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in range(processes)]
    try:
        for p in procs:
            assert p.stdin is not None and p.stdout is not None
            p.stdin.write(cfg + "\n")
            p.stdin.flush()
        for p in procs:
            line = p.stdout.readline().strip()
            assert line == "ready", f"child failed to start: {p.stderr.read()[-2000:]}"
        started = time.monotonic()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()  # communicate() closes it
        reports = []
        for p in procs:
            out, err = p.communicate(timeout=150)
            assert p.returncode == 0, err[-2000:]
            reports.append(json.loads(out.strip().splitlines()[-1]))
        return time.monotonic() - started, reports
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def _emu_key(webhook: str) -> str:
    address = WebhookAddress(webhook)
    return portal_key(address.host, address.user_id)


def test_three_processes_share_one_bucket_and_the_portal_refuses_nothing(
        make_emulator: Any, buckets: Any, pg_dsn: str) -> None:
    """3 x 56 reads: 48 at once, then 2/s, so about (168 - 48) / 2 = 60 s and no 503."""
    emu = make_emulator(plan="standard")
    reads, procs = 56, 3
    elapsed, reports = _run_processes(emu.webhook_url, reads, pg_dsn, processes=procs)
    stats = emu.control.stats()
    total = reads * procs
    print(f"\nshared bucket: {elapsed:.1f}s, emulator by_status={stats['by_status']}, "
          f"limit_rejections={stats['limit_rejections']}, "
          f"client retries={sum(r['retries'] for r in reports)}")
    assert stats["by_status"].get("503", 0) == 0
    assert stats["limit_rejections"]["503"] == 0
    assert stats["by_status"].get("200", 0) == stats["http_requests"] == total
    assert sum(r["ok"] for r in reports) == total
    assert sum(r["retries"] for r in reports) == 0
    expected = (total - 48) / 2.0
    slowest = max(r["elapsed"] for r in reports)
    assert expected - 1.0 <= slowest <= elapsed <= expected + 10.0, (slowest, elapsed)
    # The waiting was spread over all three processes, not done by one of them.
    assert all(r["wait_seconds"] > 0 for r in reports)


def test_three_processes_with_local_buckets_overrun_the_portal(make_emulator: Any) -> None:
    """Today's behaviour: 3 x 20 reads, each far under its own bucket's limit of 48, so no
    process waits until the portal has refused it (each then fills its own bucket and
    retries). Fewer reads than above: the 503s come from the first burst, and the paced
    tail would only make this test longer."""
    emu = make_emulator(plan="standard")
    elapsed, reports = _run_processes(emu.webhook_url, 20, None)
    stats = emu.control.stats()
    retries = sum(r["retries"] for r in reports)
    print(f"\nlocal buckets: {elapsed:.1f}s, emulator by_status={stats['by_status']}, "
          f"limit_rejections={stats['limit_rejections']}, client retries={retries}, "
          f"failed reads={sum(r['failed'] for r in reports)}")
    assert stats["limit_rejections"]["503"] > 0
    assert stats["by_status"].get("503", 0) == stats["limit_rejections"]["503"] == retries
    assert sum(r["ok"] + r["failed"] for r in reports) == 60
