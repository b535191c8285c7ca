"""The warm start (identsync.preload): the plugin imports the sync's modules in a process that
will fork task processes, nothing in a process that has parsed the DAG file already, nothing
when turned off; a module that fails to import is left to the task. Each case runs in a fresh
interpreter, as an Airflow component starts. The scheduler test checks the task processes of
a real LocalExecutor find the modules imported (tests/e2e/test_scheduler.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from identsync import preload

PROBE = """
import json, sys
{before}
from identsync.preload import IdentSyncPreload
IdentSyncPreload.on_load()
print(json.dumps({{m: m in sys.modules for m in {names!r}}}))
"""
NAMES = ["identsync.dag.tasks", "identsync.sync.protocol", "identsync.hooks.bitrix24",
         "requests", "psycopg2"]


def _probe(before: str = "", **env: str) -> dict[str, bool]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(before=before, names=NAMES)],
                         env={**os.environ, **env}, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_a_component_that_loads_plugins_gets_every_module_a_task_imports():
    assert _probe() == dict.fromkeys(NAMES, True)


def test_a_task_process_that_parsed_the_dag_imports_only_what_its_task_needs():
    # The DAG file imports identsync.dag.tasks before Airflow loads plugins in a task process.
    got = _probe(before="import identsync.dag.tasks")
    assert got["identsync.dag.tasks"] and not got["identsync.sync.protocol"]
    assert not got["identsync.hooks.bitrix24"]


def test_a_task_process_that_loads_plugins_before_the_dag_imports_nothing_more():
    got = _probe(before="import airflow.sdk.execution_time.task_runner as r\n"
                        "r.SUPERVISOR_COMMS = object()")
    assert not any(got[m] for m in NAMES if m.startswith("identsync.")), got


def test_turned_off_it_imports_nothing():
    got = _probe(IDENTSYNC_PRELOAD="0")
    assert not any(got[m] for m in NAMES if m.startswith("identsync.")), got


def test_a_module_that_fails_to_import_is_named_and_the_rest_still_load():
    assert preload.warm(("identsync.no_such_module", "identsync.sync.window")) == [
        "identsync.no_such_module"]
    assert "identsync.sync.window" in sys.modules


def test_every_module_named_exists():
    assert preload.warm() == []


def test_a_celery_worker_loads_the_plugins_before_it_forks_its_pool():
    # Celery imports identsync.celery_worker in the worker's main process (CELERY_CONFIG).
    got = json.loads(subprocess.run(
        [sys.executable, "-c", "import json, sys\nimport identsync.celery_worker\n"
         "from airflow.sdk.plugins_manager import _get_plugins\n"
         "print(json.dumps({'tasks': 'identsync.dag.tasks' in sys.modules, "
         "'page': 'identsync.ui.plugin' in sys.modules, "
         "'cached': _get_plugins.cache_info().currsize}))"],
        capture_output=True, text=True, timeout=120, check=True).stdout.strip().splitlines()[-1])
    assert got == {"tasks": True, "page": True, "cached": 1}


def test_the_celery_configuration_is_airflows_plus_the_module():
    # In a fresh interpreter: the provider reads celery_config_options once per process, and
    # its worker app is built from that dict alone (get_celery_configuration).
    from tools.airflow_stack.settings import CELERY_CONFIG_OPTIONS

    probe = (
        "import json\n"
        "from airflow.providers.celery.executors import celery_executor_utils as u\n"
        "from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG\n"
        "ours = u.get_celery_configuration()\n"
        "rest = {k: v for k, v in ours.items() if k != 'imports'}\n"
        "print(json.dumps({'same': rest == DEFAULT_CELERY_CONFIG, 'imports': ours['imports'],"
        " 'broker': u.app.conf.broker_url == DEFAULT_CELERY_CONFIG['broker_url']}))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, check=True,
                         env={**os.environ, "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS":
                              CELERY_CONFIG_OPTIONS,
                              "AIRFLOW__CELERY__BROKER_URL": "redis://127.0.0.1:6379/7"})
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"same": True, "imports": ["identsync.celery_worker"], "broker": True}
