"""SIGKILL the sync after a write left, run it again in a fresh process: nothing duplicated,
nothing missing.

The engine runs in a child process (tests/chaos/engine_child.py). A scripted ``slow`` fault
holds the write on the portal for a moment, so the test can kill the child while the write
is in flight; the portal then applies it (as a real one would) and nobody is left to hear
the answer. The second run is the Airflow retry: a fresh process with only what the portal
and PostgreSQL remember.
"""

from __future__ import annotations

import random
import signal
import time
from datetime import datetime

import pytest

from b24emu.control import EmulatorControl
from identsync.state.ledger import CommentLedger
from tests.chaos import harness as h
from tools.invariants import check, ledger_rows

WIDE = (datetime(2026, 9, 1), datetime(2027, 1, 1))


@pytest.fixture
def target(small_clinic, chaos_emulator, pg_dsn, tmp_path):
    path, _ = small_clinic
    cfg_path = h.write_config(tmp_path / "identsync.json")
    return h.SyncTarget(ident_path=path, emulator_url=chaos_emulator.base_url,
                        state_dsn=pg_dsn, config_path=cfg_path, plan="unlimited",
                        timeout=[2.0, 30.0])


def _kill_during(target, method: str) -> None:
    EmulatorControl(target.emulator_url).faults({
        "slow_s": 1.5, "script": [{"method": method, "fault": "slow", "times": 1}]})
    proc = h.engine_child(target, *WIDE, branch=None)
    h.wait_for_fault(target.emulator_url, method, proc=proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    EmulatorControl(target.emulator_url).settled()  # the in-flight write lands after its client died


def _finish_and_check(target, small_clinic, cfg) -> tuple[dict, object]:
    result = h.child_result(h.engine_child(target, *WIDE, branch=None))
    assert "error" not in result, result
    dump = EmulatorControl(target.emulator_url).dump_all()
    report = check(small_clinic[1], cfg, dump, result["rejections"],
                   ledger_rows=ledger_rows(target.state_dsn,
                                           [int(x["ENTITY_ID"]) for x in dump["comment"]]))
    assert report.held, report.table()
    return result, report


def test_kill_during_upsert_after_the_write_left(target, small_clinic, cfg):
    _kill_during(target, "crm.deal.add")
    landed = EmulatorControl(target.emulator_url).dump_all()
    assert landed["deal"], "the killed run's write batch must have been applied"
    assert landed["comment"] == []  # killed before any comment

    result, report = _finish_and_check(target, small_clinic, cfg)
    c = result["counts"]
    # The retry found the killed run's deals and created only the rest.
    assert c["deals_unchanged"] >= len(landed["deal"]) > 0
    assert c["deals_created"] == report.synced - len(landed["deal"])


def test_kill_during_add_comments_after_the_post_left(target, small_clinic, cfg):
    _kill_during(target, "crm.timeline.comment.add")
    landed = EmulatorControl(target.emulator_url).dump_all()
    assert landed["comment"], "the killed run's comment batch must have been applied"
    pending = CommentLedger(target.state_dsn).stats()["pending"]
    assert pending == len(landed["comment"])  # posted, but only the intent is recorded

    result, _ = _finish_and_check(target, small_clinic, cfg)
    assert result["counts"]["comments_reconciled"] == len(landed["comment"])


def test_kills_at_random_moments_then_a_full_run(target, small_clinic, cfg):
    """Three runs, each killed while its n-th request (n drawn from a seeded RNG) is in
    flight on the portal, then one run that finishes: the invariants hold whatever was cut
    where. Latency keeps each request on the portal long enough to be caught in flight."""
    EmulatorControl(target.emulator_url).config({"latency_ms": 250})
    rng = random.Random(606)
    partial = []
    for _ in range(3):
        base = EmulatorControl(target.emulator_url).stats()["http_requests"]
        nth = rng.randint(1, 6)
        proc = h.engine_child(target, *WIDE, branch=None)
        while EmulatorControl(target.emulator_url).stats()["http_requests"] < base + nth:
            assert proc.poll() is None, "the run ended before its request went out"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        EmulatorControl(target.emulator_url).settled()
        partial.append(EmulatorControl(target.emulator_url).stats()["entities"])
    assert any(p["deal"] < 60 or p["comment"] < p["deal"] for p in partial), partial
    _finish_and_check(target, small_clinic, cfg)
