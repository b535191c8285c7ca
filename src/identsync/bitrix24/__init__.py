"""Plain Bitrix24 REST client (no Airflow import: usable from a shell or a test)."""

from __future__ import annotations

from identsync.bitrix24.batch import BatchResult
from identsync.bitrix24.classify import is_read_method
from identsync.bitrix24.client import Bitrix24Client, Page
from identsync.bitrix24.stats import ClientStats
from identsync.errors import (
    Bitrix24AuthError,
    Bitrix24Error,
    Bitrix24MethodNotFound,
    Bitrix24OperationTimeLimit,
    Bitrix24Overloaded,
    Bitrix24RateLimited,
    Bitrix24ServerError,
    Bitrix24TransportError,
    CommandError,
)

__all__ = [
    "BatchResult",
    "Bitrix24AuthError",
    "Bitrix24Client",
    "Bitrix24Error",
    "Bitrix24MethodNotFound",
    "Bitrix24OperationTimeLimit",
    "Bitrix24Overloaded",
    "Bitrix24RateLimited",
    "Bitrix24ServerError",
    "Bitrix24TransportError",
    "ClientStats",
    "CommandError",
    "Page",
    "is_read_method",
]
