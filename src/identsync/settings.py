"""Where the sync configuration file is, for the DAG file and its tasks alike.

``$IDENTSYNC_CONFIG`` wins; otherwise ``identsync.json`` in Airflow's DAGs folder (next to the
DAG file, where deployments put it); otherwise the repository's ``dags/identsync.json`` (an
editable install run from a checkout).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from identsync.config import SyncConfig

FILE_NAME = "identsync.json"
REPO_DEFAULT = Path(__file__).resolve().parents[2] / "dags" / FILE_NAME


def _dags_folder() -> Path | None:
    folder = os.environ.get("AIRFLOW__CORE__DAGS_FOLDER")
    if not folder:
        try:
            from airflow.sdk.configuration import conf
        except ImportError:  # tools and tests without Airflow
            return None
        folder = conf.get("core", "dags_folder", fallback=None)
    return Path(folder) if folder else None


def config_path() -> Path:
    if os.environ.get("IDENTSYNC_CONFIG"):
        return Path(os.environ["IDENTSYNC_CONFIG"])
    folder = _dags_folder()
    if folder is not None and (folder / FILE_NAME).exists():
        return folder / FILE_NAME
    return REPO_DEFAULT


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> SyncConfig:
    return SyncConfig.from_file(path)


def load_config() -> SyncConfig:
    """Parse and validate the configuration (cached while the file is unchanged)."""
    p = config_path()
    return _load(str(p), p.stat().st_mtime)
