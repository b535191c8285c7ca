"""The sync-health FastAPI app, mounted by Airflow's api-server (``plugins/identsync_ui.py``).

A plugin's app is NOT behind Airflow's authentication: Airflow mounts it as it is. So every
route here depends on :func:`airflow_user`, which runs Airflow's own ``get_user`` (the JWT
from the ``Authorization: Bearer`` header, else the UI's ``_token`` cookie, validated by the
configured auth manager): no token is 401, a bad or expired one 401/403. The page then shows
only the branches whose DAG runs the auth manager lets this user read.

Airflow is imported inside the functions: the plugin file is also imported by schedulers,
DAG processors and workers, which never serve this app.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from identsync.ui.health import Links, health_report
from identsync.ui.page import render

log = logging.getLogger(__name__)

URL_PREFIX = "/identsync"
HEALTH_PATH = "/health"


async def airflow_user(request: Request) -> Any:
    """The authenticated Airflow user of this request, exactly as Airflow's own API finds it."""
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    credentials = await bearer_scheme(request)
    return await get_user(request, None, credentials)


def _can_read_runs(user: Any) -> Any:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import (
        DagAccessEntity,
        DagDetails,
    )

    manager = get_auth_manager()

    def can_read(dag_id: str) -> bool:
        return manager.is_authorized_dag(method="GET", access_entity=DagAccessEntity.RUN,
                                         details=DagDetails(id=dag_id), user=user)

    return can_read


def ui_root() -> str:
    """Path of Airflow's UI: the path of ``[api] base_url`` ("/" by default)."""
    from airflow.configuration import conf

    path = urlsplit(conf.get("api", "base_url", fallback="") or "").path or "/"
    return path if path.endswith("/") else path + "/"


def dag_runs(pipeline: str, n: int) -> list[dict[str, Any]]:
    """The newest ``n`` rows of Airflow's own dag_run table for ``pipeline``, as plain dicts:
    failed and stuck runs never reach run_summary, so only Airflow knows of them."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(select(DagRun).where(DagRun.dag_id == pipeline)
                               .order_by(DagRun.run_after.desc()).limit(n)).all()
        return [{"run_id": r.run_id, "state": str(getattr(r.state, "value", r.state)),
                 "run_type": str(getattr(r.run_type, "value", r.run_type)),
                 "queued_at": r.queued_at, "start_date": r.start_date, "end_date": r.end_date,
                 "logical_date": r.logical_date, "conf": dict(r.conf or {})} for r in rows]


def _report(user: Any) -> dict[str, Any]:
    from identsync.dag.connections import state_dsn
    from identsync.settings import load_config
    from identsync.state import SyncState

    try:
        cfg = load_config()
        can_read = _can_read_runs(user)
        if not any(can_read(cfg.pipeline_id(b.id)) for b in cfg.branches):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                "no access to the runs of any sync pipeline")
        state = SyncState(state_dsn(cfg.state_conn_id))
        return health_report(cfg, state, links=Links(ui_root()), can_read=can_read,
                             dag_runs=dag_runs)
    except HTTPException:
        raise
    except Exception as exc:
        # Names the kind of failure only: a connection error may quote the DSN.
        log.exception("sync health: reading the configuration or the sync state failed")
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"the sync state cannot be read ({type(exc).__name__})") from None


def create_app() -> FastAPI:
    """The app Airflow mounts at :data:`URL_PREFIX`."""
    app = FastAPI(title="IDENT -> Bitrix24 sync health", docs_url=None, redoc_url=None,
                  openapi_url=None)

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> RedirectResponse:
        # root_path is where Airflow mounted us (with [api] base_url's path in front).
        return RedirectResponse(f"{request.scope.get('root_path', '')}{HEALTH_PATH}")

    @app.get(HEALTH_PATH, response_class=HTMLResponse)
    def health_page(user: Any = Depends(airflow_user)) -> HTMLResponse:
        return HTMLResponse(render(_report(user), json_url="health.json"),
                            headers={"Cache-Control": "no-store"})

    @app.get(f"{HEALTH_PATH}.json")
    def health_json(user: Any = Depends(airflow_user)) -> JSONResponse:
        return JSONResponse(_report(user), headers={"Cache-Control": "no-store"})

    return app


app = create_app()
