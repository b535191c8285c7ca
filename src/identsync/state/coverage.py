"""Which blocks of time a backfill has already claimed, so its other runs skip cheaply.

A backfill over days with the shipped ``*/30`` schedule creates dozens of runs a day; each
run syncing its own half hour costs a dozen task instances for a few records, and Airflow's
per-task overhead, not the portal, sets the pace. Instead the first run of a backfill to
reach a block of time (``backfill_block_hours``, aligned to the clinic's midnight) claims the
block and syncs all of it; every other run of that block finds the claim and skips (one
task instance). A claim belongs to one round of runs: ``clear_number`` (how often Airflow
cleared the run) is part of the key, so clearing a run, or reprocessing a backfill, syncs its
block again instead of trusting an older claim.

If the claiming run fails, the backfill shows that run red: clearing it syncs the whole
block (its window is stored with the run).
"""

from __future__ import annotations

from datetime import datetime

from identsync.state.db import schema_lock, transaction

TABLE = "identsync_backfill_blocks"


class BackfillBlocks:
    def __init__(self, dsn: str, application_name: str = "identsync-coverage") -> None:
        self._dsn = dsn
        self._app = application_name

    def _tx(self):
        return transaction(self._dsn, self._app)

    def ensure_schema(self) -> None:
        with self._tx() as cur:
            schema_lock(cur)
            cur.execute(f"""CREATE TABLE IF NOT EXISTS {TABLE} (
                                pipeline text NOT NULL,
                                block_start timestamptz NOT NULL,
                                clear_number integer NOT NULL,
                                block_end timestamptz NOT NULL,
                                run_id text NOT NULL,
                                claimed_at timestamptz NOT NULL DEFAULT now(),
                                PRIMARY KEY (pipeline, block_start, clear_number))""")

    def claim(self, pipeline: str, start: datetime, end: datetime, clear_number: int,
              run_id: str) -> str:
        """Claim the block for ``run_id``; returns the run that owns it (this one or not)."""
        with self._tx() as cur:
            cur.execute(
                f"""INSERT INTO {TABLE} (pipeline, block_start, clear_number, block_end, run_id)
                    VALUES (%s, %s, %s, %s, %s)
                    ON CONFLICT (pipeline, block_start, clear_number) DO NOTHING""",
                (pipeline, start, int(clear_number), end, run_id))
            owner = _owner(cur, pipeline, start, clear_number)
            assert owner is not None  # inserted above, or by the run that got there first
            return owner

    def owner(self, pipeline: str, start: datetime, clear_number: int) -> str | None:
        """The run that claimed the block, if any (a later run waits for an earlier one)."""
        with self._tx() as cur:
            return _owner(cur, pipeline, start, clear_number)

    def purge_older_than(self, cutoff: datetime) -> int:
        with self._tx() as cur:
            cur.execute(f"DELETE FROM {TABLE} WHERE claimed_at < %s", (cutoff,))
            return cur.rowcount


def _owner(cur, pipeline: str, start: datetime, clear_number: int) -> str | None:
    cur.execute(f"SELECT run_id FROM {TABLE} WHERE pipeline = %s AND block_start = %s "
                "AND clear_number = %s", (pipeline, start, int(clear_number)))
    row = cur.fetchone()
    return None if row is None else str(row[0])
