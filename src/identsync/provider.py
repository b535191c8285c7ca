"""Airflow provider metadata of the identsync distribution (entry point in pyproject.toml)."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "identsync",
        "name": "IDENT to Bitrix24 sync",
        "description": "Syncs IDENT dental-clinic receptions into Bitrix24 CRM deals.",
        "versions": ["0.3.0"],
    }
