"""PostgreSQL goes away in the middle of add_comments, comes back, the sync is retried.

A TCP proxy (tests/fixtures/tcpproxy.py) sits between the sync and the machine's
PostgreSQL; the server itself is never touched. The second comment batch is held on the
portal for a moment (a scripted ``slow`` fault) and the proxy cuts every connection while
it is in flight: the comments land on the portal but their hashes cannot be recorded.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime

import psycopg2
import pytest

from b24emu.control import EmulatorControl
from identsync.state import SyncState
from identsync.state.ledger import CommentLedger
from identsync.sync.engine import sync_window
from tests.chaos import harness as h
from tests.fixtures.tcpproxy import TcpProxy
from tools.invariants import check, ledger_rows

WIDE = (datetime(2026, 9, 1), datetime(2027, 1, 1))


@pytest.fixture
def proxy():
    with TcpProxy("127.0.0.1", 5432) as p:
        yield p


def test_postgres_outage_during_add_comments(small_clinic, chaos_emulator, pg_dsn, proxy, cfg):
    _, engine = small_clinic
    assert ":5432/" in pg_dsn
    via_proxy = pg_dsn.replace(":5432/", f":{proxy.port}/")
    state = SyncState(via_proxy)
    state.ensure_schema()
    client = h.fast_client(chaos_emulator, read_timeout=30)
    base = chaos_emulator.base_url
    EmulatorControl(base).faults({"slow_s": 1.0, "script": [
        {"method": "crm.timeline.comment.add", "fault": "slow", "times": 1, "skip": 1}]})

    def cut_when_the_second_batch_is_in_flight() -> None:
        h.wait_for_fault(base, "crm.timeline.comment.add")
        proxy.cut()

    cutter = threading.Thread(target=cut_when_the_second_batch_is_in_flight, daemon=True)
    cutter.start()
    with pytest.raises(psycopg2.OperationalError) as err:
        sync_window(engine, client, state, cfg, *WIDE)
    cutter.join(timeout=30)
    assert proxy.cut_connections >= 1
    assert "closed" in str(err.value) or "connection" in str(err.value)

    # While PostgreSQL is away a retry fails at once, clearly, and posts nothing.
    posted_before = len(EmulatorControl(base).dump_all()["comment"])
    with pytest.raises(psycopg2.OperationalError):
        sync_window(engine, client, state, cfg, *WIDE)
    assert proxy.refused >= 1
    assert len(EmulatorControl(base).dump_all()["comment"]) == posted_before

    proxy.restore()
    EmulatorControl(base).settled()
    comments = EmulatorControl(base).dump_all()["comment"]
    deal_ids = [int(x["ENTITY_ID"]) for x in comments]
    rows = CommentLedger(pg_dsn).rows(deal_ids)
    unrecorded = [d for d in deal_ids if rows.get(d) is None or rows[d].posted_hash is None]
    assert unrecorded, "the cut must have left posted comments without their hash"
    assert all(rows[d].pending_hash for d in unrecorded)  # ...but with an intent

    summary = sync_window(engine, client, state, cfg, *WIDE)  # the retry
    assert summary.counts["comments_reconciled"] == len(unrecorded)
    assert summary.counts["comments_posted"] == 0

    dump = EmulatorControl(base).dump_all()
    assert max(Counter(x["ENTITY_ID"] for x in dump["comment"]).values()) == 1
    report = check(engine, cfg, dump, summary.rejections,
                   ledger_rows=ledger_rows(pg_dsn, [int(x["ENTITY_ID"]) for x in dump["comment"]]))
    assert report.held, report.table()
