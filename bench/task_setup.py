"""CPU our own code spends in a task process before the task's first request to the portal.

Issue #22: "our own set-up per task instance (from process start of the task body to its first
request) <= 0.25 s CPU at the median". ``bench/scheduler.py`` sees this only as wall time
under the real scheduler; here every sample is a fresh Python process that does what a task
process does for our part, against the b24emu emulator and the real PostgreSQL:

1. import what the DAG file imports (``identsync.dag.tasks``, ``alerts``, ``settings``);
2. execute ``dags/ident_to_bitrix24.py`` the way the task runner does (parsing context set to
   the one DAG, so ``CONFIG = load_config()`` and one DAG build run);
3. call the real task body (``identsync.dag.tasks.<kind>``) in a task context, on the inputs a
   real run staged, and stop the process when the client sends its first HTTP request.

Before any of it the child imports Airflow's task runner and supervisor, which a real task
process has loaded before it reaches our code (it is forked by the supervisor and runs the
task runner): those imports are Airflow's, not ours, and are not counted. An executor whose
workers have more loaded (a LocalExecutor worker forked from a scheduler holds psycopg2, say)
spends less than measured here.

CPU time (``time.process_time``) is attributed exclusively to the innermost of these:

* ``imports``: any import statement that loads a module (ours and what ours pull in);
* ``config``: ``load_config`` / ``runtime.config`` (file search, parse, validation, branch);
* ``connections``: the state DSN from its Airflow connection, hook -> client (the Bitrix24
  connection lookup, the shared limiter), the state object, every ``psycopg2.connect``;
* ``dag_file``: the rest of executing the DAG file (mostly Airflow's ``@dag``/``@task``);
* ``rest``: the rest of the task body up to the first request (queries, records, limiter).

``body`` is everything after the DAG file until the first request (the issue's measure);
``total`` adds steps 1 and 2. Run: ``.venv/bin/python -m bench.task_setup [-n 15] [--out F]``.
"""

from __future__ import annotations

import argparse
import builtins
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DAG_FILE = ROOT / "dags" / "ident_to_bitrix24.py"
BRANCH = 1
DAG_ID = f"ident_to_bitrix24_branch_{BRANCH}"
RUN_ID = "manual__task_setup"
KINDS = ("batch_lookup", "upsert_contacts_deals", "add_comments")
PHASES = ("imports", "config", "connections", "dag_file", "rest", "body", "total")
TOKEN = "task-setup-webhook-token"  # a sandbox token for the local emulator, not a secret


# -- the child: one task process up to its first request ---------------------------------------

class Meter:
    """Exclusive CPU time per category: the innermost active category is charged."""

    def __init__(self, base: str) -> None:
        self.stack = [base]
        self.acc: dict[str, float] = defaultdict(float)
        self.mark = time.process_time()

    def _charge(self) -> None:
        now = time.process_time()
        self.acc[self.stack[-1]] += now - self.mark
        self.mark = now

    def push(self, category: str) -> None:
        self._charge()
        self.stack.append(category)

    def pop(self) -> None:
        self._charge()
        self.stack.pop()

    def switch(self, base: str) -> None:
        """Replace the bottom category (the step the child is in)."""
        self._charge()
        self.stack[0] = base


METER = Meter("before")
BODY_START: dict[str, float] = {}  # the meter's figures when the task body starts
_AFTER_IMPORT: dict[str, Any] = {}  # module -> patch applied once it is loaded


def _loaded(name: str, fromlist: Any) -> bool:
    mod = sys.modules.get(name)
    if mod is None:
        return False
    return not fromlist or all(f == "*" or hasattr(mod, f) for f in fromlist)


def _install_import_meter() -> None:
    original = builtins.__import__

    def metered(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and _loaded(name, fromlist):
            return original(name, globals, locals, fromlist, level)
        package = name if level == 0 else (globals or {}).get("__package__") or "?"
        METER.push("imports/" + package.split(".")[0])
        try:
            return original(name, globals, locals, fromlist, level)
        finally:
            METER.pop()
            for mod in [m for m in _AFTER_IMPORT if m in sys.modules]:
                _AFTER_IMPORT.pop(mod)(sys.modules[mod])

    builtins.__import__ = metered


def _metered(category: str, fn: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        METER.push(category)
        try:
            return fn(*args, **kwargs)
        finally:
            METER.pop()

    wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
    return wrapper


def _stop_at_first_request(requests_mod: Any) -> None:
    def send(session: Any, request: Any, **kwargs: Any) -> Any:
        METER.switch("after")
        method = request.url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        print(json.dumps({"cpu": dict(METER.acc), "first_request": method,
                          "body_start": BODY_START}), flush=True)
        os._exit(0)

    requests_mod.Session.send = send


def _patch_psycopg2(psycopg2_mod: Any) -> None:
    psycopg2_mod.connect = _metered("connections", psycopg2_mod.connect)


def _instrument(rt: Any, settings: Any) -> None:
    """Wrap the real functions of the path (nothing re-implemented: they still run)."""
    settings.load_config = _metered("config", settings.load_config)
    rt.load_config = settings.load_config
    rt.config = _metered("config", rt.config)
    for name in ("state_dsn", "state", "portal"):
        setattr(rt, name, _metered("connections", getattr(rt, name)))
    for mod, patch in (("psycopg2", _patch_psycopg2), ("requests", _stop_at_first_request)):
        if mod in sys.modules:
            patch(sys.modules[mod])
        else:
            _AFTER_IMPORT[mod] = patch


def _load_dag_file() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("ident_to_bitrix24", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, DAG_ID)


def task_context(dag: Any, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """What the body reads from Airflow's context (the task runner's, reduced to that)."""
    from datetime import datetime, timezone
    from types import SimpleNamespace

    return {"dag": dag, "run_id": RUN_ID, "params": params,
            "ti": SimpleNamespace(task_id=kind, map_index=0, try_number=1),
            "dag_run": SimpleNamespace(run_type="manual", clear_number=0,
                                       start_date=datetime.now(timezone.utc)),
            "data_interval_start": None, "data_interval_end": None}


def run_body(tasks: Any, dag: Any, kind: str, arg: Any, params: dict[str, Any]) -> Any:
    from airflow.sdk.execution_time.context import set_current_context

    with set_current_context(task_context(dag, kind, params)):
        return getattr(tasks, kind)(arg)


def child(kind: str, input_path: Path) -> None:
    # What a task process has loaded before our code runs (the supervisor forks it and it
    # runs the task runner): Airflow's, not counted.
    import airflow.sdk.execution_time.context  # noqa: F401
    import airflow.sdk.execution_time.supervisor  # noqa: F401
    import airflow.sdk.execution_time.task_runner  # noqa: F401

    job = json.loads(input_path.read_text(encoding="utf-8"))
    os.environ["_AIRFLOW_PARSING_CONTEXT_DAG_ID"] = DAG_ID
    _install_import_meter()
    METER.switch("imports")  # step 1: the DAG file's imports of our modules
    from identsync import settings
    from identsync.dag import alerts, tasks  # noqa: F401
    from identsync.dag import runtime as rt
    _instrument(rt, settings)
    METER.switch("dag_file")  # step 2
    dag = _load_dag_file()
    METER.switch("rest")  # step 3: the task body
    BODY_START.update(METER.acc)
    run_body(tasks, dag, kind, job["arg"], job["params"])
    print(json.dumps({"cpu": dict(METER.acc), "first_request": None,
                      "body_start": BODY_START}), flush=True)


# -- the parent: a portal, a state database, a staged run, N children per kind -----------------

def _child_cmd(kind: str, input_path: Path, *, importtime: bool = False) -> list[str]:
    return [sys.executable, *(["-X", "importtime"] if importtime else []), "-m",
            "bench.task_setup", "--child", kind, "--input", str(input_path)]


def stage(env: dict[str, str], kind: str, arg: Any, params: dict[str, Any], work: Path) -> Any:
    """Run one task body to its end in a child (the run's real state for the next task)."""
    path = work / f"stage-{kind}.json"
    path.write_text(json.dumps({"arg": arg, "params": params}), encoding="utf-8")
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "bench.task_setup", "--stage", kind,
                          "--input", str(path)], env=env, cwd=ROOT, capture_output=True,
                         text=True, check=False)
    if out.returncode:
        raise SystemExit(f"staging {kind} failed:\n{out.stderr[-4000:]}")
    print(f"staged {kind} in {time.monotonic() - t0:.1f}s", file=sys.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def stage_child(kind: str, input_path: Path) -> None:
    job = json.loads(input_path.read_text(encoding="utf-8"))
    os.environ["_AIRFLOW_PARSING_CONTEXT_DAG_ID"] = DAG_ID
    from identsync.dag import tasks

    result = run_body(tasks, _load_dag_file(), kind, job["arg"], job["params"])
    print(json.dumps(result, default=str), flush=True)


def one_process(env: dict[str, str], kind: str, path: Path) -> dict[str, Any]:
    proc = subprocess.run(_child_cmd(kind, path), env=env, cwd=ROOT, capture_output=True,
                          text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{\"cpu\"")]
    if proc.returncode or not lines:
        raise SystemExit(f"{kind} child failed:\n{proc.stderr[-4000:]}")
    result = json.loads(lines[-1])
    if result["first_request"] is None:
        raise SystemExit(f"{kind}: the body ended without a request to the portal")
    return result


def sample(envs: list[dict[str, str]], kind: str, arg: Any, params: dict[str, Any],
           work: Path, n: int, importtime: Path | None = None) -> list[list[dict[str, Any]]]:
    """``n`` processes per environment, alternating, so a busy spell of the shared machine
    weighs on a baseline and on the change alike."""
    path = work / f"input-{kind}.json"
    path.write_text(json.dumps({"arg": arg, "params": params}), encoding="utf-8")
    if importtime is not None:  # one extra process, not counted: where its imports go
        proc = subprocess.run(_child_cmd(kind, path, importtime=True), env=envs[0], cwd=ROOT,
                              capture_output=True, text=True, check=False)
        (importtime / f"importtime-{kind}.txt").write_text(proc.stderr, encoding="utf-8")
    for env in envs[1:]:  # a baseline's bytecode is written by its first process: not counted
        one_process(env, kind, path)
    out: list[list[dict[str, Any]]] = [[] for _ in envs]
    for _ in range(n):
        for results, env in zip(out, envs):
            results.append(one_process(env, kind, path))
    return out


def phases(cpu: dict[str, float]) -> dict[str, float]:
    imports = sum(v for k, v in cpu.items() if k.startswith("imports"))
    out = {"imports": imports, "config": cpu.get("config", 0.0),
           "connections": cpu.get("connections", 0.0), "dag_file": cpu.get("dag_file", 0.0),
           "rest": cpu.get("rest", 0.0)}
    out["total"] = sum(out.values())
    return out


def body_cpu(result: dict[str, Any], sample_phases: dict[str, float]) -> float:
    """Everything from the task body's start to its first request (imports in it included)."""
    start = result.get("body_start", {})
    return sample_phases["total"] - sum(v for k, v in start.items() if k != "before")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    per = [phases(r["cpu"]) for r in results]
    for p, r in zip(per, results):
        p["body"] = body_cpu(r, p)
    stats = {ph: {"p50": round(statistics.median(p[ph] for p in per), 4),
                  "p95": round(percentile([p[ph] for p in per], 95), 4)} for ph in PHASES}
    by_package: dict[str, list[float]] = defaultdict(list)
    for r in results:
        for k, v in r["cpu"].items():
            if k.startswith("imports/"):
                by_package[k.split("/", 1)[1]].append(v)
    imports = {k: round(statistics.median(v + [0.0] * (len(results) - len(v))), 4)
               for k, v in by_package.items()}
    return {"samples": len(results), "first_request": sorted({r["first_request"] for r in results}),
            "cpu_s": stats,
            "imports_p50_by_package": dict(sorted(imports.items(), key=lambda kv: -kv[1])[:12])}


def table(report: dict[str, Any], title: str) -> str:
    head = f"{'task':24}" + "".join(f"{ph:>15}" for ph in PHASES)
    source = "bytecode" if report["bytecode"] else "compiled from source (no .pyc)"
    lines = [f"{title}: CPU seconds, median / p95, per fresh task process; our modules "
             f"{source}", head]
    for kind, s in report["kinds"].items():
        lines.append(f"{kind:24}" + "".join(
            f"{s['cpu_s'][ph]['p50']:>8.3f}/{s['cpu_s'][ph]['p95']:<6.3f}" for ph in PHASES))
    for kind, s in report["kinds"].items():
        top = ", ".join(f"{k} {v:.3f}" for k, v in list(s["imports_p50_by_package"].items())[:6])
        lines.append(f"  {kind} imports by package (p50): {top}")
    return "\n".join(lines)


def environment(work: Path, emulator_url: str, dsn: str, bytecode: bool) -> dict[str, str]:
    from tests.chaos import harness as h
    from tools import pgserver
    from tools.localairflow import airflow_env

    ident = work / "ident.sqlite3"
    h.make_clinic(ident, seed=5, receptions=60, days=1, start=h.START,
                  now=h.generation_now(h.START))
    config = h.write_config(work / "identsync.json", branches=[{"id": BRANCH, "name": "A"}])
    env = airflow_env(work / "airflow", emulator_url=emulator_url, token=TOKEN, ident_db=ident,
                      state_conn=pgserver.airflow_connection(dsn), plan="unlimited",
                      config=config)
    if bytecode:  # compiled once by the staging processes, read by every sample
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "src"),
                                         env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def with_source(env: dict[str, str], src: Path) -> dict[str, str]:
    """``env`` with the package imported from another source tree (the baseline)."""
    return {**env, "PYTHONPATH": os.pathsep.join([str(src.resolve()), env["PYTHONPATH"]])}


def measure(n: int, kinds: list[str], importtime: Path | None = None,
            bytecode: bool = False, baseline: Path | None = None) -> dict[str, Any]:
    from b24emu.server import EmulatorServer
    from tests.chaos import harness as h
    from tools import pgserver

    schema = f"task_setup_{os.getpid()}"
    dsn = pgserver.create_schema("test", schema, fresh=True)
    emu = EmulatorServer(token=TOKEN, plan="unlimited").start()
    try:
        with tempfile.TemporaryDirectory(prefix="task_setup_") as tmp:
            work = Path(tmp)
            env = environment(work, emu.base_url, dsn, bytecode)
            day = h.START.isoformat()
            params = {"date_from": day, "date_to": (h.START + timedelta(days=1)).isoformat(),
                      "dry_run": False, "full_check": False}
            extracted = stage(env, "extract_receptions", BRANCH, params, work)
            chunk = stage(env, "transform", extracted, params, work)[0]
            report: dict[str, Any] = {
                "n": n, "chunk_size": chunk["size"],
                "bytecode": bytecode or not os.environ.get("PYTHONDONTWRITEBYTECODE"),
                "kinds": {}}
            envs = [env] if baseline is None else [env, with_source(env, baseline)]
            if baseline is not None:
                report["baseline"] = {"src": str(baseline), "kinds": {}}
            # Each kind starts from what its upstream really returned; a child stops before
            # its first request is sent, so the portal and the run stay as staged.
            looked = stage(env, "batch_lookup", chunk, params, work) \
                if {"upsert_contacts_deals", "add_comments"} & set(kinds) else None
            inputs = {"batch_lookup": chunk, "upsert_contacts_deals": looked}
            for kind in kinds:
                if kind == "add_comments":
                    inputs[kind] = stage(env, "upsert_contacts_deals", looked, params, work)
                results, *base = sample(envs, kind, inputs[kind], params, work, n,
                                        importtime)
                report["kinds"][kind] = summarise(results)
                if base:
                    report["baseline"]["kinds"][kind] = summarise(base[0])
                print(f"{kind}: {n} samples, first request {results[0]['first_request']}",
                      file=sys.stderr)
            return report
    finally:
        emu.stop()
        pgserver.drop_schema("test", schema)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=15, help="processes per task kind (default 15)")
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    ap.add_argument("--out", type=Path, help="write the figures as JSON here")
    ap.add_argument("--importtime", type=Path, metavar="DIR",
                    help="also run one process per kind under -X importtime, its log in DIR")
    ap.add_argument("--bytecode", action="store_true",
                    help="let the task processes read compiled bytecode (a private cache) even "
                         "where PYTHONDONTWRITEBYTECODE is set, as an installed package does")
    ap.add_argument("--baseline", type=Path, metavar="SRC",
                    help="also measure the package from this source tree (e.g. an earlier "
                         "commit's src/ from git archive), alternating process by process")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--stage", help=argparse.SUPPRESS)
    ap.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.input)
        return 0
    if args.stage:
        stage_child(args.stage, args.input)
        return 0
    report = measure(args.n, args.kinds, args.importtime, args.bytecode, args.baseline)
    if "baseline" in report:
        print(table({**report, **report["baseline"]}, f"baseline {args.baseline}"))
        print()
    print(table(report, "this tree"))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
