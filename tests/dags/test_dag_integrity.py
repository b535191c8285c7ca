"""Every DAG file imports cleanly, without touching the network, and is wired as designed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
PY = sys.executable


def _dagbag_env(tmp_path: Path, config: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
    })
    if config:
        env["IDENTSYNC_CONFIG"] = str(config)
    return env


# Runs in a child process so Airflow's import-time setup never leaks into other tests. Any
# socket connect during parsing is turned into an import error that the test then reports.
PROBE = r"""
import json, socket, sys
def _no_network(*a, **k):
    raise RuntimeError("network access at DAG parse time")
socket.socket.connect = _no_network
socket.create_connection = _no_network
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag in bag.dags.values():
    out["dags"][dag.dag_id] = {
        "tasks": sorted(t.task_id for t in dag.tasks),
        "tags": sorted(dag.tags),
        "retries": {t.task_id: t.retries for t in dag.tasks},
        "pools": {t.task_id: t.pool for t in dag.tasks},
        "multiple_outputs": {t.task_id: t.multiple_outputs for t in dag.tasks},
        "max_active_runs": dag.max_active_runs,
        "timetable": type(dag.timetable).__name__,
        "params": sorted(dag.params.keys()),
        "upstream": {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},
    }
print("RESULT" + json.dumps(out))
"""


def _load(tmp_path: Path, config: Path | None = None) -> dict:
    proc = subprocess.run([PY, "-c", PROBE, str(DAGS)], env=_dagbag_env(tmp_path, config),
                          capture_output=True, text=True, timeout=180)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    assert line, proc.stderr[-3000:]
    return json.loads(line[-1][len("RESULT"):])


@pytest.fixture(scope="module")
def bag(tmp_path_factory):
    return _load(tmp_path_factory.mktemp("dagbag"))


def test_no_import_errors_and_no_network(bag):
    assert bag["errors"] == {}


def sync_dags(bag):
    return {k: v for k, v in bag["dags"].items() if not k.endswith("_deleted")}


def test_two_dags_per_configured_branch(bag):
    cfg = json.loads((DAGS / "identsync.json").read_text(encoding="utf-8"))
    expected = {f"ident_to_bitrix24_branch_{b['id']}" for b in cfg["branches"]}
    assert set(sync_dags(bag)) == expected
    assert set(bag["dags"]) - expected == {f"{d}_deleted" for d in expected}


def test_deleted_reception_dags_run_one_pooled_task(bag):
    for dag_id, dag in bag["dags"].items():
        if dag_id.endswith("_deleted"):
            assert dag["tasks"] == ["reconcile_deleted"]
            assert dag["pools"]["reconcile_deleted"] == "bitrix24"
            assert dag["params"] == ["dry_run"]


def test_wiring_retries_pools_and_schedule(bag):
    for dag in sync_dags(bag).values():
        assert dag["tasks"] == sorted(["extract_receptions", "transform", "batch_lookup",
                                       "upsert_contacts_deals", "add_comments", "run_summary"])
        assert dag["upstream"]["batch_lookup"] == ["transform"]
        assert dag["upstream"]["upsert_contacts_deals"] == ["batch_lookup"]
        assert dag["upstream"]["add_comments"] == ["upsert_contacts_deals"]
        assert "add_comments" in dag["upstream"]["run_summary"]
        assert all(r >= 2 for r in dag["retries"].values())
        for t in ("batch_lookup", "upsert_contacts_deals", "add_comments"):
            assert dag["pools"][t] == "bitrix24"
        assert dag["max_active_runs"] == 1
        assert dag["timetable"] == "CronDataIntervalTimetable"
        assert {"date_from", "date_to", "dry_run", "full_check"} <= set(dag["params"])
        assert "ident" in dag["tags"] and "bitrix24" in dag["tags"]


def test_each_task_instance_stores_one_xcom(bag):
    # The bodies return dicts; an inferred multiple_outputs would store each key again.
    for dag in bag["dags"].values():
        assert set(dag["multiple_outputs"].values()) == {False}, dag["multiple_outputs"]


def test_bad_config_fails_import_naming_the_key(tmp_path):
    cfg = json.loads((DAGS / "identsync.json").read_text(encoding="utf-8"))
    cfg["chunk_size"] = 500
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(cfg), encoding="utf-8")
    out = _load(tmp_path, bad)
    assert out["dags"] == {}
    (err,) = out["errors"].values()
    assert "chunk_size" in err

