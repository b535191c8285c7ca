"""Receptions by appointment date: what an initial load (going live) reads from IDENT.

The scheduled and manual runs select receptions by *change* time; an appointment booked weeks
ago for tomorrow, unchanged since, is in none of their windows. An initial load selects by
``Receptions.PlanStart`` instead: every reception planned in ``[plan_from, plan_to)`` (naive
clinic-local time, as IDENT stores it), whatever its change time.

Two steps, like the change-time extract: the ids first (one range condition on ``PlanStart``,
the column IDENT's own schedule screens read by) with each one's branch (its chair's company,
else its orders', read by reception id: no correlated subquery over the range), kept by
:func:`~identsync.ident.extract.branch_wanted`; then the rows through
:func:`~identsync.ident.extract.extract_by_ids`. Every value is a bound parameter of the
column's type (``schema.LocalDateTime``: an ISO 8601 string with ``T`` on SQL Server, never a
literal a server language could read day-first).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.engine import Connection, Engine

from identsync.ident import schema as s
from identsync.ident.extract import MAX_PAGE_SIZE, branch_wanted, extract_by_ids
from identsync.records import SourceReception

_R = s.Receptions
_O = s.Orders


def _naive(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name}: a datetime is required, got {type(value).__name__}")
    if value.tzinfo is not None:
        raise ValueError(f"{name}: naive clinic-local time is required (IDENT stores it), "
                         f"got {value.isoformat()}")
    return value


def planned_ids_query(plan_from: datetime, plan_to: datetime) -> Select:
    """(id, chair) of the receptions planned in ``[plan_from, plan_to)``, ascending id."""
    return (select(_R.c.ID, _R.c.ID_Armchairs)
            .where(_R.c.PlanStart >= _naive("plan_from", plan_from),
                   _R.c.PlanStart < _naive("plan_to", plan_to))
            .order_by(_R.c.ID))


def _branches(conn: Connection, rows: Sequence[tuple[int, int | None]]) -> dict[int, int | None]:
    """Reception id -> branch, as ``extract.branch_expression`` defines it (the chair's
    company, else the lowest company of its orders), without its correlated subquery: the
    chairs are a small table, the orders are read by reception id (their index)."""
    chairs = dict(conn.execute(select(s.Armchairs.c.ID, s.Armchairs.c.ID_OwnCompanies)).all())
    out = {rid: chairs.get(chair) for rid, chair in rows}
    missing = [rid for rid, branch in out.items() if branch is None]
    for i in range(0, len(missing), MAX_PAGE_SIZE):
        group = missing[i:i + MAX_PAGE_SIZE]
        for rid, company in conn.execute(
                select(_O.c.ID_Receptions, _O.c.ID_OwnCompanies)
                .where(_O.c.ID_Receptions.in_(group), _O.c.ID_OwnCompanies.is_not(None))):
            out[rid] = company if out[rid] is None else min(out[rid], company)
    return out


def planned_ids(engine: Engine, plan_from: datetime, plan_to: datetime, *,
                branch_id: int | None = None,
                unassigned_except: Sequence[int] | None = None) -> list[int]:
    """Ids of the receptions planned in the range, whatever their change time, of the
    branch (``branch_id``; with ``unassigned_except`` also those no configured branch would
    pick up, as the change-time extract does)."""
    if plan_to <= plan_from:
        raise ValueError(f"plan_to ({plan_to.isoformat()}) must be after plan_from "
                         f"({plan_from.isoformat()})")
    with engine.connect() as conn:
        rows = [(rid, chair) for rid, chair in
                conn.execute(planned_ids_query(plan_from, plan_to))]
        branches = _branches(conn, rows) if branch_id is not None else {}
    return [rid for rid, _ in rows
            if branch_wanted(branches.get(rid), branch_id, unassigned_except)]


def extract_planned(engine: Engine, plan_from: datetime, plan_to: datetime, *,
                    branch_id: int | None = None,
                    unassigned_except: Sequence[int] | None = None) -> list[SourceReception]:
    """Every reception planned in ``[plan_from, plan_to)`` (naive clinic-local) of the branch
    (see :func:`planned_ids`), as it is now, in ascending id order."""
    ids = planned_ids(engine, plan_from, plan_to, branch_id=branch_id,
                      unassigned_except=unassigned_except)
    # The branch again from the full row: a reception may move between the two reads.
    return [r for r in extract_by_ids(engine, ids)
            if branch_wanted(r.branch_id, branch_id, unassigned_except)]
