"""The scenario the e2e tests and the benchmark share: one branch, its clinic, config and env."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from tools.airflow_stack.settings import ROOT

BRANCH_ID = 1
BRANCH_NAME = "Центральная"
TIMEZONE = "Europe/Moscow"


def clean_env() -> dict[str, str]:
    """This process's environment without the developer's own Airflow settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}


def scenario_env(home: Path, *, emulator_url: str, token: str, ident_db: Path, state_dsn: str,
                 plan: str, config: Path) -> dict[str, str]:
    """The DAG's three connections and its config, as ``tools.localairflow`` gives them."""
    from tools import localairflow, pgserver

    return localairflow.airflow_env(
        home, emulator_url=emulator_url, token=token, ident_db=ident_db,
        state_conn=pgserver.airflow_connection(state_dsn), plan=plan, config=config,
        base=clean_env())


def scenario_config(path: Path, *, first_day: date, plan: str, **overrides: Any) -> Path:
    """A copy of dags/identsync.json for one branch, synced day by day (midnight to
    midnight, clinic time), retried quickly."""
    cfg = json.loads((ROOT / "dags" / "identsync.json").read_text(encoding="utf-8"))
    cfg.update({
        "branches": [{"id": BRANCH_ID, "name": BRANCH_NAME}], "timezone": TIMEZONE,
        "schedule": "0 0 * * *", "start_date": (first_day - timedelta(days=1)).isoformat(),
        "overlap_minutes": 0, "retries": 3, "retry_delay_seconds": 2, "portal_plan": plan,
    })
    cfg.update(overrides)
    path.write_text(json.dumps(cfg, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def clinic_midnight(day: date) -> str:
    """``day`` 00:00 in the clinic's zone, with its offset: what ``backfill create`` needs
    (a date without an offset is UTC midnight, and the clinic's first day would be skipped)."""
    from zoneinfo import ZoneInfo

    return datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo(TIMEZONE)).isoformat()


def make_clinic(path: Path, *, seed: int, receptions: int, first_day: date, days: int,
                cover_until: date | None = None, now: datetime | None = None,
                patients: int | None = None) -> Any:
    """A generated clinic (one branch) whose every reception changed on a day the backfill
    covers, ``first_day`` .. ``cover_until`` (default: the last day); returns its engine.

    The generator books receptions up to three weeks ahead, so some would have no change in
    the backfilled days at all; each reception is therefore also saved again (its
    ``DateTimeChanged``) on its own day at 00:05, or on ``cover_until`` if it lies later. Then
    the portal must hold exactly the source: every invariant applies to all of it. Patient
    cards are dated well before ``first_day`` (the generator dates them ``first_day`` 00:00,
    which would put every patient's receptions into the first day's run), so each day's run
    carries that day's changes.
    """
    import sqlalchemy as sa

    from identsync.ident import schema as s
    from tools.ident_demo.clinic import create_schema, generate_clinic

    last = first_day + timedelta(days=days - 1)
    cover_until = cover_until or last
    now = now or datetime.combine(cover_until, datetime.min.time()) + timedelta(hours=21)
    engine = sa.create_engine(f"sqlite:///{path}")
    create_schema(engine)
    generate_clinic(engine, seed=seed, receptions=receptions,
                    patients=patients or max(50, receptions // 4), start=first_day, days=days,
                    now=now, branches=((BRANCH_ID, BRANCH_NAME),))
    r = s.Receptions.c
    with engine.begin() as conn:
        conn.execute(sa.update(s.Patients).values(
            DateTimeChanged=datetime.combine(first_day, datetime.min.time())
            - timedelta(days=60)))
        rows = conn.execute(sa.select(r.ID, r.PlanStart, r.DateTimeChanged)).all()
        touched = []
        for rid, plan_start, changed in rows:
            day = min(max(plan_start.date(), first_day), cover_until)
            at = min(datetime.combine(day, datetime.min.time()) + timedelta(minutes=5), now)
            if changed is None or changed < at:
                touched.append({"rid": rid, "at": at})
        if touched:
            conn.execute(sa.update(s.Receptions).where(r.ID == sa.bindparam("rid"))
                         .values(DateTimeChanged=sa.bindparam("at")), touched)
    return engine


def expected_records(engine: Any, cfg: Any, first_day: date, end_day: date) -> list[Any]:
    """The records the branch's DAG must sync for [first_day, end_day) clinic time:
    ``extract_receptions`` + ``prepare``, as the DAG's tasks call them."""
    from identsync.ident.extract import extract_receptions
    from identsync.sync.prepare import orphan_scope, prepare

    start = datetime.combine(first_day, datetime.min.time())
    end = datetime.combine(end_day, datetime.min.time())
    rows = list(extract_receptions(engine, start, end, branch_id=BRANCH_ID,
                                   unassigned_except=orphan_scope(cfg, BRANCH_ID)))
    return [rec for chunk in prepare(rows, cfg, branch_id=BRANCH_ID).chunks for rec in chunk]
