"""README's backfill command is the one the benchmark measures (bench/scheduler.py uses
BACKFILL_MAX_ACTIVE_RUNS for every backfill cell)."""

from __future__ import annotations

import re
from pathlib import Path

from tools.airflow_stack import BACKFILL_MAX_ACTIVE_RUNS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readmes_backfill_lets_as_many_runs_at_once_as_the_benchmark():
    commands = re.findall(r"`(airflow backfill create [^`]+)`", README.read_text())
    assert commands, "README shows no backfill command"
    for command in commands:
        runs = re.search(r"--max-active-runs (\d+)", command)
        assert runs and int(runs.group(1)) == BACKFILL_MAX_ACTIVE_RUNS, command
