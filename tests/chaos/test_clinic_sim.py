"""A short seeded clinic-life simulation through the DAG (``make sim`` runs 90 days).

Going live with history and a new patient holding 55 receptions, then simulated days of
bookings (some at night), status walks, bills, renames, phone changes, branch moves,
deletions, families sharing phones and hostile text typed by staff, with managers moving,
deleting and renaming on the portal, the operator changing rules and the pipeline, and the
portal failing on some days; after every day the portal is checked against the reference
model.
"""

from __future__ import annotations

import pytest

from tools.sim import run as sim

pytestmark = pytest.mark.airflow


def test_a_short_clinic_life_holds_every_invariant(capsys):
    # Three days across Berlin's spring-forward night (2027-03-28): online bookings stamped
    # at 02:10 and 02:40, an hour that never existed, and the day's sync cut at 02:30. The
    # 90-day `make sim` crosses the autumn change.
    rc = sim.main(["--days", "3", "--seed", "2", "--history-days", "2", "--big-visits", "55",
                   "--start", "2027-03-27"])
    out = capsys.readouterr().out
    assert rc == 0, out[-4000:]
    assert "every invariant held" in out
    assert "4 model checks" in out
    assert "DST night synced in two windows" in out
    assert "'category_id changed': 1" in out
