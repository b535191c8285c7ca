"""IDENT's SQL Server errors become one line naming the connection, the cause and the fix.

The driver errors are pymssql's own exception classes carrying SQL Server's error numbers and
message texts as FreeTDS delivers them (no SQL Server runs here; a closed port's real error is
in tests/integration/test_connections.py).
"""

from __future__ import annotations

import pickle

import pytest
from pymssql.exceptions import OperationalError, ProgrammingError

from identsync.errors import (
    IdentAccessDenied,
    IdentTimeout,
    IdentUnreachable,
    Retry,
    retry_class,
    what_to_fix,
)
from identsync.ident.connect import MssqlTarget, explain

PASSWORD = "p@ss:w/o%rd#Пароль"
PLAIN = MssqlTarget("ident_db", "ident-server", 1433, "readonly", PASSWORD, "IDENT")
INSTANCE = MssqlTarget("ident_db", "ident-server\\SQLEXPRESS", None, "readonly", PASSWORD,
                       "IDENT")


def dblib(number: int, *lines: str) -> OperationalError:
    text = "".join(f"{line}\n" for line in lines)
    return OperationalError((number, text.encode()))


CASES = [
    ("login failed", PLAIN, dblib(
        18456, "Login failed for user 'readonly'.DB-Lib error message 20018, severity 14:",
        "General SQL Server error: Check messages from the SQL Server",
        "DB-Lib error message 20002, severity 9:", "Adaptive Server connection failed"),
     IdentAccessDenied, "Login failed for user 'readonly'", "mixed"),
    ("database missing", PLAIN, dblib(
        4060, 'Cannot open database "IDENT" requested by the login. The login failed.'
              "DB-Lib error message 20018, severity 11:"),
     IdentAccessDenied, "database 'IDENT' cannot be opened", "User Mapping"),
    ("no permission", PLAIN, ProgrammingError(229, b"The SELECT permission was denied on the "
                                                   b"object 'Receptions', database 'IDENT', "
                                                   b"schema 'dbo'.DB-Lib error message 20018"),
     IdentAccessDenied, "SELECT permission denied on Receptions", "db_datareader"),
    ("lock timeout", PLAIN, OperationalError(1222, b"Lock request time out period exceeded."
                                                   b"DB-Lib error message 20018, severity 16"),
     IdentTimeout, "stayed locked longer than lock_timeout", "sp_who2"),
    ("query timeout", PLAIN, dblib(20003, "DB-Lib error message 20003, severity 6:",
                                   "Adaptive Server connection timed out"),
     IdentTimeout, "longer than the query timeout", "identsync.ident.check"),
    ("instance not found", INSTANCE, dblib(
        20009, "DB-Lib error message 20009, severity 9:",
        "Unable to connect: TDS server is unavailable or does not exist (ident-server)"),
     IdentUnreachable, "instance 'SQLEXPRESS' not found through SQL Browser", "UDP 1434"),
    ("host unknown", PLAIN, dblib(
        20009, "DB-Lib error message 20009, severity 9:",
        "Unable to connect: TDS server is unavailable or does not exist (ident-server)"),
     IdentUnreachable, "server unknown or unreachable", "resolve"),
]


@pytest.mark.parametrize("target, exc, cls, cause, fix", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_driver_errors_name_the_connection_cause_and_fix(target, exc, cls, cause, fix) -> None:
    out = explain(exc, target)
    assert type(out) is cls
    text = str(out)
    assert text.startswith(f"IDENT connection 'ident_db' ({target.where}): ")
    assert cause in text and fix in text and "What to do: " in text
    assert "\n" not in text and PASSWORD not in text and "DB-Lib" not in text
    assert out.conn_id == "ident_db" and what_to_fix(out) == out.fix
    again = pickle.loads(pickle.dumps(out))  # XCom / task runner round trip
    assert type(again) is cls and str(again) == text and again.fix == out.fix


def test_login_and_permission_failures_are_never_retried() -> None:
    for _, target, exc, cls, *_ in CASES:
        want = Retry.NEVER if cls is IdentAccessDenied else Retry.TASK
        assert retry_class(explain(exc, target)) is want


def test_other_driver_errors_pass_unchanged() -> None:
    assert explain(ProgrammingError(208, b"Invalid object name 'Receptionz'."), PLAIN) is None
