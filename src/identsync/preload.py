"""Airflow plugin: import the sync's modules once in the processes that fork task processes.

On Linux an Airflow 3 task process is a bare ``os.fork()`` of its supervisor: a LocalExecutor
worker (itself forked from the scheduler) or a Celery worker's pool process (forked from the
worker's main process). What the parent has imported, every task process has for free
(copy-on-write pages); the rest each task process imports again. This plugin's ``on_load``
imports what the DAG file and the task bodies need: the Bitrix24 client and requests, the
configuration model, the sync's steps, psycopg2, Airflow's ``@task`` decorators. Each task
process then parses the DAG file without importing them (0.34-0.41 s of CPU per task instance
before, 0.02 s after, measured with the scheduler; ``bench/README.md``).

The scheduler loads Airflow's plugins before it forks its LocalExecutor workers. A Celery
worker loads none: ``identsync.celery_config.CELERY_CONFIG`` (``[celery]
celery_config_options``) has it import ``identsync.celery_worker`` at start, which loads them
there (``warm_worker``).

A module that fails to import here is left alone: the task process imports it itself and
reports the error where it belongs, in the task's log. ``IDENTSYNC_PRELOAD=0`` in a
component's environment turns the warm start off there (the benchmark compares both).
"""

from __future__ import annotations

import importlib
import os
import sys

from airflow.plugins_manager import AirflowPlugin

#: What a task process of the sync imports after Airflow's task runner: the DAG file's own
#: imports, then the task bodies' (they import lazily, so a process pays only for its task).
MODULES = (
    "requests",
    "psycopg2",
    "psycopg2.extensions",
    "airflow.providers.standard.decorators.python",
    "airflow.sdk.definitions.decorators.task_group",
    "identsync.settings",
    "identsync.config",
    "identsync.dag.alerts",
    "identsync.dag.tasks",
    "identsync.dag.backfill",
    "identsync.dag.connections",
    "identsync.hooks.bitrix24",
    "identsync.bitrix24.client",
    "identsync.records",
    "identsync.state",
    "identsync.sync.chunking",
    "identsync.sync.deleted",
    "identsync.sync.preflight",
    "identsync.sync.protocol",
    "identsync.sync.run",
    "identsync.sync.summary",
    "identsync.sync.window",
    "identsync.ident.connect",
    "identsync.ident.extract",
)


def warm(modules: tuple[str, ...] = MODULES) -> list[str]:
    """Import ``modules``; the names that failed to import."""
    failed = []
    for name in modules:
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except Exception:  # the task process imports it again and logs why it fails
            failed.append(name)
    return failed


def enabled() -> bool:
    """``IDENTSYNC_PRELOAD=0`` turns the warm start off in this process."""
    return os.environ.get("IDENTSYNC_PRELOAD", "1") != "0"


def warm_worker() -> None:
    """Load Airflow's plugins in this process as a task process would (the health page's,
    this one, which imports the sync): processes forked from it find them loaded."""
    if not enabled():
        return
    from airflow.sdk.plugins_manager import integrate_macros_plugins

    integrate_macros_plugins()


def warm_start() -> bool:
    """Whether this process found the sync's modules already imported (by its parent)."""
    return "identsync.dag.tasks" in sys.modules


def _in_task_process() -> bool:
    """A task process talks to its supervisor through the task runner's comms."""
    runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    return getattr(runner, "SUPERVISOR_COMMS", None) is not None


class IdentSyncPreload(AirflowPlugin):
    name = "identsync_preload"

    @classmethod
    def on_load(cls, *args, **kwargs):
        # A task process imports only what its own task needs (the task bodies import lazily),
        # whether or not it has parsed the DAG file yet: only its parents are warmed.
        if not enabled() or warm_start() or _in_task_process():
            return
        warm()
