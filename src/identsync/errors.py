"""Every error of the sync, and what each one means for retrying: one place, one table.

| error                                  | retry class  | what happens                          |
|----------------------------------------|--------------|---------------------------------------|
| Bitrix24RateLimited (503 QUERY_LIMIT)  | CLIENT       | nothing ran; the client waits, resends |
| Bitrix24OperationTimeLimit (429)       | CLIENT       | the client waits for the reset         |
| Bitrix24TransportError, not sent       | CLIENT       | nothing left the machine: resent       |
| Bitrix24ServerError / Transport, read  | CLIENT       | reads are safe to repeat               |
| ... same for a write (maybe_applied)   | LOOK_AGAIN   | settle, look the chunk up, re-plan     |
| CommandError (one command refused)     | RECORD       | the record goes to the retry queue     |
| Bitrix24AuthError (401/403, scope)     | NEVER        | the task fails at once, says what to fix |
| Bitrix24MethodNotFound, Bitrix24Overloaded | NEVER    | the same                               |
| PortalRejected (too many records refused) | NEVER     | the same                               |
| ConfigError, WindowError, ConnectionConfigError | NEVER | the same                            |
| IdentAccessDenied (login, database, permission) | NEVER | the same                 |
| StateSchemaTooNew (state DB from a newer identsync) | NEVER | the same            |
| IdentUnreachable, IdentTimeout (IDENT down, lock/query timeout) | TASK | Airflow retries |
| LookupFailed, ChunkWriteFailed, CommentsBusy, LedgerBusy, other errors | TASK | Airflow retries the task |

``retry_class(exc)`` answers for any exception. Messages carry method names, portal error
codes and descriptions, record ids and config keys: never a webhook URL or token (the token
sits in the URL path).
"""

from __future__ import annotations

import enum


class Retry(enum.Enum):
    CLIENT = "client"  # the Bitrix24 client retries it itself
    LOOK_AGAIN = "look_again"  # a write may have been applied: look before writing again
    RECORD = "record"  # one record was refused: queue it, the rest of the run goes on
    TASK = "task"  # transient: fail this try, Airflow retries the task
    NEVER = "never"  # retrying cannot help: fail at once with what to fix


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

    fix = ("check the webhook: its token (revoked or mistyped?), its user (still active?) and "
           "its scopes (crm is required)")


class Bitrix24MethodNotFound(Bitrix24Error):
    """404 ERROR_METHOD_NOT_FOUND: a typo or a module the portal lacks. Fatal."""

    fix = "the portal lacks this REST method: check the webhook's scopes and the portal's plan"


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

    fix = ("the portal blocked this webhook (OVERLOAD_LIMIT): ask Bitrix24 support to lift the "
           "block, and lower the pool size or the plan setting before syncing again")


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


# -- the sync's own errors --------------------------------------------------------------------

class SyncError(RuntimeError):
    """Base of the sync's own errors (not the portal's)."""


class LookupFailed(SyncError):
    """A lookup command failed on the portal; the chunk must not be planned on a guess."""


class ChunkWriteFailed(SyncError):
    """Writes kept failing in a may-have-been-applied way; the task should retry later."""


class CommentsBusy(SyncError):
    """Another run holds some of these deals for longer than we wait; retry the task."""


class LedgerError(SyncError):
    """Misuse of the ledger (deal not claimed, schema missing, pending intent exists...)."""


class LedgerBusy(LedgerError):
    """Another session holds a claim on the deal(s) the operation would touch."""


class PortalRejected(SyncError):
    """The portal refused more records than the configured threshold: not a passing fault.

    :param fix: what the operator should do, shown in the task log and the alert.
    """

    def __init__(self, message: str, *, fix: str) -> None:
        self.fix = fix
        super().__init__(f"{message}. What to do: {fix}")


class StateSchemaTooNew(SyncError):
    """The state database was upgraded by a newer identsync (state/migrations.py): fatal.

    :param fix: what the operator should do (run the newer version, or restore the backup).
    """

    def __init__(self, message: str, *, fix: str) -> None:
        self.fix = fix
        super().__init__(f"{message}. What to do: {fix}")

    def __reduce__(self):
        return (_rebuild_fix, (type(self), self.args[0], self.fix))


def _rebuild_fix(cls: type, text: str, fix: str) -> Exception:
    obj = cls.__new__(cls)
    Exception.__init__(obj, text)
    obj.fix = fix
    return obj


class ConfigError(ValueError):
    """Invalid configuration; the message names the key (and the branch)."""


class WindowError(ValueError):
    """The run's parameters do not describe a usable window."""


class ConnectionConfigError(ValueError):
    """An Airflow connection cannot be used as given; the message names it."""


class IdentDbError(SyncError):
    """IDENT's SQL Server refused or failed us; one line: connection, cause, fix.

    :param fix: what the operator should do (shown in the task log and the alert).
    :param conn_id: the Airflow connection (``ident_db``), never its password.
    """

    def __init__(self, message: str, *, fix: str, conn_id: str = "") -> None:
        self.fix = fix
        self.conn_id = conn_id
        super().__init__(f"{message}. What to do: {fix}")

    def __reduce__(self):
        return (_rebuild_ident, (type(self), self.args[0], self.fix, self.conn_id))


def _rebuild_ident(cls: type[IdentDbError], text: str, fix: str, conn_id: str) -> IdentDbError:
    obj = cls.__new__(cls)
    Exception.__init__(obj, text)
    obj.fix, obj.conn_id = fix, conn_id
    return obj


class IdentAccessDenied(IdentDbError):
    """Login failed, database missing, SELECT permission denied: fatal, retrying cannot help."""


class IdentUnreachable(IdentDbError):
    """Host unknown or down, port closed, instance not found: the machine may be off; retried."""


class IdentTimeout(IdentDbError):
    """A lock wait (a workstation's open transaction) or a query outlasted its limit; retried."""


_NEVER = (Bitrix24AuthError, Bitrix24MethodNotFound, Bitrix24Overloaded, PortalRejected,
          ConfigError, WindowError, ConnectionConfigError, IdentAccessDenied, StateSchemaTooNew)


def retry_class(exc: BaseException) -> Retry:
    """What retrying ``exc`` can achieve (see the table in the module docstring)."""
    if isinstance(exc, _NEVER):
        return Retry.NEVER
    if isinstance(exc, CommandError):
        return Retry.RECORD
    if isinstance(exc, (Bitrix24RateLimited, Bitrix24OperationTimeLimit)):
        return Retry.CLIENT
    if isinstance(exc, (Bitrix24ServerError, Bitrix24TransportError)):
        return Retry.LOOK_AGAIN if exc.maybe_applied else Retry.CLIENT
    return Retry.TASK


def what_to_fix(exc: BaseException) -> str:
    """One sentence for an operator, for errors that retrying cannot help."""
    fix = getattr(exc, "fix", None)
    if fix:
        return fix
    if isinstance(exc, ConfigError):
        return "correct the named key in the configuration file (dags/identsync.json)"
    if isinstance(exc, WindowError):
        return "correct date_from/date_to in the run's parameters"
    if isinstance(exc, ConnectionConfigError):
        return "correct the named Airflow connection (Admin -> Connections)"
    return "see the error above"
