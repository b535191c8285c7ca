"""What an Airflow task turns its context into: the config, the portal, the state, the run.

Airflow-specific and nothing else: every sync rule is in ``identsync.sync``. Imports of
Airflow and of heavy modules stay inside functions, so parsing the DAG file stays cheap.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from identsync import cputime
from identsync.config import SyncConfig
from identsync.errors import Retry, retry_class, what_to_fix
from identsync.settings import load_config

F = TypeVar("F", bound=Callable[..., Any])
_log = logging.getLogger("identsync.dag")


def context() -> dict[str, Any]:
    from airflow.sdk import get_current_context

    return get_current_context()


def pipeline(ctx: dict[str, Any]) -> str:
    return ctx["dag"].dag_id


def run_key(ctx: dict[str, Any]) -> str:
    """Key of the run's staged data: one per DAG run, stable across retries and clears."""
    return f"{ctx['dag'].dag_id}/{ctx['run_id']}"


def dry_run(ctx: dict[str, Any]) -> bool:
    return bool((ctx.get("params") or {}).get("dry_run", False))


def attempt(ctx: dict[str, Any]) -> int:
    return int(getattr(ctx.get("ti"), "try_number", 1) or 1)


@functools.lru_cache(maxsize=4)
def state_dsn(conn_id: str) -> str:
    """The state database's DSN (one connection lookup per task process)."""
    from identsync.dag.connections import state_dsn as from_connection

    return from_connection(conn_id)


def state(cfg: SyncConfig):
    from identsync.state import SyncState

    return SyncState(state_dsn(cfg.state_conn_id))


def portal(cfg: SyncConfig):
    from identsync.hooks.bitrix24 import Bitrix24Hook

    # The limiter lives in the state database: tasks are separate processes (and Celery
    # hosts), and only a bucket they all share keeps them under the portal's limit together.
    return Bitrix24Hook(bitrix24_conn_id=cfg.bitrix24_conn_id, default_plan=cfg.portal_plan,
                        state_dsn=state_dsn(cfg.state_conn_id)).get_conn()


def max_map_length() -> int:
    from airflow.sdk.configuration import conf

    return conf.getint("core", "max_map_length", fallback=1024)


def all_mapped(mapped: Any) -> list[Any]:
    """A mapped task's XComs as a list.

    Indexed by length: iterating Airflow's lazy XCom list probes one past the end and logs a
    confusing "XCom not found" error in the task log. A task in a mapped task group that
    expanded to a single instance comes back as that instance's value, not as a list of one.
    """
    if not mapped:
        return []
    if isinstance(mapped, dict):
        return [mapped]
    return [mapped[i] for i in range(len(mapped))]


def fail_fast(fn: F) -> F:
    """Errors that retrying cannot help fail the task at once, saying what to fix.

    Everything else propagates unchanged, so Airflow retries the task as configured.
    """
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = cputime.body_started()
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if retry_class(exc) is not Retry.NEVER:
                raise
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(
                f"{type(exc).__name__}: {exc} -- not retried: {what_to_fix(exc)}") from None
        finally:
            # One line per task instance: the benchmark's CPU split (bench/cpu_split.py).
            _log.info("%s", cputime.summary_line(started))
    return wrapper  # type: ignore[return-value]


def config(ctx: dict[str, Any]) -> SyncConfig:
    """The configuration as the running DAG's branch sees it (its own settings applied)."""
    cfg = load_config()
    branch_id = cfg.branch_of_pipeline(pipeline(ctx))
    return cfg.for_branch(branch_id) if branch_id is not None else cfg
