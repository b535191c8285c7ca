"""Which IDENT indexes the extract relies on, and a check of the ones present (``sys.indexes``).

Which indexes IDENT ships beyond primary keys is not public, so the extract says what it needs:
every candidate query of ``extract.candidate_queries`` is a range on one column (or a join on
one), and is a seek only when an index leads with that column. A missing one still gives the
right rows, by a scan of that table each run: the check names it and the T-SQL that adds it.

Run it against IDENT (SQL Server only) through the Airflow connection, or print the T-SQL to
run in SSMS::

    python -m identsync.ident.check --conn ident_db
    python -m identsync.ident.check --sql
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, column, select, table
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Select

from identsync.errors import ConnectionConfigError, IdentDbError
from identsync.ident import schema as s


@dataclass(frozen=True)
class NeededIndex:
    table: str
    column: str
    why: str

    @property
    def create(self) -> str:
        return (f"CREATE NONCLUSTERED INDEX [IX_identsync_{self.table}_{self.column}] "
                f"ON [dbo].[{self.table}] ([{self.column}]);")


NEEDED_INDEXES: tuple[NeededIndex, ...] = (
    *(NeededIndex("Receptions", c, "changed receptions (candidate query)")
      for c in s.RECEPTION_CHANGE_COLUMNS),
    *(NeededIndex("Orders", c, "changed orders and bills (candidate query)")
      for c in s.ORDER_CHANGE_COLUMNS),
    NeededIndex("Patients", "DateTimeChanged", "patients whose card changed"),
    NeededIndex("Receptions", "ID_Patients", "the receptions of a changed patient"),
    NeededIndex("Orders", "ID_Receptions", "orders and branch of a page of receptions"),
    NeededIndex("OrderServiceRelation", "ID_Orders", "service lines of a page's orders"),
    NeededIndex("Receptions", "PlanStart", "the going-live load by appointment date "
                                           "(ident/planned.py)"),
)

_sys_tables = table("tables", column("object_id"), column("name"), schema="sys")
_sys_indexes = table("indexes", column("object_id"), column("index_id"), column("name"),
                     column("is_disabled"), column("is_hypothetical"), schema="sys")
_sys_ic = table("index_columns", column("object_id"), column("index_id"), column("column_id"),
                column("key_ordinal"), schema="sys")
_sys_columns = table("columns", column("object_id"), column("column_id"), column("name"),
                     schema="sys")


def index_query() -> Select:
    """(table, index, first key column) of every usable index on the tables the sync reads.

    The first key column is what makes a range on it a seek; a clustered primary key counts.
    """
    t, i, ic, c = _sys_tables, _sys_indexes, _sys_ic, _sys_columns
    return (
        select(t.c.name.label("table_name"), i.c.name.label("index_name"),
               c.c.name.label("column_name"))
        .select_from(
            t.join(i, i.c.object_id == t.c.object_id)
            .join(ic, and_(ic.c.object_id == i.c.object_id, ic.c.index_id == i.c.index_id))
            .join(c, and_(c.c.object_id == ic.c.object_id, c.c.column_id == ic.c.column_id)))
        .where(ic.c.key_ordinal == 1, i.c.is_disabled == 0, i.c.is_hypothetical == 0,
               t.c.name.in_(sorted({n.table for n in NEEDED_INDEXES})))
        .order_by(t.c.name, i.c.name)
    )


def missing(present: Iterable[tuple[str, str | None, str]]) -> list[NeededIndex]:
    """The needed indexes that no present index leads with (names compared case-blind, as a
    default SQL Server collation does)."""
    leading = {(tbl.lower(), col.lower()) for tbl, _, col in present}
    return [n for n in NEEDED_INDEXES if (n.table.lower(), n.column.lower()) not in leading]


def report(present: Iterable[tuple[str, str | None, str]]) -> list[str]:
    """One warning line per missing index, with the statement that adds it."""
    return [f"missing index on {n.table}.{n.column} ({n.why}): each run scans {n.table} "
            f"instead; a DBA may add it: {n.create}" for n in missing(present)]


def check(engine: Engine) -> list[str]:
    """Warnings for IDENT's SQL Server behind ``engine`` (empty: every needed index exists)."""
    with engine.connect() as conn:
        return report(conn.execute(index_query()).all())


def tsql() -> str:
    from sqlalchemy.dialects import mssql

    return str(index_query().compile(dialect=mssql.dialect(),
                                     compile_kwargs={"literal_binds": True}))


def main(argv: list[str]) -> int:
    """``--sql``: print the T-SQL (run it in SSMS); ``--conn ID``: check through that Airflow
    connection (inside the Airflow environment) and exit 1 when an index is missing."""
    if "--sql" in argv:
        print(tsql())
        print("-- needed (table, first key column):")
        for n in NEEDED_INDEXES:
            print(f"--   {n.table}.{n.column}: {n.why}")
        return 0
    if "--conn" in argv:
        # The operator's entry point only: the ident room itself never imports Airflow.
        from identsync.dag.connections import ident_engine

        try:
            warnings = check(ident_engine(argv[argv.index("--conn") + 1]))
        except (IdentDbError, ConnectionConfigError) as exc:
            print(f"ERROR: {exc}")
            return 1
        for line in warnings:
            print(f"WARNING: {line}")
        print(f"{len(NEEDED_INDEXES) - len(warnings)} of {len(NEEDED_INDEXES)} needed indexes "
              "present")
        return 1 if warnings else 0
    print(__doc__)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
