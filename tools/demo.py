#!/usr/bin/env python
"""The demo: a generated clinic synced into the local Bitrix24 emulator through Airflow.

    python -m tools.demo run        # what `make demo` calls; run it twice: the 2nd writes nothing
    python -m tools.demo airflow    # `make airflow`: airflow standalone, everything configured
    python -m tools.demo env        # print the environment (source it to use the airflow CLI)
    python -m tools.demo stop       # stop the background emulator

Everything lives under var/ (emulator state, IDENT demo database, AIRFLOW_HOME). The sync
state goes to this clone's own PostgreSQL database `identsync_demo_<hash of the clone's
path>` on the server $IDENTSYNC_PG (default postgresql://postgres@127.0.0.1:5432, see
tools/pgserver.py), created if missing: clones on one server never share or drop each other's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from b24emu.control import EmulatorControl
from tools import pgserver
from tools.localairflow import airflow_env as local_airflow_env

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var"
BIN = Path(sys.executable).parent

DEFAULT_EMU_PORT = int(os.environ.get("DEMO_EMULATOR_PORT", "8024"))
EMU_FILE = VAR / "emulator.json"  # {"pid": ..., "port": ...} of this clone's emulator
EMU_TOKEN = "demo-webhook-token"  # a sandbox token for the local emulator, not a secret


def clone_state_db(root: Path = ROOT) -> str:
    """This clone's demo state database: one per clone on a shared server.

    A clone with a fresh portal drops its state database (see ensure_state_db); with one
    fixed name that dropped another clone's ledger under its feet, and that clone then
    reconciled its deals against a foreign comment ledger.
    """
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:10]
    return f"identsync_demo_{digest}"


STATE_DB = clone_state_db()
IDENT_DB = VAR / "ident_demo.sqlite3"
DEMO_DAYS = 3
DEMO_RECEPTIONS = int(os.environ.get("DEMO_RECEPTIONS", "300"))


def say(msg: str) -> None:
    print(f"==> {msg}", flush=True)


def demo_dates() -> tuple[date, date]:
    """The demo clinic's days: yesterday, today and tomorrow (stable within a day)."""
    meta = VAR / "ident_demo.json"
    if meta.exists():
        d = json.loads(meta.read_text())
        return date.fromisoformat(d["start"]), date.fromisoformat(d["end"])
    start = date.today() - timedelta(days=1)
    return start, start + timedelta(days=DEMO_DAYS - 1)


def airflow_env() -> dict[str, str]:
    # The webhook token sits in the connection's `password`, which Airflow masks in task
    # logs; the client never logs it either.
    return local_airflow_env(
        VAR / "airflow", emulator_url=emulator().base_url, token=EMU_TOKEN,
        ident_db=IDENT_DB, state_conn={"conn_type": "postgres", "schema": STATE_DB,
                                       **pgserver.server_parts()},
        extra={"AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
               "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30"})


def state_dsn() -> str:
    return pgserver.database_url(STATE_DB)


# -- services --------------------------------------------------------------------------------

def ensure_state_db(fresh: bool = False) -> None:
    """Create the demo's state database; ``fresh`` drops it first.

    The ledger and the portal must describe the same world: a new (empty) emulator portal
    numbers its deals from 1 again, and an old ledger would skip their comments.
    """
    import psycopg2

    try:
        created = pgserver.ensure_database(STATE_DB, fresh=fresh)
    except psycopg2.OperationalError as exc:
        sys.exit(f"PostgreSQL is not reachable at {pgserver.server_url()} ({exc}).\n"
                 f"Start it (./tools/ensure_postgres.sh does, or: pg_ctlcluster 15 main start)"
                 f" or set {pgserver.ENV}.")
    if created:
        say(f"created PostgreSQL database {STATE_DB} for this clone's sync state ({ROOT})")


# -- this clone's emulator -------------------------------------------------------------------
# Each clone runs its own emulator (its state is var/portal.sqlite3). The pid and port live in
# var/emulator.json; a port held by anything else (another clone's emulator, any program) is
# never reused: this clone's emulator then takes a free port.

def _recorded() -> dict:
    try:
        return json.loads(EMU_FILE.read_text())
    except (OSError, ValueError):
        return {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def emulator() -> EmulatorControl:
    """The admin client of this clone's emulator (running or not yet)."""
    port = _recorded().get("port") or DEFAULT_EMU_PORT
    return EmulatorControl(f"http://127.0.0.1:{port}", timeout=5)


def ours_running() -> bool:
    rec = _recorded()
    return bool(rec) and _alive(int(rec["pid"])) and emulator().up()


def start_emulator() -> None:
    if ours_running():
        say(f"Bitrix24 emulator of this clone already running ({emulator().base_url})")
        return
    port = DEFAULT_EMU_PORT
    if not _port_free(port):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            free = sock.getsockname()[1]
        say(f"port {port} is held by another program (another clone's emulator? `python -m "
            f"tools.demo stop` there frees it); this clone's emulator takes port {free}")
        port = free
    VAR.mkdir(exist_ok=True)
    log = open(VAR / "emulator.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "b24emu", "--port", str(port), "--token", EMU_TOKEN,
         "--plan", "standard", "--state", str(VAR / "portal.sqlite3")],
        cwd=ROOT, stdout=log, stderr=log, start_new_session=True)
    EMU_FILE.write_text(json.dumps({"pid": proc.pid, "port": port}))
    for _ in range(100):
        if emulator().up():
            say(f"started Bitrix24 emulator on :{port} (state var/portal.sqlite3, "
                f"log var/emulator.log, pid {proc.pid})")
            return
        if proc.poll() is not None:
            sys.exit("the emulator exited at start; see var/emulator.log")
        time.sleep(0.1)
    sys.exit("the emulator did not answer within 10 s; see var/emulator.log")


def stop_emulator() -> None:
    rec = _recorded()
    if rec and _alive(int(rec["pid"])):
        os.killpg(int(rec["pid"]), signal.SIGTERM)
        say("stopped the emulator")
    EMU_FILE.unlink(missing_ok=True)


def ensure_ident_db() -> None:
    if IDENT_DB.exists():
        return
    import sqlalchemy as sa

    from tools.ident_demo.badinput import insert_bad_inputs
    from tools.ident_demo.clinic import create_schema, generate_clinic

    start, end = demo_dates()
    engine = sa.create_engine(f"sqlite:///{IDENT_DB}")
    create_schema(engine)
    generate_clinic(engine, seed=1, receptions=DEMO_RECEPTIONS, patients=DEMO_RECEPTIONS // 2,
                    start=start, days=DEMO_DAYS, now=datetime.now().replace(microsecond=0))
    # Real clinics have typos: the corpus of broken receptions shows how they are reported.
    bad = insert_bad_inputs(engine, start=datetime.combine(start, datetime.min.time())
                            + timedelta(hours=7))
    (VAR / "ident_demo.json").write_text(json.dumps({"start": start.isoformat(),
                                                     "end": end.isoformat()}))
    say(f"generated IDENT demo database var/{IDENT_DB.name}: {DEMO_RECEPTIONS} receptions "
        f"plus {len(bad)} deliberately broken ones, {start} .. {end}")


def setup_portal() -> None:
    """The configuration's deal and contact fields (the patient id too), as a user's
    `identsync setup-portal` makes them: the emulator, like a portal, drops undeclared
    fields, and each run's preflight asks for them."""
    from identsync.bitrix24.client import Bitrix24Client
    from identsync.cli.portal_setup import setup_portal as create_missing
    from identsync.settings import load_config

    client = Bitrix24Client(f"{emulator().base_url}/rest/1/{EMU_TOKEN}/", plan="standard")
    for entity, (added, _) in create_missing(client, load_config(), out=lambda _l: None).items():
        if added:
            say(f"created {len(added)} {entity} fields on the portal: {', '.join(added)}")


def airflow(*args: str, env: dict[str, str], check: bool = True,
            capture: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "airflow"), *args], env=env, cwd=ROOT, check=check,
                          text=True, capture_output=capture)


def ensure_airflow_db(env: dict[str, str]) -> None:
    home = VAR / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    marker = home / ".migrated"
    if not marker.exists():
        say("initialising Airflow's metadata database (SQLite under var/airflow)")
        airflow("db", "migrate", env=env, capture=True)
        marker.touch()
    from identsync.settings import load_config

    cfg = load_config()
    slots = "2" if cfg.portal_plan == "standard" else "4"
    airflow("pools", "set", cfg.pool, slots, "Bitrix24 portal requests", env=env, capture=True)


# -- commands ---------------------------------------------------------------------------------

def fresh_portal() -> bool:
    return not (VAR / "portal.sqlite3").exists() and not ours_running()


def prepare_world() -> dict[str, str]:
    """State database, emulator, portal fields, demo clinic, Airflow: the environment."""
    ensure_state_db(fresh=fresh_portal())
    start_emulator()
    setup_portal()
    ensure_ident_db()
    env = airflow_env()
    ensure_airflow_db(env)
    return env


def cmd_run() -> int:
    from identsync.settings import load_config
    from identsync.state.store import StateStore
    from identsync.sync.summary import format_summary

    env = prepare_world()
    start, end = demo_dates()
    cfg = load_config()
    before = emulator().stats()
    # Going live as README says: every reception planned in the demo's days (whatever its
    # change time), then what changed in them (a reception planned outside the days).
    confs = [json.dumps({"plan_from": start.isoformat(), "plan_to": end.isoformat()}),
             json.dumps({"date_from": start.isoformat(), "date_to": end.isoformat()})]
    store = StateStore(state_dsn())
    store.ensure_schema()
    failed = []
    for branch, conf in ((b, c) for b in cfg.branches for c in confs):
        dag_id = f"ident_to_bitrix24_branch_{branch.id}"
        log = f"dags_test_{dag_id}_{'plan' if 'plan_from' in conf else 'changes'}.log"
        say(f"airflow dags test {dag_id} -c '{conf}'   (branch {branch.name})")
        t0 = time.monotonic()
        proc = airflow("dags", "test", dag_id, "-c", conf, env=env, check=False, capture=True)
        (VAR / log).write_text(proc.stdout + proc.stderr)
        runs = store.last_runs(dag_id, 1)
        if proc.returncode != 0 or not runs:
            failed.append(dag_id)
            print(f"    FAILED (exit {proc.returncode}); log: var/{log}")
            print("\n".join((proc.stdout + proc.stderr).splitlines()[-30:]))
            continue
        summary = runs[0]["summary"] if "summary" in runs[0] else runs[0]
        print(f"    done in {time.monotonic() - t0:.0f}s; log: var/{log}")
        print("    " + format_summary(summary).replace("\n", "\n    "))
    after = emulator().stats()
    print_portal_traffic(before, after)
    if failed:
        return 1
    say("run `make demo` again: the second run finds everything in place and writes nothing")
    return 0


def print_portal_traffic(before: dict, after: dict) -> None:
    def delta(key: str) -> dict:
        b, a = before.get(key, {}) or {}, after.get(key, {}) or {}
        if isinstance(a, dict):
            return {k: v - b.get(k, 0) for k, v in a.items() if v - b.get(k, 0)}
        return a - (b or 0)

    http = after.get("http_requests", 0) - before.get("http_requests", 0)
    say(f"emulator saw {http} HTTP requests during this demo run")
    for key in ("commands", "by_method", "methods"):
        if key in after and isinstance(after[key], dict):
            for method, n in sorted(delta(key).items()):
                print(f"    {method:32s} {n}")
            break
    writes = sum(n for m, n in (delta("by_method") or delta("methods") or {}).items()
                 if isinstance(n, int) and m.rsplit(".", 1)[-1] in ("add", "update"))
    say(f"writes (add/update commands) in this run: {writes}")


def cmd_airflow() -> int:
    env = prepare_world()
    port = os.environ.get("AIRFLOW_PORT", "8080")
    env["AIRFLOW__API__PORT"] = port
    env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://localhost:{port}/execution/"
    start, end = demo_dates()
    from identsync.settings import load_config

    offset = datetime.combine(start, datetime.min.time(), load_config().tz).strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}"  # the CLI reads plain dates as UTC midnight
    say(f"starting airflow standalone on http://localhost:{port} (Ctrl-C stops it). The login "
        f"is printed below and kept in var/airflow/simple_auth_manager_passwords.json.generated")
    say(f"demo data covers {start} .. {end}: trigger a DAG with date_from/date_to, or a backfill:"
        f" airflow backfill create --dag-id ident_to_bitrix24_branch_1 --from-date "
        f"{start}T00:00:00{offset} --to-date {end}T00:00:00{offset}   "
        "(after `eval $(.venv/bin/python -m tools.demo env)` in this folder)")
    os.execve(str(BIN / "airflow"), [str(BIN / "airflow"), "standalone"], env)


def cmd_env() -> int:
    env = airflow_env()
    for key in sorted(env):
        if key.startswith(("AIRFLOW", "PYTHONPATH")):
            print(f"export {key}={json.dumps(env[key])}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="IDENT -> Bitrix24 demo")
    ap.add_argument("command", choices=["run", "airflow", "env", "stop"])
    args = ap.parse_args(argv)
    return {"run": cmd_run, "airflow": cmd_airflow, "env": cmd_env,
            "stop": lambda: (stop_emulator(), 0)[1]}[args.command]()


if __name__ == "__main__":
    sys.exit(main())
