"""A short seeded clinic-life simulation through the DAG (``make sim`` runs 90 days).

Going live with history and a new patient holding 55 receptions, then simulated days of
bookings, status walks, bills, renames, phone changes, branch moves, deletions, families
sharing phones and hostile text typed by staff, with managers moving deals and the portal
failing on some days; after every day the portal is checked against the reference model.
"""

from __future__ import annotations

import pytest

from tools.sim import run as sim

pytestmark = pytest.mark.airflow


def test_a_short_clinic_life_holds_every_invariant(capsys):
    rc = sim.main(["--days", "3", "--seed", "2", "--history-days", "2", "--big-visits", "55"])
    out = capsys.readouterr().out
    assert rc == 0, out[-4000:]
    assert "every invariant held" in out
    assert "4 model checks" in out
