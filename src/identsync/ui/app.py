"""The sync-health FastAPI app, mounted by Airflow's api-server (``plugins/identsync_ui.py``).

A plugin's app is NOT behind Airflow's authentication: Airflow mounts it as it is. So every
route here depends on :func:`airflow_user`, which runs Airflow's own ``get_user`` (the JWT
from the ``Authorization: Bearer`` header, else the UI's ``_token`` cookie, validated by the
configured auth manager): no token is 401, a bad or expired one 401/403. The page then shows
only the branches whose DAG runs the auth manager lets this user read.

A user the auth manager lets edit a branch's DAG gets a button that gives its dead records
new tries (``POST /health/requeue``). The login cookie alone never suffices: the POST must
come from this origin and carry the user's token (see :func:`csrf_token`), and the right to
edit the DAG is checked again.

Airflow is imported inside the functions: the plugin file is also imported by schedulers,
DAG processors and workers, which never serve this app.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from identsync.ui.health import Links, health_report
from identsync.ui.page import render

log = logging.getLogger(__name__)

URL_PREFIX = "/identsync"
HEALTH_PATH = "/health"
REQUEUE_PATH = "/health/requeue"
CSRF_FIELD = "csrf_token"


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


def _can_edit_dag(user: Any) -> Callable[[str], bool]:
    """May ``user`` edit this DAG (PUT on the DAG: what Airflow asks before it pauses one)?
    Giving dead records new tries changes what the DAG's next run does."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    manager = get_auth_manager()

    def can_edit(dag_id: str) -> bool:
        return manager.is_authorized_dag(method="PUT", details=DagDetails(id=dag_id), user=user)

    return can_edit


# --- CSRF ------------------------------------------------------------------------------------
# The browser sends Airflow's login cookie with any request to this origin, a forged one from
# another site too. A POST is taken only (1) from this origin (Origin, else Referer) and (2)
# with a token only this server can make for this user: an HMAC of the user id under
# [api] secret_key, which every api-server of one Airflow shares (Airflow says so) and no
# other site can read from the page.

def csrf_token(secret: str, user_id: str) -> str:
    """The form token of ``user_id``: HMAC-SHA256 under the server's secret."""
    return hmac.new(secret.encode("utf-8"), b"identsync-requeue\0" + user_id.encode("utf-8"),
                    hashlib.sha256).hexdigest()


def csrf_ok(secret: str, user_id: str, token: str | None) -> bool:
    return bool(secret and token) and hmac.compare_digest(str(token),
                                                          csrf_token(secret, user_id))


def same_origin(headers: Mapping[str, str], hosts: set[str]) -> bool:
    """Did the browser say the request comes from one of ``hosts`` (host[:port])? A request
    that says nothing (or "null", a sandboxed or privacy-stripped origin) is refused."""
    source = headers.get("origin") or headers.get("referer") or ""
    if not source or source == "null":
        return False
    return urlsplit(source).netloc.lower() in hosts


def _secret() -> str:
    """[api] secret_key; "" when unset (then the page offers no button and takes no POST)."""
    from airflow.configuration import conf

    return conf.get("api", "secret_key", fallback="") or ""


def _user_id(user: Any) -> str:
    return str(user.get_id())


def _own_hosts(request: Request) -> set[str]:
    from airflow.configuration import conf

    hosts = {request.headers.get("host", "").lower()}
    base = urlsplit(conf.get("api", "base_url", fallback="") or "").netloc.lower()
    return {h for h in (*hosts, base) if h}


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


def open_state() -> tuple[Any, Any]:
    """The configuration and the sync state the page reads (and requeues in)."""
    from identsync.dag.connections import state_dsn
    from identsync.settings import load_config
    from identsync.state import SyncState

    cfg = load_config()
    return cfg, SyncState(state_dsn(cfg.state_conn_id))


def _report(user: Any, opener: Callable[[], tuple[Any, Any]] = open_state,
            runs_of: Callable[[str, int], list[dict[str, Any]]] | None = dag_runs
            ) -> dict[str, Any]:
    try:
        cfg, state = opener()
        can_read = _can_read_runs(user)
        if not any(can_read(cfg.pipeline_id(b.id)) for b in cfg.branches):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                "no access to the runs of any sync pipeline")
        return health_report(cfg, state, links=Links(ui_root()), can_read=can_read,
                             dag_runs=runs_of, can_edit=_can_edit_dag(user))
    except HTTPException:
        raise
    except Exception as exc:
        # Names the kind of failure only: a connection error may quote the DSN.
        log.exception("sync health: reading the configuration or the sync state failed")
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"the sync state cannot be read ({type(exc).__name__})") from None


def _requeued_message(report: dict[str, Any], pipeline: str | None, n: str | None
                      ) -> str | None:
    """The note after a requeue: only for a pipeline on the page and a number (no echo)."""
    if not pipeline or not n or not n.isdigit():
        return None
    for p in report["pipelines"]:
        if p["pipeline"] == pipeline:
            return (f"Branch {p['branch_id']} ({pipeline}): {int(n)} dead record(s) queued "
                    "again; the next run tries them.")
    return None


def requeue_dead(user: Any, form: Mapping[str, list[str]], headers: Mapping[str, str],
                 hosts: set[str], opener: Callable[[], tuple[Any, Any]]) -> tuple[str, int]:
    """The POST's work, in order: same origin, the user's CSRF token, a configured pipeline,
    the right to edit its DAG; then the dead records get new tries. (pipeline, how many)."""
    if not same_origin(headers, hosts):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused")
    if not csrf_ok(_secret(), _user_id(user), (form.get(CSRF_FIELD) or [None])[0]):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
    pipeline = (form.get("pipeline") or [""])[0]
    try:
        cfg, state = opener()
        if pipeline not in {cfg.pipeline_id(b.id) for b in cfg.branches}:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such sync pipeline")
        if not _can_edit_dag(user)(pipeline):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"you may not edit the DAG {pipeline}, so not requeue its "
                                "records")
        n = state.queue.requeue(pipeline)
    except HTTPException:
        raise
    except Exception as exc:
        # As for the page: the kind of failure only (a connection error may quote the DSN).
        log.exception("sync health: requeue in %s failed", pipeline)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"the sync state cannot be changed ({type(exc).__name__})"
                            ) from None
    log.info("sync health: user %s gave %d dead record(s) of %s new tries", _user_id(user), n,
             pipeline)
    return pipeline, n


def create_app(opener: Callable[[], tuple[Any, Any]] = open_state,
               runs_of: Callable[[str, int], list[dict[str, Any]]] | None = dag_runs
               ) -> FastAPI:
    """The app Airflow mounts at :data:`URL_PREFIX`.

    ``opener`` gives the configuration and the sync state, ``runs_of`` Airflow's dag_run rows
    (tests give their own database and no Airflow metadata)."""
    app = FastAPI(title="IDENT -> Bitrix24 sync health", docs_url=None, redoc_url=None,
                  openapi_url=None)

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> RedirectResponse:
        # root_path is where Airflow mounted us (with [api] base_url's path in front).
        return RedirectResponse(f"{request.scope.get('root_path', '')}{HEALTH_PATH}")

    @app.get(HEALTH_PATH, response_class=HTMLResponse)
    def health_page(request: Request, user: Any = Depends(airflow_user)) -> HTMLResponse:
        report = _report(user, opener, runs_of)
        secret = _secret()
        token = (csrf_token(secret, _user_id(user))
                 if secret and any(p["can_requeue"] for p in report["pipelines"]) else None)
        message = _requeued_message(report, request.query_params.get("requeued"),
                                    request.query_params.get("n"))
        return HTMLResponse(render(report, json_url="health.json", csrf_token=token,
                                   requeue_url="health/requeue", message=message),
                            headers={"Cache-Control": "no-store"})

    @app.get(f"{HEALTH_PATH}.json")
    def health_json(user: Any = Depends(airflow_user)) -> JSONResponse:
        return JSONResponse(_report(user, opener, runs_of),
                            headers={"Cache-Control": "no-store"})

    @app.post(REQUEUE_PATH, include_in_schema=False)
    async def requeue(request: Request, user: Any = Depends(airflow_user)) -> RedirectResponse:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        headers = {k.lower(): v for k, v in request.headers.items()}
        pipeline, n = await run_in_threadpool(requeue_dead, user, form, headers,
                                              _own_hosts(request), opener)
        # 303: the browser GETs the page again, so a reload does not post twice.
        back = (f"{request.scope.get('root_path', '')}{HEALTH_PATH}"
                f"?requeued={quote(pipeline, safe='')}&n={n}#{quote(pipeline, safe='')}")
        return RedirectResponse(back, status_code=status.HTTP_303_SEE_OTHER)

    return app


app = create_app()
