"""`make sim`: months of a clinic's life synced through the DAG, checked against a model.

    python -m tools.sim.run --days 90 --seed 1 [--history-days 20] [--big-visits 60] [--keep]

Each simulated day the clinic (``tools.sim.world``) books, walks, bills, cancels, renames,
changes phones, moves receptions between branches and deletes some; managers move deals on
the portal by hand; the operator syncs every branch through ``airflow dags test`` (a range
from the last green sync to 22:00 clinic time), and sometimes does what operators do: skips
a day (an outage), runs again a finished day (a clear), runs without dates, runs a range in
the future, changes ``stage_map`` or ``protected_stages``. Some days the portal fails (503,
500, dropped and applied-then-lost answers). Every fifth day and the last, the
deleted-reception DAG runs. After every day the portal is compared with the reference model
(``tools.sim.model``, which imports nothing of the sync's rules). A violation stops the run
with the seed, the day and the day's log: ``--seed N --days D`` replays it exactly (Airflow
logs stay under var/sim/seed<N>/).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.chaos import harness as h
from tools import pgserver
from tools.sim.model import Model, Rules, Violation, base
from tools.sim.world import World

ROOT = Path(__file__).resolve().parents[2]
STATE_DB = "identsync_sim"
FAULTS = {"http_503": 0.05, "http_500": 0.03, "drop": 0.02, "applied_then_500": 0.01,
          "applied_then_drop": 0.01}
PROTECTED = "FINAL_INVOICE"  # the stage managers claim by hand
DST_NIGHT = (clock(2, 10), clock(2, 40))  # online bookings in the hour a DST change skips or repeats


def say(msg: str) -> None:
    print(f"==> {msg}", flush=True)


@dataclass
class Tally:
    days: int = 0
    receptions: int = 0
    runs: int = 0
    reruns: int = 0
    faulty_days: int = 0
    operator: dict[str, int] = field(default_factory=dict)
    manager: dict[str, int] = field(default_factory=dict)
    checks: int = 0

    def count(self, book: dict[str, int], what: str) -> None:
        book[what] = book.get(what, 0) + 1


class Sim:
    REPLAY = "tools.sim.run"  # the module whose command line replays a failed day

    def __init__(self, args: argparse.Namespace, work: Path, dsn: str) -> None:
        from b24emu.server import EmulatorServer
        from identsync.bitrix24.client import Bitrix24Client

        self.args, self.work = args, work
        self.rng = random.Random(args.seed * 7919 + 1)
        self.start = date.fromisoformat(args.start)
        self.emu = EmulatorServer(token=h.EMU_TOKEN, plan="unlimited", seed=args.seed).start()
        self.portal = Bitrix24Client(self.emu.webhook_url, plan="unlimited")
        self.raw = json.loads(h.DEFAULT_CONFIG.read_text(encoding="utf-8"))
        self.raw.update(retries=4, retry_delay_seconds=1, write_settle_seconds=1,
                        timezone=args.timezone, deleted_stage="APOLOGY",
                        protected_stages=[PROTECTED], retry_base_minutes=0)
        self.cfg_path = work / "identsync.json"
        self._write_config()
        engine = __import__("sqlalchemy").create_engine(f"sqlite:///{work / 'ident.sqlite3'}")
        self.world = World(engine, seed=args.seed, start=self.start)
        self.model = Model(self._rules())
        target = h.SyncTarget(work / "ident.sqlite3", self.emu.base_url, dsn, self.cfg_path,
                              plan="unlimited", timeout=3.0)
        self.env = self._runner_env(work, target)
        self.tally = Tally()
        self.synced_to: datetime | None = None
        self.day_began: datetime | None = None
        self.dsn = dsn
        self.past_confs: list[dict[str, str]] = []
        self._setup_portal()

    # -- set-up ------------------------------------------------------------------------------
    def _write_config(self) -> None:
        self.cfg_path.write_text(json.dumps(self.raw, ensure_ascii=False, indent=1),
                                 encoding="utf-8")

    def _runner_env(self, work: Path, target: h.SyncTarget) -> dict[str, str]:
        """The environment the DAG runs get: here ``airflow dags test`` in a private home
        (``tools.sim.scheduler`` gives a real scheduler's stack instead)."""
        return h.airflow_env(h.airflow_home(work / "airflow"), target)

    def _rules(self) -> Rules:
        return Rules(stage_map=dict(self.raw["stage_map"]),
                     final_stages=tuple(self.raw["final_stages"]),
                     protected_stages=tuple(self.raw["protected_stages"]),
                     deleted_stage=self.raw.get("deleted_stage"),
                     ident_field=self.raw["deal_fields"]["ident_id"],
                     category_id=int(self.raw.get("category_id") or 0))

    def _setup_portal(self) -> None:
        from identsync.config import SyncConfig
        from tools.setup_portal import ensure_fields

        cfg = SyncConfig.from_file(self.cfg_path)
        ensure_fields(self.portal, "deal", cfg.deal_fields)
        ensure_fields(self.portal, "contact", dict(cfg.contact_fields, **_identity_fields(cfg)))

    # -- operators ---------------------------------------------------------------------------
    def dag_run(self, dag_id: str, conf: dict[str, Any] | None, label: str) -> None:
        for attempt in range(6):
            self.emu.control.settled()
            self.tally.runs += 1
            run = h.dags_test(self.env, dag_id, conf,
                              log_path=self.work / "logs" / f"{label}_{dag_id}_{attempt}.log")
            if run.ok:
                return
            self.tally.reruns += 1  # the operator clears the failed run
        raise RuntimeError(f"{dag_id} {conf}: still red after 6 runs "
                           f"(logs under {self.work / 'logs'})")

    def sync_all(self, conf: dict[str, Any] | None, label: str) -> None:
        for b in self.raw["branches"]:
            self.dag_run(f"ident_to_bitrix24_branch_{b['id']}", conf, label)

    def deleted_check(self, label: str) -> None:
        for b in self.raw["branches"]:
            self.dag_run(f"ident_to_bitrix24_branch_{b['id']}_deleted", None, label)
        self.model.deleted_check_ran(self.world)

    def range_conf(self, since: datetime, until: datetime) -> dict[str, str]:
        return {"date_from": since.isoformat(timespec="seconds"),
                "date_to": until.isoformat(timespec="seconds")}

    # -- managers ----------------------------------------------------------------------------
    def managers(self, log: list[str]) -> None:
        deals = self.emu.control.dump("deal")
        field_ = self.raw["deal_fields"]["ident_id"]
        named = [d for d in deals if d.get("CONTACT_ID")]
        if named and self.rng.random() < 0.15:  # a contact's name edited on the portal
            d = self.rng.choice(named)
            rid = int(str(d[field_]).rsplit("_", 1)[-1])
            pid = self.world.visits[rid].pid
            self.portal.call("crm.contact.update", {"id": int(d["CONTACT_ID"]),
                                                    "fields": {"LAST_NAME": "Правка"}})
            c = self.portal.call("crm.contact.get", {"id": int(d["CONTACT_ID"])})
            self.model.manager_renamed(pid, " ".join(
                x for x in (c.get("LAST_NAME"), c.get("NAME"), c.get("SECOND_NAME")) if x))
            self.tally.count(self.tally.manager, "contact renamed")
            log.append(f"manager: contact of patient {pid} renamed")

        open_ = [d for d in deals if base(d.get("STAGE_ID") or "") not in
                 ("WON", "LOSE", "APOLOGY", PROTECTED)]
        for stage, p in ((PROTECTED, 0.5), ("WON", 0.25)):
            if open_ and self.rng.random() < p:
                d = open_.pop(self.rng.randrange(len(open_)))
                spelled = _in_pipeline(d, stage)  # a manager picks from the deal's own pipeline
                self.portal.call("crm.deal.update", {"id": int(d["ID"]),
                                                     "fields": {"STAGE_ID": spelled}})
                rid = int(str(d[field_]).rsplit("_", 1)[-1])
                self.model.manager_moved(rid, spelled)
                self.tally.count(self.tally.manager, f"deal to {stage}")
                log.append(f"manager: deal of reception {rid} -> {spelled}")
        if deals and self.rng.random() < 0.08:  # a manager deletes a deal
            d = self.rng.choice(deals)
            rid = int(str(d[field_]).rsplit("_", 1)[-1])
            self.portal.call("crm.deal.delete", {"id": int(d["ID"])})
            self.model.manager_deleted_deal(rid, self.world.clock)
            self.tally.count(self.tally.manager, "deal deleted")
            log.append(f"manager: deal of reception {rid} deleted")
            deals = [x for x in deals if x["ID"] != d["ID"]]
        linked = [d for d in deals if d.get("CONTACT_ID")]
        if linked and self.rng.random() < 0.05:  # ... or a contact (its deals lose the link)
            d = self.rng.choice(linked)
            pid = self.world.visits[int(str(d[field_]).rsplit("_", 1)[-1])].pid
            self.portal.call("crm.contact.delete", {"id": int(d["CONTACT_ID"])})
            self.model.manager_deleted_contact(self.world, pid, self.world.clock)
            self.tally.count(self.tally.manager, "contact deleted")
            log.append(f"manager: contact of patient {pid} deleted")

    # -- a day -------------------------------------------------------------------------------
    def day(self, k: int, last: bool) -> list[str]:
        day = self.start + timedelta(days=k)
        until = datetime.combine(day, datetime.min.time()) + timedelta(hours=22)
        log = self.world.live_day(day, night=DST_NIGHT if self.dst_night(day) else None)
        self.managers(log)
        label = f"d{k:03d}"
        op = self.rng.random()
        if not last and op < 0.08:
            self.day_began = None
            self.tally.count(self.tally.operator, "outage (day not synced)")
            log.append("operator: scheduler down all day, nothing synced")
            self.change_rules_if_due(k, log)  # an operator edits the file all the same
            return log
        faulty = self.rng.random() < 0.3
        if faulty:
            self.tally.faulty_days += 1
            self.emu.control.faults({"rates": FAULTS, "seed": self.args.seed * 1000 + k})
            log.append("portal: failing today")
        self.day_began = datetime.now(timezone.utc)
        try:
            overlap = timedelta(minutes=self.raw["overlap_minutes"])
            since = self.synced_to - overlap
            for n, (a, b) in enumerate(self.windows(day, since, until, overlap)):
                conf = self.range_conf(a, b)
                self.sync_all(conf, label if n == 0 else f"{label}_{n}")
                self.model.synced(self.world, a, b)
                self.past_confs.append(conf)
                log.append(f"operator: synced {a:%m-%d %H:%M} .. {b:%m-%d %H:%M}")
            self.synced_to = until
            extra = self.rng.random()
            if extra < 0.12 and len(self.past_confs) > 1:
                old = self.rng.choice(self.past_confs[:-1])
                self.sync_all(old, label + "_clear")
                self.model.synced(self.world, *_conf_range(old))
                self.tally.count(self.tally.operator, "finished run run again")
                log.append(f"operator: ran {old} again")
            elif extra < 0.2:
                future = self.range_conf(until, until + timedelta(days=7))
                self.sync_all(future, label + "_future")
                self.tally.count(self.tally.operator, "range in the future")
                log.append("operator: synced a range in the future")
            elif extra < 0.26:
                # The operator's "sync today" from the trigger form: the real today, whose
                # end is in the future; the watermark must stay at the moment of reading.
                today = datetime.now().date().isoformat()
                self.sync_all({"date_from": today, "date_to": today}, label + "_today")
                self.tally.count(self.tally.operator, "manual run for today")
                log.append("operator: manual run for today")
            elif extra < 0.32:
                self.sync_all(None, label + "_nodates")
                self.model.synced(self.world, since, until)
                self.tally.count(self.tally.operator, "manual run without dates")
                log.append("operator: manual run without dates")
        finally:
            if faulty:
                self.emu.control.faults({"rates": {}})
        self.end_of_day_chores(k, last, label, log)
        return log

    def dst_night(self, day: date) -> bool:
        """Whether the clinic's clocks change in the night before ``day``'s opening."""
        zone = ZoneInfo(self.args.timezone)
        return datetime.combine(day, clock(0), zone).utcoffset() != \
            datetime.combine(day, clock(6), zone).utcoffset()

    def windows(self, day: date, since: datetime, until: datetime,
                overlap: timedelta) -> list[tuple[datetime, datetime]]:
        """The day's sync as one range, or as two cut at night, the way a half-hourly
        schedule's windows meet: always at 02:30 on a DST night (inside the skipped or
        repeated hour), on a few other nights at a random half hour."""
        if self.dst_night(day):
            cut = datetime.combine(day, clock(2, 30))
            self.tally.count(self.tally.operator, "DST night synced in two windows cut at 02:30")
        elif self.rng.random() < 0.05:
            cut = datetime.combine(day, clock(self.rng.randrange(6), 30 * self.rng.randrange(2)))
        else:
            return [(since, until)]
        if not since < cut < until:
            return [(since, until)]
        return [(since, cut), (cut - overlap, until)]

    def end_of_day_chores(self, k: int, last: bool, label: str, log: list[str]) -> None:
        """The ``stage_map`` change half-way and the deleted-reception check every fifth
        day (and the last): due on every synced day, whatever else the operator did."""
        self.change_rules_if_due(k, log)
        if k % 5 == 4 or last:
            self.deleted_check(label + "_deleted")
            log.append("operator: deleted-reception check")

    def change_rules_if_due(self, k: int, log: list[str]) -> None:
        if k == self.args.days // 3:
            self.raw["protected_stages"] = [*self.raw["protected_stages"], "PREPARATION"]
            self._write_config()
            self.model.rules_changed(self._rules())
            self.tally.count(self.tally.operator, "protected_stages changed")
            log.append("operator: protected_stages += PREPARATION")
        if k == self.args.days // 2:
            self.raw["stage_map"] = dict(self.raw["stage_map"], finished="PREPAYMENT_INVOICE")
            self._write_config()
            self.model.rules_changed(self._rules())
            self.tally.count(self.tally.operator, "stage_map changed")
            log.append("operator: stage_map.finished -> PREPAYMENT_INVOICE")
        if k == max(0, (2 * self.args.days) // 3 - 1):
            # A new sales pipeline: new deals go there, the deals made so far stay in theirs.
            self.raw["category_id"] = int(self.raw.get("category_id") or 0) + 1
            self._write_config()
            self.model.rules_changed(self._rules())
            self.tally.count(self.tally.operator, "category_id changed")
            log.append(f"operator: category_id -> {self.raw['category_id']}")

    def go_live(self) -> None:
        log = self.world.history(self.args.history_days, self.args.big_visits)
        since = datetime.combine(self.start - timedelta(days=self.args.history_days + 1),
                                 datetime.min.time())
        until = datetime.combine(self.start, datetime.min.time())
        self.sync_all(self.range_conf(since, until), "golive")
        self.model.synced(self.world, since, until)
        self.synced_to = until
        say(f"going live: {len(self.world.visits)} receptions of {len(self.world.patients)} "
            f"patients from {self.args.history_days} days of history ({len(log)} events)")
        self.verify(-1, log)

    def verify(self, k: int, log: list[str]) -> None:
        self.emu.control.settled()
        violations = self.model.check(self.world, self.emu.control.dump_all())
        violations += state_violations(self.dsn, self.day_began)
        self.tally.checks += 1
        if violations:
            print(f"\nSIMULATION FAILED on day {k} (seed {self.args.seed}; replay: python -m "
                  f"{self.REPLAY} --seed {self.args.seed} --days {k + 1} --start "
                  f"{self.args.start} --timezone {self.args.timezone})")
            print("the day's log:\n  " + "\n  ".join(log or ["(nothing)"]))
            print(f"{len(violations)} violations, the first 25:")
            for v in violations[:25]:
                print(f"  {v}")
            raise SystemExit(1)


def summary_line(sim: Sim, title: str, t0: float) -> str:
    """The one line a finished simulation prints (``title``: which runner)."""
    t, args = sim.tally, sim.args
    t.receptions = len(sim.world.visits)
    big = sum(v.pid == sim.world.big_patient for v in sim.world.visits.values())
    return (f"\n{title}, seed {args.seed}, {args.timezone}: {t.days} days, "
            f"{t.receptions} receptions of {len(sim.world.patients)} patients (frequent "
            f"patient: {big} receptions), {t.runs} DAG runs ({t.reruns} cleared after failing), "
            f"{t.faulty_days} days with portal faults, operator {t.operator}, managers "
            f"{t.manager}; {t.checks} model checks, every invariant held; "
            f"{time.monotonic() - t0:.0f} s")


def state_violations(dsn: str, day_began: datetime | None) -> list[Violation]:
    """What the state database must never show: a watermark past the moment it was read
    (the real clock: every sim run reads IDENT now), or a record that was due (retries are
    spaced 0 minutes here) when today's runs began and is still queued, untried."""
    import psycopg2

    out = []
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT pipeline, value FROM identsync_watermarks "
                    "WHERE value > now() + interval '1 minute'")
        out += [Violation("watermark_not_ahead", f"{p}: watermark {v:%Y-%m-%d %H:%M} is "
                          "after the run read IDENT") for p, v in cur.fetchall()]
        if day_began is not None:
            cur.execute("SELECT pipeline, ident_id, attempts FROM identsync_retry_queue "
                        "WHERE status = 'queued' AND last_failed_at < %s", (day_began,))
            out += [Violation("queue_progresses", f"{p}: {i} queued since before today's "
                              f"runs, still untried ({a} tries)") for p, i, a in cur.fetchall()]
    return out


def _in_pipeline(deal: dict[str, Any], stage: str) -> str:
    cat = str(deal.get("CATEGORY_ID") or "0")
    return stage if cat == "0" else f"C{cat}:{stage}"


def _conf_range(conf: dict[str, str]) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(conf["date_from"]), datetime.fromisoformat(conf["date_to"])


def _identity_fields(cfg: Any) -> dict[str, str]:
    """The contact field that carries the IDENT patient id, when the configuration has one."""
    code = getattr(cfg, "patient_id_field", None)
    return {"patient_id": code} if code else {}


def arguments(argv: list[str] | None, description: str, *, days: int, history_days: int,
              big_visits: int) -> argparse.Namespace:
    """The options every simulation driver takes (the defaults are each driver's own)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--days", type=int, default=days)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", default="2026-09-01", help="first simulated day (clinic date)")
    ap.add_argument("--timezone", default="Europe/Berlin",
                    help="clinic zone (Berlin: the 90 days from 09-01 cross a DST change)")
    ap.add_argument("--history-days", type=int, default=history_days)
    ap.add_argument("--big-visits", type=int, default=big_visits,
                    help="receptions of the frequent patient before going live")
    ap.add_argument("--keep", action="store_true", help="keep the state schema")
    return ap.parse_args(argv)


def workspace(name: str, schema_prefix: str, seed: int) -> tuple[Path, str, str]:
    """A fresh var/sim/<name>/ folder and a fresh state schema: (folder, schema, DSN)."""
    work = ROOT / "var" / "sim" / name
    if work.exists():
        shutil.rmtree(work)
    (work / "logs").mkdir(parents=True)
    pgserver.ensure_database(STATE_DB)
    schema = f"{schema_prefix}_seed{seed}_{int(time.time())}"
    return work, schema, pgserver.create_schema(STATE_DB, schema)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv, "clinic-life simulation through the DAG", days=90, history_days=14,
                     big_visits=60)
    work, schema, dsn = workspace(f"seed{args.seed}", "sim", args.seed)
    t0 = time.monotonic()
    sim = Sim(args, work, dsn)
    try:
        sim.go_live()
        for k in range(args.days):
            log = sim.day(k, last=k == args.days - 1)
            sim.tally.days += 1
            sim.verify(k, log)
            say(f"day {k} ({sim.start + timedelta(days=k)}): {len(log)} events, model held")
        print(summary_line(sim, "clinic-life simulation", t0))
        return 0
    finally:
        sim.emu.stop()
        if not args.keep:
            pgserver.drop_schema(STATE_DB, schema)


if __name__ == "__main__":
    sys.exit(main())
