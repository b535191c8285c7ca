"""The extract's statements compile for SQL Server and PostgreSQL with every value bound, and
reach SQL Server (rendered as pymssql renders them) with no date a session language changes."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from pymssql import _mssql
from sqlalchemy import create_engine
from sqlalchemy.dialects import mssql, postgresql

from identsync.ident.check import NEEDED_INDEXES, index_query, missing, report
from identsync.ident.extract import (
    MAX_PAGE_SIZE,
    build_orders_query,
    build_page_query,
    candidate_queries,
    extract_receptions,
    statements,
    to_local_naive,
)
from identsync.ident.planned import planned_ids_query
from identsync.ident.schema import iso_literal

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


# -- every statement as SQL Server receives it ------------------------------------------------

# The production dialect (mssql+pymssql, the real driver module loaded; nothing connects).
PYMSSQL = create_engine("mssql+pymssql://").dialect
SINCE = datetime(2026, 11, 1)
IDS = list(range(1, MAX_PAGE_SIZE + 1))


def as_pymssql_sends(stmt) -> tuple[str, int]:
    """(the SQL text pymssql sends, how many parameters a binding driver would need).

    SQLAlchemy compiles (IN lists expanded, bind processors applied, as at execution); then
    pymssql's own ``substitute_params`` inlines the values, as ``cursor.execute`` does.
    """
    compiled = stmt.compile(dialect=PYMSSQL, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    processors = compiled._bind_processors
    params = {k: processors[k](v) if k in processors else v for k, v in params.items()}
    text = _mssql.substitute_params(str(compiled), params)
    return (text.decode() if isinstance(text, bytes) else text), len(params)


# A datetime literal a session language can change: 'YYYY-MM-DD' or 'YYYY-MM-DD hh:mm...'
# (a datetime column reads them as ydm under a dmy language). Only the 'T' form is safe.
AMBIGUOUS_DATE = re.compile(r"N?'\d{4}-\d{2}-\d{2}(?!T)")
# Functions the statements may call, all present in SQL Server 2012+ (Express included).
TSQL_FUNCTIONS = {"coalesce", "min", "max", "count", "cast", "isnull"}
SQL_WORDS = {"in", "exists", "as", "on", "and", "or", "not", "values", "from", "where", "join"}


def every_statement() -> dict:
    stmts = statements(START, END, SINCE, IDS)
    stmts["check_indexes"] = index_query()
    stmts["planned_ids"] = planned_ids_query(START, END)  # ident/planned.py's
    return stmts


def test_the_statement_list_covers_what_an_extract_runs() -> None:
    names = set(every_statement())
    assert {f"candidates[{i}]" for i in range(10)} <= names  # 7 + 2 + patients
    assert {"page", "orders", "branch_names", "specialities", "existing_ids",
            "check_indexes", "planned_ids"} <= names


@pytest.mark.parametrize("name", sorted(every_statement()))
def test_no_statement_sends_a_language_dependent_date(name) -> None:
    text, _ = as_pymssql_sends(every_statement()[name])
    assert not AMBIGUOUS_DATE.search(text), text[:400]
    if name.startswith("candidates"):
        assert "N'2026-11-20T10:30:00.000'" in text and "N'2026-11-20T11:00:00.000'" in text


@pytest.mark.parametrize("name", sorted(every_statement()))
def test_every_statement_is_valid_tsql_for_any_driver(name) -> None:
    stmt = every_statement()[name]
    text, n_params = as_pymssql_sends(stmt)
    assert n_params < 2100  # pyodbc and SQL Server itself refuse more
    sql = str(stmt.compile(dialect=PYMSSQL))
    assert "LIMIT" not in sql and "OFFSET" not in sql and "NOLOCK" not in sql.upper()
    if "TOP" in sql:  # TOP without ORDER BY returns an arbitrary subset
        assert sql.startswith("SELECT TOP ") and "ORDER BY" in sql
    called = {f.lower() for f in re.findall(r"\b([A-Za-z_]+)\s*\(", text)} - SQL_WORDS
    assert called <= TSQL_FUNCTIONS, called
    assert "%(" not in text and ":" not in re.sub(r"'[^']*'", "", text)  # every value inlined


def test_the_ambiguity_check_catches_what_pymssql_does_with_a_plain_datetime() -> None:
    # Control: the column type before this fix (plain DateTime) reaches SQL Server as
    # '2026-11-20 10:30:00.000', which a Russian-language login reads day-first.
    from sqlalchemy import Column, DateTime, Integer, MetaData, Table, select

    t = Table("Receptions", MetaData(), Column("ID", Integer), Column("DateTimeChanged", DateTime))
    text, _ = as_pymssql_sends(select(t.c.ID).where(t.c.DateTimeChanged >= START))
    assert "'2026-11-20 10:30:00.000'" in text and AMBIGUOUS_DATE.search(text)


def test_iso_literal_keeps_milliseconds_as_pymssql_did() -> None:
    assert iso_literal(datetime(2026, 11, 1, 0, 30, 5, 123999)) == "2026-11-01T00:30:05.123"
    assert iso_literal(datetime(2026, 1, 11)) == "2026-01-11T00:00:00.000"
    with pytest.raises(ValueError, match="naive"):
        as_pymssql_sends(candidate_queries(START.replace(tzinfo=timezone.utc), END)[0])


def test_each_candidate_query_reads_one_table_by_one_column() -> None:
    # What makes them index seeks: a range on a single column of a single table (the patient
    # query joins Receptions by ID_Patients after seeking Patients by DateTimeChanged).
    for stmt in candidate_queries(START, END, SINCE)[:9]:
        sql = str(stmt.compile(dialect=PYMSSQL))
        assert " OR " not in sql and "JOIN" not in sql and "EXISTS" not in sql
        assert len(re.findall(r"\[(\w+)\]\.\[(\w+)\] >= ", sql)) == 1
    assert len(candidate_queries(START, END)) == 9


def test_index_check_lists_what_is_missing() -> None:
    present = [("Receptions", "PK_Receptions", "ID"), ("receptions", "IX_a", "datetimechanged"),
               ("Orders", "IX_b", "ID_Receptions")]
    gone = {(n.table, n.column) for n in missing(present)}
    assert ("Receptions", "DateTimeChanged") not in gone  # case-blind, like SQL Server
    assert ("Orders", "ID_Receptions") not in gone
    assert ("Receptions", "DateTimeAdded") in gone and ("Patients", "DateTimeChanged") in gone
    assert len(gone) == len(NEEDED_INDEXES) - 2
    lines = report(present)
    assert any("CREATE NONCLUSTERED INDEX [IX_identsync_Receptions_DateTimeAdded] ON "
               "[dbo].[Receptions] ([DateTimeAdded]);" in line for line in lines)
    assert report([(n.table, "x", n.column) for n in NEEDED_INDEXES]) == []
    sql = str(index_query().compile(dialect=PYMSSQL))
    assert "sys.indexes" in sql and "sys.index_columns" in sql and "key_ordinal" in sql
