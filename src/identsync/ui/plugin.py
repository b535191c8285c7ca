"""Airflow plugin: the sync-health page (identsync.ui) in Airflow's UI. Wiring only.

Registered by the installed distribution through the ``airflow.plugins`` entry point
(pyproject.toml), so nothing is copied into a plugins folder. Not through the provider
info's ``plugins`` list: Airflow 3 loads those only with ``[core] lazy_discover_providers``
off (its default is on), so the page would be missing from a default installation.

The api-server mounts the FastAPI app at /identsync (its routes check the Airflow login
themselves); the external view adds "Sync health" to the Browse menu and shows the page
inside Airflow's UI. The root middleware lets the connection list's Test button work for
Bitrix24 connections on Airflow versions that refuse to test a connection without a port
(identsync.ui.compat).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from airflow.configuration import conf
from airflow.plugins_manager import AirflowPlugin

from identsync.ui.app import HEALTH_PATH, URL_PREFIX, app
from identsync.ui.compat import PortlessConnectionTest

# The UI may live under a path ([api] base_url); the iframe needs the full path.
_ROOT = (urlsplit(conf.get("api", "base_url", fallback="") or "").path or "/").rstrip("/")


class IdentSyncUIPlugin(AirflowPlugin):
    name = "identsync_ui"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "IDENT sync health"}]
    fastapi_root_middlewares = [{"middleware": PortlessConnectionTest, "args": [], "kwargs": {},
                                 "name": "Bitrix24 connection test without a port"}]
    external_views = [{
        "name": "Sync health",
        "href": f"{_ROOT}{URL_PREFIX}{HEALTH_PATH}",
        "destination": "nav",
        "category": "browse",
        "url_route": "sync-health",
    }]
