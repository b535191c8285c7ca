"""What one booking in the shared (PostgreSQL) leaky bucket costs, next to the local one.

    python -m bench.limiter_cost                 # 2,000 calls per case, 4 threads
    python -m bench.limiter_cost --calls 5000 --threads 8

Runs against the project's PostgreSQL (``$IDENTSYNC_PG``, database ``test``, a scratch
schema dropped afterwards). Each call is timed alone; ``reserve()`` never sleeps, so this is
the price of the round trip and of the row lock, paid once per HTTP request to the portal
(at most 2 or 5 of which per second are allowed anyway).
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections.abc import Callable

from identsync.bitrix24.ratelimit import LeakyBucket
from identsync.state.db import lock_session
from identsync.state.ratelimit import PgLeakyBucket, portal_key
from tools import pgserver

KEY = portal_key("bench.bitrix24.ru", 1)


def _timed(reserve: Callable[[], float], calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        reserve()
        out.append((time.perf_counter_ns() - t0) / 1000.0)
    return out


def _threaded(reserves: list[Callable[[], float]], calls: int) -> tuple[list[float], float]:
    """Every thread makes calls // threads calls; (per-call microseconds, wall seconds)."""
    per = calls // len(reserves)
    results: list[list[float]] = [[] for _ in reserves]
    start = threading.Barrier(len(reserves) + 1)

    def run(i: int) -> None:
        start.wait()
        results[i] = _timed(reserves[i], per)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(reserves))]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return [x for r in results for x in r], time.perf_counter() - t0


def _row(case: str, samples: list[float], wall: float) -> str:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return (f"| {case:<48} | {len(samples):>6,} | {q[49]:>8.0f} | {q[94]:>8.0f} | "
            f"{q[98]:>8.0f} | {len(samples) / wall:>9,.0f} |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=2000, help="calls per case (default 2000)")
    ap.add_argument("--threads", type=int, default=4, help="threads (default 4)")
    args = ap.parse_args(argv)
    calls, n = args.calls, args.threads

    rows = []
    local = LeakyBucket(50, 2.0)
    t0 = time.perf_counter()
    rows.append(_row("local LeakyBucket, 1 thread", _timed(local.reserve, calls),
                     time.perf_counter() - t0))

    with pgserver.scratch_schema("test", prefix="bench_limiter") as dsn:
        buckets = [PgLeakyBucket(dsn, KEY, 50, 2.0) for _ in range(n)]
        buckets[0].ensure_schema()
        for b in buckets:
            _timed(b.reserve, 50)  # connect and warm up outside the measurement
        probe = lock_session(dsn, "identsync-bench")
        try:
            with probe.cursor() as cur:
                def select_1() -> float:
                    cur.execute("SELECT 1")
                    return float(cur.fetchone()[0])

                t0 = time.perf_counter()
                samples = _timed(select_1, calls)
                rows.append(_row("round trip alone (SELECT 1), 1 thread", samples,
                                 time.perf_counter() - t0))
            t0 = time.perf_counter()
            samples = _timed(buckets[0].reserve, calls)
            rows.append(_row("PgLeakyBucket, 1 thread", samples, time.perf_counter() - t0))
            samples, wall = _threaded([buckets[0].reserve] * n, calls)
            rows.append(_row(f"PgLeakyBucket, {n} threads, 1 shared connection", samples,
                             wall))
            samples, wall = _threaded([b.reserve for b in buckets], calls)
            rows.append(_row(f"PgLeakyBucket, {n} threads, {n} connections (1 row)", samples,
                             wall))
        finally:
            probe.close()
            for b in buckets:
                b.close()

    server = pgserver.server_parts()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"reserve() cost, {calls:,} calls per case, PostgreSQL at {server['host']}:"
          f"{server['port']}, {os.cpu_count()} cores, load average {load}")
    print(f"| {'case':<48} | {'calls':>6} | {'p50 µs':>8} | {'p95 µs':>8} | {'p99 µs':>8} | "
          f"{'calls/s':>9} |")
    print(f"|{'-' * 50}|{'-' * 8}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 11}|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
