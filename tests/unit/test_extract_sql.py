"""The extract query compiles for SQL Server and PostgreSQL with every value bound."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.dialects import mssql, postgresql

from identsync.ident.extract import (
    build_orders_query,
    build_page_query,
    extract_receptions,
    to_local_naive,
)

START, END = datetime(2026, 11, 20, 10, 30), datetime(2026, 11, 20, 11, 0)


def compiled(dialect, **kw):
    q = build_page_query(START, END, after_id=kw.pop("after_id", 4242),
                         page_size=kw.pop("page_size", 7), **kw)
    return q.compile(dialect=dialect)


@pytest.mark.parametrize("dialect", [mssql.dialect(), postgresql.dialect()],
                         ids=["mssql", "postgresql"])
def test_values_are_bound_parameters(dialect) -> None:
    c = compiled(dialect, branch_id=2)
    sql = str(c)
    # No literal date, id or branch in the SQL text: all travel as parameters.
    assert "2026" not in sql and "4242" not in sql
    assert not re.search(r"[=<>]\s*'?\d", sql)
    values = list(c.params.values())
    assert START in values and END in values and 4242 in values and 2 in values
    assert values.count(START) == 9  # 7 reception columns + 2 order columns


def test_mssql_uses_top_and_orders_by_id() -> None:
    sql = str(compiled(mssql.dialect()))
    assert sql.startswith("SELECT TOP ")
    assert sql.rstrip().endswith("ORDER BY [Receptions].[ID]")
    assert "[Receptions].[ID] > :" in sql
    assert "EXISTS" in sql and "[Orders" in sql  # order-only changes are noticed
    assert "LIMIT" not in sql and "OFFSET" not in sql


def test_postgresql_uses_limit_and_orders_by_id() -> None:
    sql = str(compiled(postgresql.dialect()))
    assert re.search(r'ORDER BY "Receptions"\."ID"\s+LIMIT %\(\w+\)s', sql)
    assert '"Receptions"."ID" > %(' in sql
    assert "OFFSET" not in sql


def test_window_is_half_open_in_sql() -> None:
    sql = str(compiled(postgresql.dialect()))
    for col in ("DateTimeAdded", "DateTimeChanged", "PatientAppeared", "ReceptionStarted",
                "ReceptionEnded", "ReceptionCanceled", "CheckIssued"):
        assert f'"Receptions"."{col}" >= %(' in sql
        assert f'"Receptions"."{col}" < %(' in sql
        assert f'"Receptions"."{col}" <= ' not in sql


def test_branch_filter_only_when_asked() -> None:
    assert "coalesce_1" not in compiled(postgresql.dialect()).params
    assert compiled(postgresql.dialect(), branch_id=3).params["coalesce_1"] == 3


def test_orders_query_binds_ids() -> None:
    c = build_orders_query([5, 6, 7]).compile(dialect=mssql.dialect())
    assert "5" not in str(c).replace("[", "").split("WHERE")[1]
    assert [5, 6, 7] in c.params.values()


def test_to_local_naive() -> None:
    utc = datetime(2026, 11, 20, 7, 0, tzinfo=timezone.utc)
    assert to_local_naive(utc, "Europe/Moscow") == datetime(2026, 11, 20, 10, 0)
    assert to_local_naive(utc, ZoneInfo("Asia/Novosibirsk")) == datetime(2026, 11, 20, 14, 0)
    summer = datetime(2026, 7, 1, 8, 0, tzinfo=timezone.utc)
    assert to_local_naive(summer, "Europe/Berlin") == datetime(2026, 7, 1, 10, 0)
    with pytest.raises(ValueError):
        to_local_naive(datetime(2026, 1, 1), "Europe/Moscow")


def test_extract_refuses_aware_bounds_and_bad_page_size() -> None:
    from sqlalchemy import create_engine

    engine = create_engine("sqlite://")
    aware = START.replace(tzinfo=timezone.utc)
    with pytest.raises(ValueError):
        next(extract_receptions(engine, aware, END))
    with pytest.raises(ValueError):
        next(extract_receptions(engine, START, END, page_size=0))
    with pytest.raises(ValueError):
        next(extract_receptions(engine, START, END, page_size=5000))
