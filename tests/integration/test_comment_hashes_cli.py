"""tools/comment_hashes.py as an operator runs it: a subprocess against the test schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from identsync.state.ledger import CommentLedger, comment_hash

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "comment_hashes.py"
H1 = comment_hash("Плановый осмотр")
H2 = comment_hash("Удаление зуба")


def run(*args: str, dsn: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("IDENTSYNC_PG_URL", "PYTHONPATH")}
    if dsn is not None:
        env["IDENTSYNC_PG_URL"] = dsn
    # run from elsewhere: the installed package is all the tool needs
    return subprocess.run([sys.executable, str(TOOL), *args], env=env, cwd=cwd or "/",
                          capture_output=True, text=True, timeout=60)


def test_import_show_stats_reset(pg_dsn, tmp_path):
    f = tmp_path / "comment_hashes.json"
    f.write_text(json.dumps({"101": H1, "102": H2, "bad": H1, "103": "zz"}), encoding="utf-8")

    r = run("import", str(f), dsn=pg_dsn)
    assert r.returncode == 1, r.stderr  # good entries imported, bad ones reported
    assert "2 new" in r.stdout and "2 rejected" in r.stdout
    assert "'bad'" in r.stderr and "'103'" in r.stderr

    r = run("show", "--deal", "101", dsn=pg_dsn)
    assert r.returncode == 0 and H1 in r.stdout and "imported" in r.stdout
    r = run("show", "--deal", "999", dsn=pg_dsn)
    assert r.returncode == 0 and "no ledger row" in r.stdout

    r = run("--dsn", pg_dsn, "stats")  # --dsn works without the env variable
    assert r.returncode == 0 and "rows 2" in r.stdout and "imported 2" in r.stdout

    r = run("reset", "--deal", "101", dsn=pg_dsn)
    assert r.returncode == 0 and "1 row(s) deleted" in r.stdout
    assert set(CommentLedger(pg_dsn).rows([101, 102])) == {102}

    r = run("reset", "--all", dsn=pg_dsn)
    assert r.returncode == 0 and "1 row(s) deleted" in r.stdout
    assert CommentLedger(pg_dsn).stats()["rows"] == 0


def test_clean_import_exits_zero(pg_dsn, tmp_path):
    f = tmp_path / "h.json"
    f.write_text(json.dumps({"5": H1}), encoding="utf-8")
    r = run("import", str(f), dsn=pg_dsn)
    assert r.returncode == 0 and "1 new" in r.stdout and "0 rejected" in r.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "cannot read"), ('["1", "2"]', "JSON object")],
)
def test_bad_file_is_rejected_without_changes(pg_dsn, tmp_path, content, message):
    f = tmp_path / "h.json"
    f.write_text(content, encoding="utf-8")
    r = run("import", str(f), dsn=pg_dsn)
    assert r.returncode == 2 and message in r.stderr


def test_missing_file_and_missing_dsn(pg_dsn, tmp_path):
    r = run("import", str(tmp_path / "nope.json"), dsn=pg_dsn)
    assert r.returncode == 2 and "not found" in r.stderr
    r = run("stats")
    assert r.returncode == 2 and "IDENTSYNC_PG_URL" in r.stderr


def test_usage_errors(pg_dsn):
    assert run("reset", dsn=pg_dsn).returncode == 2  # neither --all nor --deal
    r = run("reset", "--deal", "0", dsn=pg_dsn)
    assert r.returncode == 2 and "positive" in r.stderr


def test_reset_refused_while_a_sync_holds_the_deal(pg_dsn):
    led = CommentLedger(pg_dsn)
    led.ensure_schema()
    led.import_hashes({"7": H1})
    with led.claim([7]):
        r = run("reset", "--all", dsn=pg_dsn)
        assert r.returncode == 3 and "claimed" in r.stderr
        assert led.stats()["rows"] == 1
        r = run("reset", "--all", "--force", dsn=pg_dsn)
        assert r.returncode == 0
    assert led.stats()["rows"] == 0


def test_unreachable_database_is_reported_without_traceback():
    r = run("stats", dsn="postgresql://nobody:s3cret@127.0.0.1:1/none?connect_timeout=2")
    assert r.returncode == 3 and "database error" in r.stderr
    assert "Traceback" not in r.stderr and "s3cret" not in r.stderr
