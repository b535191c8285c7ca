"""Typed Bitrix24 errors: the class says whether to retry, give up, or look again.

Messages carry the method name, the portal's error code and its description, never the
webhook URL or token (the token sits in the URL path).
"""

from __future__ import annotations


class Bitrix24Error(Exception):
    """Base class.

    :param code: the portal's ``error`` code ("" for legacy CRM errors such as "Not found").
    :param description: the portal's ``error_description`` (kept even when the code is empty).
    :param method: the REST method, or "batch".
    :param http_status: the HTTP status, None when no response arrived.
    :param maybe_applied: True when a write may have reached the portal and taken effect.
    """

    def __init__(
        self,
        code: str = "",
        description: str = "",
        *,
        method: str | None = None,
        http_status: int | None = None,
        maybe_applied: bool = False,
    ) -> None:
        self.code = code or ""
        self.description = description or ""
        self.method = method
        self.http_status = http_status
        self.maybe_applied = maybe_applied
        # Set by Bitrix24Client.batch() when one request of a split batch fails as a whole.
        self.partial: object | None = None
        self.command_keys: tuple[str, ...] = ()
        super().__init__(self._message())

    def _message(self) -> str:
        where = f"{self.method}: " if self.method else ""
        status = f" (HTTP {self.http_status})" if self.http_status is not None else ""
        code = self.code or "<no code>"
        text = f"{where}{code}: {self.description}" if self.description else f"{where}{code}"
        tail = "; the request may have been applied" if self.maybe_applied else ""
        return f"{text}{status}{tail}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, description={self.description!r}, "
            f"method={self.method!r}, http_status={self.http_status!r}, "
            f"maybe_applied={self.maybe_applied!r})"
        )

    def __reduce__(self):  # pickling (XCom, multiprocessing) keeps the keyword attributes
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[Bitrix24Error], state: dict) -> Bitrix24Error:
    obj = cls.__new__(cls)
    Exception.__init__(obj)
    obj.__dict__.update(state)
    obj.args = (obj._message(),)
    return obj


class Bitrix24AuthError(Bitrix24Error):
    """401/403: wrong or revoked webhook token, missing scope. Fatal: retrying cannot help."""


class Bitrix24MethodNotFound(Bitrix24Error):
    """404 ERROR_METHOD_NOT_FOUND: a typo or a module the portal lacks. Fatal."""


class Bitrix24RateLimited(Bitrix24Error):
    """503 QUERY_LIMIT_EXCEEDED: the portal's leaky bucket is full; nothing was executed."""


class Bitrix24OperationTimeLimit(Bitrix24Error):
    """429 OPERATION_TIME_LIMIT: the method's 10-minute execution budget is spent.

    :param reset_at: unix time when the budget resets, when the portal said so.
    """

    def __init__(self, *args, reset_at: float | None = None, **kwargs) -> None:
        self.reset_at = reset_at
        super().__init__(*args, **kwargs)


class Bitrix24Overloaded(Bitrix24Error):
    """503 OVERLOAD_LIMIT: the portal blocked us by hand. Fatal: do not hammer."""


class Bitrix24ServerError(Bitrix24Error):
    """5xx (or an unreadable body): for writes the outcome is unknown (maybe_applied)."""


class Bitrix24TransportError(Bitrix24Error):
    """Timeout or connection failure. maybe_applied is False only when nothing was sent."""


class CommandError(Bitrix24Error):
    """One command of a batch failed; the other commands' results stand.

    :param key: the command key given to ``batch()``.
    """

    def __init__(self, key: str, code: str = "", description: str = "", **kwargs) -> None:
        self.key = key
        super().__init__(code, description, **kwargs)

    def _message(self) -> str:
        return f"[{self.key}] {super()._message()}"

    def __repr__(self) -> str:
        return f"CommandError(key={self.key!r}, code={self.code!r}, description={self.description!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CommandError):
            return NotImplemented
        return (self.key, self.code, self.description) == (other.key, other.code, other.description)

    def __hash__(self) -> int:
        return hash((self.key, self.code, self.description))


#: Codes the portal uses for authentication/authorisation failures, whatever the HTTP status.
AUTH_CODES = frozenset(
    {
        "NO_AUTH_FOUND",
        "INVALID_TOKEN",
        "EXPIRED_TOKEN",
        "INVALID_CREDENTIALS",
        "ACCESS_DENIED",
        "INSUFFICIENT_SCOPE",
        "WRONG_AUTH_TYPE",
        "AUTHORIZATION_ERROR",
        "USER_ACCESS_ERROR",
        "PAYMENT_REQUIRED",
    }
)
