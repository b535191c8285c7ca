"""Where the sync configuration file is, for the DAG file, its tasks and the CLI alike.

``$IDENTSYNC_CONFIG`` wins; otherwise ``identsync.json`` in Airflow's DAGs folder (next to the
DAG file, where deployments put it); otherwise, in a checkout only, the repository's
``dags/identsync.json``. A pip-installed package has no repository around it: there the
search ends at the DAGs folder, and the error names every place it looked.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from identsync.config import SyncConfig
from identsync.errors import ConfigError

FILE_NAME = "identsync.json"
_CHECKOUT = Path(__file__).resolve().parents[2]
REPO_DEFAULT = _CHECKOUT / "dags" / FILE_NAME


def _is_checkout(root: Path = _CHECKOUT) -> bool:
    """True when this package runs from the repository's src/ (editable install, tests)."""
    return (root / "pyproject.toml").is_file() and (root / "src" / "identsync").is_dir()


def _dags_folder() -> Path | None:
    folder = os.environ.get("AIRFLOW__CORE__DAGS_FOLDER")
    if not folder:
        try:
            from airflow.sdk.configuration import conf
        except ImportError:  # tools and tests without Airflow
            return None
        folder = conf.get("core", "dags_folder", fallback=None)
    return Path(folder).expanduser() if folder else None


def candidates() -> list[Path]:
    """Where the configuration is looked for, in order (without $IDENTSYNC_CONFIG)."""
    out = []
    folder = _dags_folder()
    if folder is not None:
        out.append(folder / FILE_NAME)
    if _is_checkout():
        out.append(REPO_DEFAULT)
    return out


def config_path() -> Path:
    if os.environ.get("IDENTSYNC_CONFIG"):
        path = Path(os.environ["IDENTSYNC_CONFIG"]).expanduser()
        if not path.is_file():
            raise ConfigError(f"IDENTSYNC_CONFIG={path}: no such file")
        return path
    looked = candidates()
    for path in looked:
        if path.is_file():
            return path
    where = ", ".join(str(p) for p in looked) or "nowhere (Airflow's dags_folder is not set)"
    raise ConfigError(
        f"no {FILE_NAME} found: looked in {where}; put {FILE_NAME} next to the DAG file in "
        "Airflow's DAGs folder ([core] dags_folder) or set IDENTSYNC_CONFIG to its path")


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> SyncConfig:
    return SyncConfig.from_file(path)


def load_config() -> SyncConfig:
    """Parse and validate the configuration (cached while the file is unchanged)."""
    p = config_path()
    return _load(str(p), p.stat().st_mtime)
