"""How this repository runs its DAGs in a local Airflow: one place for the demo, the benchmark,
the chaos run and the tests.

Connections are given the way users give them in docker-compose: ``AIRFLOW_CONN_*`` JSON
environment variables; the Bitrix24 token travels as the connection's password.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def airflow_base_env(home: Path, *, config: Path | None = None,
                     extra: Mapping[str, str] | None = None,
                     base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Airflow pointed at this repository's dags/ and plugins/, with its own AIRFLOW_HOME."""
    env = dict(os.environ if base is None else base)
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    if config is not None:
        env["IDENTSYNC_CONFIG"] = str(config)
    env.update(extra or {})
    return env


def declare_portal_fields(webhook: str, config: Path | None) -> None:
    """Create the configuration's custom fields on the emulator, as `identsync setup-portal`
    does on a portal: every run's preflight fails on a field the portal lacks. A portal that
    refuses (a test's revoked token) or is not up yet is left alone: the run names it."""
    from identsync.bitrix24.client import Bitrix24Client
    from identsync.cli.portal_setup import setup_portal
    from identsync.config import SyncConfig
    from identsync.errors import Bitrix24Error

    import requests

    try:  # one quick probe: a portal that is not up yet costs no retries here
        requests.get(webhook + "profile", timeout=2)
    except requests.RequestException:
        return
    cfg = SyncConfig.from_file(config or ROOT / "dags" / "identsync.json")
    try:
        with Bitrix24Client(webhook, plan="unlimited") as client:
            setup_portal(client, cfg, out=lambda _line: None)
    except Bitrix24Error:
        pass


def airflow_env(home: Path, *, emulator_url: str, token: str, ident_db: Path,
                state_conn: Mapping[str, Any], plan: str = "standard",
                bitrix_extra: Mapping[str, Any] | None = None, config: Path | None = None,
                extra: Mapping[str, str] | None = None,
                base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``airflow_base_env`` plus the three connections the DAG uses.

    :param emulator_url: the portal's base URL (``http://127.0.0.1:8024``), no token.
    :param state_conn: the ``identsync_state`` connection as a JSON-able dict.
    """
    env = airflow_base_env(home, config=config, extra=extra, base=base)
    declare_portal_fields(f"{emulator_url}/rest/1/{token}/", config)
    env.update({
        "AIRFLOW_CONN_BITRIX24_DEFAULT": json.dumps({
            "conn_type": "http", "host": emulator_url, "login": "1", "password": token,
            "extra": {"plan": plan, **(bitrix_extra or {})}}),
        "AIRFLOW_CONN_IDENT_DB": json.dumps({"conn_type": "sqlite", "host": str(ident_db)}),
        "AIRFLOW_CONN_IDENTSYNC_STATE": json.dumps(dict(state_conn)),
    })
    return env
