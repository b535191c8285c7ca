"""Where the sync configuration file is, for the DAG file and its tasks alike.

``$IDENTSYNC_CONFIG`` wins; otherwise ``dags/identsync.json`` next to the DAGs (the repository
layout and the docker-compose layout both keep plugins/ and dags/ side by side).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from identsync.config import SyncConfig

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "dags" / "identsync.json"


def config_path() -> Path:
    return Path(os.environ.get("IDENTSYNC_CONFIG") or DEFAULT_PATH)


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> SyncConfig:
    return SyncConfig.from_file(path)


def load_config() -> SyncConfig:
    """Parse and validate the configuration (cached while the file is unchanged)."""
    p = config_path()
    return _load(str(p), p.stat().st_mtime)
