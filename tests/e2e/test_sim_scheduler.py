"""A short clinic-life simulation under the real scheduler (``tools.sim.scheduler``).

A real Airflow stack (scheduler, dag-processor, api-server on PostgreSQL, LocalExecutor)
makes every run: going live, then three simulated days whose syncs are manual runs triggered
through the REST API, with the scheduler's operator actions done once each (a task of a
finished run cleared with what runs after it, the sync DAGs paused for a day with their runs
queued, a manual run without dates), and the portal checked against the reference model
after every day.
"""

from __future__ import annotations

import re

import pytest

from tools.sim import scheduler as sim

pytestmark = [pytest.mark.airflow, pytest.mark.timeout(420)]


def test_a_short_clinic_life_under_the_real_scheduler_holds_every_invariant(capsys):
    rc = sim.main(["--days", "3", "--seed", "2", "--history-days", "2", "--big-visits", "55"])
    out = capsys.readouterr().out
    assert rc == 0, out[-4000:]
    assert "every invariant held" in out, out[-4000:]
    assert "4 model checks" in out, out[-4000:]
    # Each of the scheduler's operator actions happened, through the REST API.
    for action in ("task of a finished run cleared (REST)",
                   "sync DAGs paused a day (runs queued)",
                   "manual run without dates (REST)"):
        assert f"'{action}': 1" in out, (action, out[-2000:])
    # Going live and three days of two branches, each a run of its own, plus the
    # deleted-reception DAGs on the last day.
    runs = int(re.search(r"(\d+) DAG runs", out).group(1))
    assert runs >= 2 + 3 * 2 + 2, out[-2000:]
