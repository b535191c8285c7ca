"""Airflow provider metadata of the identsync distribution (entry point in pyproject.toml).

Airflow 3.3 builds the connection form from this dictionary alone (``connection-types`` with
``conn-fields`` and ``ui-field-behaviour``), without importing the hook: the API server's
``/ui/connections/hook_meta`` reads it, and the Test button then imports the hook named here
and calls its ``test_connection()``.
"""

from __future__ import annotations

from typing import Any

CONN_TYPE = "bitrix24"
HOOK_CLASS = "identsync.hooks.bitrix24.Bitrix24Hook"
# Spelled out rather than imported: every Airflow command reads this module, and
# identsync.bitrix24 would pull in the HTTP client (a test keeps the two lists equal).
PLAN_CHOICES = ("standard", "enterprise", "unlimited")


def bitrix24_connection_type() -> dict[str, Any]:
    """The "Bitrix24" entry of the connection form: webhook URL (secret) and plan."""
    return {
        "connection-type": CONN_TYPE,
        "hook-class-name": HOOK_CLASS,
        "hook-name": "Bitrix24",
        # The token is part of the webhook URL's path, so the whole URL goes into the one
        # field Airflow treats as a secret everywhere (masked in the form, logs and API).
        "ui-field-behaviour": {
            "hidden-fields": ["host", "schema", "port", "login"],
            "relabeling": {"password": "Webhook URL"},
            "placeholders": {
                "password": "https://<portal>.bitrix24.ru/rest/<user_id>/<token>/",
                "description": "Bitrix24 portal of the IDENT sync",
            },
        },
        "conn-fields": {
            "plan": {
                "label": "Plan",
                "description": "The portal's Bitrix24 plan: it sets the request rate limits.",
                "schema": {"type": ["string", "null"], "enum": list(PLAN_CHOICES),
                           "default": "standard"},
            },
        },
    }


def get_provider_info() -> dict[str, Any]:
    # No "plugins" entry: Airflow 3 loads a provider's plugins only with [core]
    # lazy_discover_providers = False (default True), and with it False a second copy would
    # be refused as "already registered" (an import error): the "airflow.plugins" entry
    # point, which every component loads, registers the page (identsync.ui.plugin).
    return {
        "package-name": "identsync",
        "name": "IDENT to Bitrix24 sync",
        "description": "Syncs IDENT dental-clinic receptions into Bitrix24 CRM deals.",
        "versions": ["0.3.0"],
        "connection-types": [bitrix24_connection_type()],
    }
