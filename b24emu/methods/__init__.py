"""REST method registry: name -> handler(params, ctx) -> Result, errors as ApiError."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from b24emu.store import Portal


class ApiError(Exception):
    """A REST error as the portal reports it: code (may be ""), description, HTTP status."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.code, "error_description": self.description}


def legacy(description: str) -> ApiError:
    """The classic CRM methods' errors: an empty code and HTTP 400."""
    return ApiError("", description, 400)


@dataclass
class Result:
    value: Any
    next: int | None = None
    total: int | None = None


@dataclass
class Ctx:
    portal: Portal
    user_id: int


Handler = Callable[[dict[str, Any], Ctx], Result]
REGISTRY: dict[str, Handler] = {}


def method(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            REGISTRY[name.lower()] = fn
        return fn

    return register


def param(params: dict[str, Any], name: str, either_case: bool = True) -> Any:
    """A top-level parameter; the classic CRM methods read ``name`` or ``NAME``."""
    if name in params:
        return params[name]
    if either_case and name.upper() in params:
        return params[name.upper()]
    return None


def lookup(name: str) -> Handler | None:
    _load()
    return REGISTRY.get(name.lower())


_loaded = False


def _load() -> None:
    global _loaded
    if not _loaded:
        from b24emu.methods import (  # noqa: F401  (registration side effects)
            crm_entities,
            duplicates,
            profile,
            status,
            timeline,
            userfields,
        )

        _loaded = True
