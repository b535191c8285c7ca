"""IDENT's SQL Server as a SQLAlchemy engine, built from a connection's fields.

Airflow's ``Connection.get_uri()`` percent-encodes the host (``HOST\\INSTANCE`` becomes
``HOST%5CINSTANCE``, which SQLAlchemy never decodes) and sends non-string extras as
``__extra__``; so the engine is built here from the fields themselves and pymssql receives
them as keyword arguments (``connect_args``), never through a URL.

How pymssql/FreeTDS find the server:

| the connection gives         | pymssql receives                   | reached through            |
|------------------------------|------------------------------------|----------------------------|
| ``host``                     | ``server=host, port="1433"``       | TCP 1433                   |
| ``host`` + port              | ``server=host, port=port``         | that TCP port              |
| ``HOST\\INSTANCE``            | ``server="HOST\\INSTANCE"``, no port| SQL Browser (UDP 1434)     |
| ``HOST\\INSTANCE`` + port     | ``server=HOST, port=port``         | that static port           |

Waits are bounded (extras, in seconds): ``login_timeout`` (default 15), ``timeout`` (each
query, default 300) and ``lock_timeout`` (default 30, sent as ``SET LOCK_TIMEOUT`` at login):
a workstation's open transaction on a row makes the read fail with a message naming the lock
instead of stalling the branch's DAG. Never NOLOCK: it reads rolled-back data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from identsync.errors import (
    ConnectionConfigError,
    IdentAccessDenied,
    IdentDbError,
    IdentTimeout,
    IdentUnreachable,
)

DEFAULT_PORT = 1433
DEFAULT_LOGIN_TIMEOUT = 15
DEFAULT_QUERY_TIMEOUT = 300
DEFAULT_LOCK_TIMEOUT = 30
APPNAME = "identsync"  # what a DBA sees in sp_who / Activity Monitor

# pymssql's own session settings (used when conn_properties is not given), kept because
# passing conn_properties replaces them.
PYMSSQL_SESSION = (
    "SET ARITHABORT ON;SET CONCAT_NULL_YIELDS_NULL ON;SET ANSI_NULLS ON;"
    "SET ANSI_NULL_DFLT_ON ON;SET ANSI_PADDING ON;SET ANSI_WARNINGS ON;"
    "SET CURSOR_CLOSE_ON_COMMIT ON;SET QUOTED_IDENTIFIER ON;SET TEXTSIZE 2147483647;"
)

# Driver options an operator may put in the extra, with their type. Anything else is refused
# with the key named (pymssql would raise a bare TypeError).
_INT_OPTIONS = ("login_timeout", "timeout", "lock_timeout")
_STR_OPTIONS = ("tds_version", "charset", "appname", "encryption", "conn_properties")
_BOOL_OPTIONS = ("read_only",)
_IGNORED = ("sqlalchemy_scheme",)  # MsSqlHook's own key, meaningless here


@dataclass(frozen=True)
class MssqlTarget:
    """The fields of an Airflow ``mssql`` connection (no Airflow import needed here)."""

    conn_id: str
    host: str
    port: int | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    database: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """The server as the operator wrote it (for messages; never the password)."""
        return f"{self.host}:{self.port}" if self.port else self.host

    @property
    def instance(self) -> str | None:
        return self.host.split("\\", 1)[1] if "\\" in self.host else None


def _option(target: MssqlTarget, key: str, value: Any) -> Any:
    def bad(want: str) -> ConnectionConfigError:
        return ConnectionConfigError(
            f"connection {target.conn_id!r}: extra {key!r} must be {want}, got {value!r}")
    if key in _INT_OPTIONS:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise bad("a whole number of seconds") from None
        if number < 0 or isinstance(value, bool):
            raise bad("a whole number of seconds")
        return number
    if key in _BOOL_OPTIONS:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise bad("true or false")
    if not isinstance(value, str):
        raise bad("a string")
    return value


def connect_kwargs(target: MssqlTarget) -> dict[str, Any]:
    """Exactly the keyword arguments ``pymssql.connect`` receives for this connection."""
    host = (target.host or "").strip()
    if not host:
        raise ConnectionConfigError(f"connection {target.conn_id!r}: host is empty; give the "
                                    "SQL Server's host name, or HOST\\INSTANCE")
    port = target.port
    if "," in host:  # SQL Server's own "host,port" spelling
        host, _, text = host.partition(",")
        if port is None and text.strip().isdigit():
            port = int(text)
    options: dict[str, Any] = {}
    for key, value in (target.extra or {}).items():
        if key in _IGNORED:
            continue
        if key not in (*_INT_OPTIONS, *_STR_OPTIONS, *_BOOL_OPTIONS):
            raise ConnectionConfigError(
                f"connection {target.conn_id!r}: extra {key!r} is not a pymssql option; use "
                f"{', '.join((*_INT_OPTIONS, *_STR_OPTIONS, *_BOOL_OPTIONS))}")
        options[key] = _option(target, key, value)
    server, _, instance = host.partition("\\")
    if instance and port is None:
        # FreeTDS asks SQL Browser for the instance's dynamic port only given HOST\INSTANCE
        # and no port.
        args: dict[str, Any] = {"server": f"{server}\\{instance}"}
    else:
        # A static port (an instance's, or the default instance's) goes with the bare host.
        args = {"server": server, "port": str(port or DEFAULT_PORT)}
    lock_ms = options.pop("lock_timeout", DEFAULT_LOCK_TIMEOUT) * 1000
    session = options.pop("conn_properties", PYMSSQL_SESSION).rstrip().rstrip(";")
    args.update(
        user=target.login or None,
        password=target.password or None,
        database=target.database or "",
        login_timeout=options.pop("login_timeout", DEFAULT_LOGIN_TIMEOUT),
        timeout=options.pop("timeout", DEFAULT_QUERY_TIMEOUT),
        appname=options.pop("appname", APPNAME),
        conn_properties=f"{session};SET LOCK_TIMEOUT {lock_ms};",
        **options,
    )
    return args


def mssql_engine(target: MssqlTarget, **engine_kwargs: Any) -> sa.Engine:
    """An engine whose every connection is ``pymssql.connect(**connect_kwargs(target))``.

    Driver errors leave it as ``IdentDbError`` naming the connection, the cause and the fix.
    """
    engine = sa.create_engine(sa.URL.create("mssql+pymssql"),
                              connect_args=connect_kwargs(target), **engine_kwargs)
    install_error_translation(engine, target)
    return engine


def install_error_translation(engine: sa.Engine, target: MssqlTarget) -> None:
    @event.listens_for(engine, "handle_error")
    def _translate(ctx) -> None:
        if ctx.is_pre_ping:  # a dead pooled connection: the pool replaces it silently
            return
        translated = explain(ctx.original_exception, target)
        if translated is not None:
            raise translated from ctx.original_exception


def _driver_text(exc: BaseException) -> tuple[int | None, str]:
    """(SQL Server or DB-Lib error number, message) from a pymssql exception."""
    args = getattr(exc, "args", ())
    first = args[0] if args else None
    if isinstance(first, tuple) and first:  # OperationalError((number, b"message"))
        number, text = first[0], first[1] if len(first) > 1 else b""
    elif len(args) >= 2 and isinstance(args[0], int):
        number, text = args[0], args[1]
    else:
        number, text = None, first if first is not None else ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return (number if isinstance(number, int) else None), str(text)


def explain(exc: BaseException, target: MssqlTarget) -> IdentDbError | None:
    """The driver error as one line naming the connection, the cause and the fix (or None
    when it is not a connection, permission or timeout problem)."""
    number, text = _driver_text(exc)
    low = text.lower()
    name = f"IDENT connection {target.conn_id!r} ({target.where})"

    def err(cls: type[IdentDbError], cause: str, fix: str) -> IdentDbError:
        return cls(f"{name}: {cause}", fix=fix, conn_id=target.conn_id)

    if number == 18456 or "login failed for user" in low:
        m = re.search(r"Login failed for user '[^']*'", text, re.IGNORECASE)
        return err(IdentAccessDenied, m.group(0) if m else "login failed",
                   "check the login and password in the connection; the SQL Server must allow "
                   "SQL logins (mixed mode: Server Properties -> Security -> 'SQL Server and "
                   "Windows Authentication mode', then restart the service) and the login be "
                   "enabled")
    if number == 4060 or "cannot open database" in low:
        return err(IdentAccessDenied, f"database {target.database!r} cannot be opened",
                   "put IDENT's database name in the connection's schema field and map the "
                   "login to that database (User Mapping)")
    if number in (229, 230) or "permission was denied" in low:
        m = re.search(r"permission was denied on the object '([^']+)'", text)
        what = f"on {m.group(1)}" if m else "on an IDENT table"
        return err(IdentAccessDenied, f"SELECT permission denied {what}",
                   "give the login the db_datareader role in IDENT's database "
                   "(User Mapping -> db_datareader)")
    if number == 1222 or "lock request time out" in low:
        return err(IdentTimeout,
                   "a row stayed locked longer than lock_timeout (a workstation's open "
                   "transaction in IDENT)",
                   "the next run reads it again; if it keeps happening, find the blocking "
                   "session (sp_who2, column BlkBy) or raise extra lock_timeout")
    # Before the query timeout: a connect attempt to a filtered port also says "timed out".
    if number == 20009 or "unable to connect" in low or "unavailable or does not exist" in low:
        if "connection refused" in low:
            return err(IdentUnreachable, "nothing listens on that port (connection refused)",
                       "enable TCP/IP for the instance (SQL Server Configuration Manager), "
                       "check the port (a named instance's is dynamic: give HOST\\INSTANCE "
                       "without a port), and open it in the Windows firewall")
        if target.instance and target.port is None:
            return err(IdentUnreachable,
                       f"instance {target.instance!r} not found through SQL Browser",
                       "start the SQL Server Browser service and open UDP 1434 in the "
                       "firewall, or give the instance's static TCP port in the connection's "
                       "port field; check the instance name")
        return err(IdentUnreachable, "server unknown or unreachable",
                   "check the host name (does it resolve from the Airflow machine?), that the "
                   "machine is on, that TCP/IP is enabled and the firewall lets the port in")
    if number == 20003 or "adaptive server connection timed out" in low:
        return err(IdentTimeout, "a query ran longer than the query timeout",
                   "check the indexes (python -m identsync.ident.check) and the server's load, "
                   "or raise extra timeout")
    return None
