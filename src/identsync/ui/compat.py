"""A fix for Airflow 3.3.2's Test button on connections without a port, for Bitrix24 ones.

The connection list's Test button posts the stored connection with ``port: Number(null)``,
i.e. ``0``; the API compares that with the stored NULL, decides the caller points the test
somewhere else, refuses to reuse the stored (masked) secret and answers 400 "The host or port
to test differs from the stored connection". A Bitrix24 connection never has a port (the
webhook URL is in the password), so its Test button could never work. Upstream fixed the
comparison in apache/airflow#73298 ("port 0 means no port"); until the installed Airflow has
it, this root middleware turns ``port: 0`` into ``null`` in test requests of ``bitrix24``
connections, which is what that fix does on the server. It checks once whether the
installed Airflow still needs it and otherwise steps aside. Nothing else is touched.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

TEST_PATH = "/api/v2/connections/test"
CONN_TYPE = "bitrix24"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def airflow_needs_fix() -> bool:
    """Whether the installed API still treats port 0 as a different endpoint than NULL."""
    try:
        from airflow.api_fastapi.core_api.routes.public.connections import _same_endpoint
    except ImportError:  # renamed or gone: the route changed, leave it alone
        return False
    return not _same_endpoint(0, None)


def fixed_body(body: bytes) -> bytes | None:
    """The request body with ``port: 0`` made ``null`` for a bitrix24 connection, or None."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("conn_type") != CONN_TYPE:
        return None
    if data.get("port") not in (0, "0"):
        return None
    data["port"] = None
    return json.dumps(data).encode()


class PortlessConnectionTest:
    """ASGI middleware (Airflow ``fastapi_root_middlewares``) applying :func:`fixed_body`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._needed: bool | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope.get("type") != "http" or scope.get("method") != "POST"
                or not str(scope.get("path", "")).endswith(TEST_PATH)):
            await self.app(scope, receive, send)
            return
        if self._needed is None:
            self._needed = airflow_needs_fix()
        if not self._needed:
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if message.get("type") != "http.request" or not message.get("more_body"):
                break
        body = b"".join(chunks)
        new = fixed_body(body)
        if new is not None:
            body = new
            headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-length"]
            scope = {**scope, "headers": [*headers,
                                          (b"content-length", str(len(body)).encode())]}
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
