"""Read receptions changed in a time window from IDENT: the changed ids first, then the rows.

IDENT runs on the clinic's own SQL Server (often Express, buffer pool about 1.4 GB) while the
staff work in it, so a run must read only what changed. One OR over nine timestamps of three
tables can be served by no index (it scans ``Receptions`` whole, once per branch), so:

1. **Candidates**: one query per change column, each ``col >= :start AND col < :end`` on a
   single table, which one index on that column serves (``NEEDED_INDEXES`` in
   ``ident/check.py``): the seven ``Receptions`` timestamps, the two ``Orders`` ones, and the
   patients whose card changed (``Patients.DateTimeChanged``, then their receptions through
   ``Receptions.ID_Patients``). The ids are united in Python.
2. **Rows by id**: the page query (receptions joined with patient, doctor, chair, cancel
   reason) reads ``WHERE ID IN (...)`` in ascending id pages (primary-key seeks). The branch
   is decided in Python from the row: a branch filter in SQL would be an expression over a
   correlated ``min(Orders...)`` that no index serves.

Orders and services are then read for the page's reception ids and summed in Python (exact
Decimal arithmetic). Small lookup tables (branches, specialities) are read once per call.
Every value is a bound parameter; datetimes reach SQL Server as ISO 8601 strings with ``T``
(``schema.LocalDateTime``). ``build_page_query`` with a window is the former single query,
kept for ``bench/extract_scan.py``'s comparison and for callers that page a small window.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from identsync.ident import schema as s
from identsync.records import SourceReception

# SQL Server accepts at most 2100 parameters per statement (pyodbc binds them; pymssql
# inlines them, but the text still grows): the page and orders queries bind one per id.
MAX_PAGE_SIZE = 2000


def to_local_naive(aware_dt: datetime, tz: tzinfo | str) -> datetime:
    """An aware datetime as the naive clinic-local time IDENT stores.

    Local times that repeat at a DST fall-back are inherently ambiguous in IDENT itself;
    we return the wall-clock time, which is what IDENT would have written.
    """
    if aware_dt.tzinfo is None or aware_dt.utcoffset() is None:
        raise ValueError("to_local_naive needs an aware datetime (with tzinfo)")
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return aware_dt.astimezone(zone).replace(tzinfo=None)


# Aliases: Persons is joined twice (patient and doctor).
_R = s.Receptions
_PAT = s.Patients
_PP = s.Persons.alias("pp")  # the patient's person row
_DP = s.Persons.alias("dp")  # the doctor's person row
_A = s.Armchairs
_CR = s.ReceptionCancelReasons
_O = s.Orders


def _in_window(col: ColumnElement, start: datetime, end: datetime) -> ColumnElement:
    return and_(col >= start, col < end)


def changed_condition(start: datetime, end: datetime,
                      patient_since: datetime | None = None) -> ColumnElement[bool]:
    """Reception changed in [start, end): own timestamps or any of its orders' timestamps.

    With ``patient_since``: also the receptions planned from then on of every patient whose
    card changed in the window (phone, name, guardian: ``Patients.DateTimeChanged``), so an
    edit of the patient reaches the contact without waiting for a reception to change.
    """
    own = [_in_window(_R.c[name], start, end) for name in s.RECEPTION_CHANGE_COLUMNS]
    o = _O.alias()
    order_changed = exists().where(
        o.c.ID_Receptions == _R.c.ID,
        or_(*(_in_window(o.c[name], start, end) for name in s.ORDER_CHANGE_COLUMNS)),
    )
    parts = [*own, order_changed]
    if patient_since is not None:
        parts.append(and_(_in_window(_PAT.c.DateTimeChanged, start, end),
                          _R.c.PlanStart >= patient_since))
    return or_(*parts)


def branch_expression() -> ColumnElement:
    """Branch of a reception: the chair's company, else its orders' company (lowest id)."""
    o = _O.alias()
    from_orders = (
        select(func.min(o.c.ID_OwnCompanies))
        .where(o.c.ID_Receptions == _R.c.ID)
        .scalar_subquery()
    )
    return func.coalesce(_A.c.ID_OwnCompanies, from_orders)


def candidate_queries(start: datetime, end: datetime,
                      patient_since: datetime | None = None) -> list[Select]:
    """The queries whose union is "changed in [start, end)", each served by one index.

    Same definition as ``changed_condition``: a reception's own timestamps, its orders'
    timestamps, and (with ``patient_since``) the receptions planned from then on of every
    patient whose card changed in the window.
    """
    queries = [select(_R.c.ID).where(_in_window(_R.c[name], start, end))
               for name in s.RECEPTION_CHANGE_COLUMNS]
    queries += [select(_O.c.ID_Receptions).where(_in_window(_O.c[name], start, end),
                                                 _O.c.ID_Receptions.is_not(None))
                for name in s.ORDER_CHANGE_COLUMNS]
    if patient_since is not None:
        # Seek Patients by DateTimeChanged, then each patient's receptions by ID_Patients.
        queries.append(
            select(_R.c.ID)
            .select_from(_PAT.join(_R, _R.c.ID_Patients == _PAT.c.ID_Persons))
            .where(_in_window(_PAT.c.DateTimeChanged, start, end),
                   _R.c.PlanStart >= patient_since))
    return queries


def changed_ids(conn: Connection, start: datetime, end: datetime,
                patient_since: datetime | None = None) -> list[int]:
    """Ids of the receptions changed in [start, end), ascending (see ``candidate_queries``)."""
    found: set[int] = set()
    for query in candidate_queries(start, end, patient_since):
        found.update(conn.execute(query).scalars())
    return sorted(found)


def branch_wanted(branch: int | None, branch_id: int | None,
                  unassigned_except: Sequence[int] | None) -> bool:
    """Whether a row of ``branch`` belongs to the run of ``branch_id``.

    With ``unassigned_except`` (every configured branch): also rows no configured branch
    would pick up (no branch, or one missing from the configuration), so they are reported
    instead of silently skipped.
    """
    if branch_id is None:
        return True
    if branch == branch_id:
        return True
    return unassigned_except is not None and (branch is None
                                              or branch not in set(unassigned_except))


def build_page_query(
    start: datetime,
    end: datetime,
    *,
    after_id: int,
    page_size: int,
    branch_id: int | None = None,
    unassigned_except: Sequence[int] | None = None,
    patient_since: datetime | None = None,
    ids: Sequence[int] | None = None,
) -> Select:
    """The page query: changed receptions with ID > after_id, ordered by ID, at most page_size.

    ``ids`` replaces the window condition: exactly these receptions (the retry queue's).
    """
    branch_expr = branch_expression()
    q = (
        select(
            _R.c.ID.label("reception_id"),
            _PAT.c.ID_Persons.label("patient_id"),
            branch_expr.label("branch_id"),
            _PP.c.Surname.label("surname"),
            _PP.c.Name.label("name"),
            _PP.c.Patronymic.label("patronymic"),
            _PP.c.MobilePhone.label("mobile_phone"),
            _PAT.c.CardNumber.label("card_number"),
            _PAT.c.ParentSNP.label("guardian"),
            _R.c.ID_Staffs.label("staff_id"),
            _DP.c.Surname.label("doctor_surname"),
            _DP.c.Name.label("doctor_name"),
            _DP.c.Patronymic.label("doctor_patronymic"),
            _A.c.NameArmchair.label("chair_name"),
            _R.c.PlanStart.label("plan_start"),
            _R.c.PlanEnd.label("plan_end"),
            _R.c.Comment.label("comment"),
            _R.c.PatientAppeared.label("patient_appeared"),
            _R.c.ReceptionStarted.label("reception_started"),
            _R.c.ReceptionEnded.label("reception_ended"),
            _R.c.CheckIssued.label("check_issued"),
            _R.c.ReceptionCanceled.label("reception_canceled"),
            _CR.c.Name.label("cancel_reason"),
            _R.c.CancelReasonComment.label("cancel_reason_comment"),
            _R.c.DateTimeAdded.label("date_added"),
            _R.c.DateTimeChanged.label("date_changed"),
        )
        .select_from(
            _R.outerjoin(_PAT, _PAT.c.ID_Persons == _R.c.ID_Patients)
            .outerjoin(_PP, _PP.c.ID == _PAT.c.ID_Persons)
            .outerjoin(_DP, _DP.c.ID == _R.c.ID_Staffs)
            .outerjoin(_A, _A.c.ID == _R.c.ID_Armchairs)
            .outerjoin(_CR, _CR.c.ID == _R.c.ID_ReceptionCancelReasons)
        )
        .where(_R.c.ID > after_id,
               _R.c.ID.in_(list(ids)) if ids is not None
               else changed_condition(start, end, patient_since))
        .order_by(_R.c.ID)
        .limit(page_size)
    )
    if branch_id is not None and unassigned_except is not None:
        # Also the receptions no configured branch would pick up (no branch, or a branch
        # missing from the configuration), so they are reported instead of silently skipped.
        q = q.where(or_(branch_expr == branch_id, branch_expr.is_(None),
                        branch_expr.not_in(list(unassigned_except))))
    elif branch_id is not None:
        q = q.where(branch_expr == branch_id)
    return q


def build_orders_query(reception_ids: Iterable[int]) -> Select:
    """Service lines of the given receptions (one row per OrderServiceRelation).

    Orders without lines still yield one row (all-NULL line) so their reception gets amount 0.
    """
    osr, sip, si = s.OrderServiceRelation, s.ServiceItemPrices, s.ServiceItems
    return (
        select(
            _O.c.ID_Receptions, _O.c.ID, si.c.Name, osr.c.CountService, sip.c.Price,
            osr.c.DiscountSum,
        )
        .select_from(
            _O.outerjoin(osr, osr.c.ID_Orders == _O.c.ID)
            .outerjoin(sip, sip.c.ID == osr.c.ID_ServicePrices)
            .outerjoin(si, si.c.ID == sip.c.ID_ServiceItems)
        )
        .where(_O.c.ID_Receptions.in_(list(reception_ids)))
    )


def _money(v: object) -> Decimal:
    if v is None:
        return Decimal(0)
    return v if isinstance(v, Decimal) else Decimal(str(v))


def _services(conn: Connection, ids: list[int]) -> dict[int, tuple[tuple[str, ...], Decimal]]:
    lines: dict[int, list[tuple[int, str]]] = {}
    amount: dict[int, Decimal] = {}
    for rid, order_id, name, count, price, discount in conn.execute(build_orders_query(ids)):
        qty = _money(count) if count is not None else Decimal(1)
        amount[rid] = amount.get(rid, Decimal(0)) + qty * _money(price) - _money(discount)
        if name is not None:
            lines.setdefault(rid, []).append((order_id, name))
    out: dict[int, tuple[tuple[str, ...], Decimal]] = {}
    for rid, total in amount.items():
        # Order in Python, not SQL: collations differ between SQL Server, PostgreSQL, SQLite.
        seen: dict[str, None] = {}
        for _, name in sorted(lines.get(rid, ()), key=lambda t: (t[0], t[1])):
            seen.setdefault(name, None)
        out[rid] = (tuple(seen), total.quantize(Decimal("0.01")))
    return out


def branch_names_query() -> Select:
    return select(s.OwnCompanies.c.ID, s.OwnCompanies.c.Name)


def specialities_query() -> Select:
    it, pn = s.Items, s.ProfessionNames
    return (select(it.c.ID_Staffs, pn.c.ID, pn.c.NameProfession)
            .select_from(it.join(pn, pn.c.ID == it.c.ID_ProfessionNames)))


def existing_ids_query(reception_ids: Sequence[int]) -> Select:
    return select(_R.c.ID).where(_R.c.ID.in_(list(reception_ids)))


def statements(start: datetime, end: datetime, patient_since: datetime | None,
               ids: Sequence[int]) -> dict[str, Select]:
    """Every statement this module sends to IDENT, by name (the tests compile each for SQL
    Server and render it as pymssql sends it)."""
    out = {f"candidates[{i}]": q
           for i, q in enumerate(candidate_queries(start, end, patient_since))}
    out.update({
        "page": build_page_query(start, end, after_id=min(ids) - 1, page_size=len(ids),
                                 ids=ids),
        "orders": build_orders_query(ids),
        "branch_names": branch_names_query(),
        "specialities": specialities_query(),
        "existing_ids": existing_ids_query(ids),
    })
    return out


def _branch_names(conn: Connection) -> dict[int, str]:
    return {i: n for i, n in conn.execute(branch_names_query())}


def _specialities(conn: Connection) -> dict[int, str]:
    """Staff id -> the first speciality (lowest ProfessionNames.ID)."""
    rows = conn.execute(specialities_query())
    best: dict[int, tuple[int, str]] = {}
    for staff, pid, name in rows:
        if name is not None and (staff not in best or pid < best[staff][0]):
            best[staff] = (pid, name)
    return {staff: name for staff, (_, name) in best.items()}


def _join_name(*parts: str | None) -> str | None:
    joined = " ".join(p.strip() for p in parts if p and p.strip())
    return joined or None


def _row(r, services, branches, specialities) -> SourceReception:
    rid = r["reception_id"]
    names, amount = services.get(rid, ((), None))
    return SourceReception(
        reception_id=rid,
        patient_id=r["patient_id"],
        branch_id=r["branch_id"],
        branch_name=branches.get(r["branch_id"]) if r["branch_id"] is not None else None,
        surname=r["surname"],
        name=r["name"],
        patronymic=r["patronymic"],
        mobile_phone=r["mobile_phone"],
        card_number=r["card_number"],
        guardian=r["guardian"],
        doctor_name=_join_name(r["doctor_surname"], r["doctor_name"], r["doctor_patronymic"]),
        doctor_speciality=specialities.get(r["staff_id"]),
        chair_name=r["chair_name"],
        plan_start=r["plan_start"],
        plan_end=r["plan_end"],
        comment=r["comment"],
        patient_appeared=r["patient_appeared"],
        reception_started=r["reception_started"],
        reception_ended=r["reception_ended"],
        check_issued=r["check_issued"],
        reception_canceled=r["reception_canceled"],
        cancel_reason=r["cancel_reason"],
        cancel_reason_comment=r["cancel_reason_comment"],
        date_added=r["date_added"],
        date_changed=r["date_changed"],
        services=names,
        amount=amount,
    )


def _pages(
    conn: Connection, start: datetime, end: datetime, branch_id: int | None, page_size: int,
    unassigned_except: Sequence[int] | None = None, patient_since: datetime | None = None,
    ids: Sequence[int] | None = None,
) -> Iterator[SourceReception]:
    """Receptions changed in the window (or exactly ``ids``), ascending id, by id pages."""
    wanted = (sorted({int(i) for i in ids}) if ids is not None
              else changed_ids(conn, start, end, patient_since))
    if not wanted:
        return
    branches = _branch_names(conn)
    specialities = _specialities(conn)
    for i in range(0, len(wanted), page_size):
        group = wanted[i:i + page_size]
        rows = conn.execute(
            build_page_query(start, end, after_id=group[0] - 1, page_size=len(group),
                             ids=group)
        ).mappings().all()
        rows = [r for r in rows if branch_wanted(r["branch_id"], branch_id, unassigned_except)]
        if not rows:
            continue
        services = _services(conn, [r["reception_id"] for r in rows])
        for r in rows:
            yield _row(r, services, branches, specialities)


def extract_receptions(
    engine_or_conn: Engine | Connection,
    start: datetime,
    end: datetime,
    *,
    branch_id: int | None = None,
    page_size: int = 1000,
    unassigned_except: Sequence[int] | None = None,
    patient_since: datetime | None = None,
) -> Iterator[SourceReception]:
    """Receptions changed in [start, end) (naive clinic-local time), in ascending ID order.

    ``branch_id`` keeps only receptions of that IDENT OwnCompanies.ID. ``amount`` is None for
    a reception without orders. The generator holds one connection while it is consumed.
    ``unassigned_except`` (all configured branch ids) additionally yields receptions whose
    branch is missing or not among them, so one DAG can report them as rejections.
    ``patient_since`` adds the receptions (planned from then on) of patients edited in the
    window.
    """
    if start.tzinfo is not None or end.tzinfo is not None:
        raise ValueError("start/end must be naive clinic-local time; see to_local_naive()")
    if patient_since is not None and patient_since.tzinfo is not None:
        raise ValueError("patient_since must be naive clinic-local time")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
    args = (start, end, branch_id, page_size, unassigned_except, patient_since)
    if isinstance(engine_or_conn, Connection):
        yield from _pages(engine_or_conn, *args)
        return
    with engine_or_conn.connect() as conn:
        yield from _pages(conn, *args)


def extract_by_ids(engine: Engine, reception_ids: Sequence[int]) -> list[SourceReception]:
    """These receptions as they are now (the retry queue's), whatever their timestamps.

    Ids that no longer exist in IDENT are simply absent from the result.
    """
    ids = sorted({int(i) for i in reception_ids})
    out: list[SourceReception] = []
    epoch = datetime(1900, 1, 1)
    with engine.connect() as conn:
        for i in range(0, len(ids), MAX_PAGE_SIZE // 2):  # SQL Server: <= 2100 parameters
            group = ids[i:i + MAX_PAGE_SIZE // 2]
            out.extend(_pages(conn, epoch, epoch, None, len(group), ids=group))
    return out


def existing_reception_ids(engine: Engine, reception_ids: Sequence[int]) -> set[int]:
    """Which of these reception ids still exist in IDENT (for the deleted-reception check)."""
    ids = sorted({int(i) for i in reception_ids})
    found: set[int] = set()
    with engine.connect() as conn:
        for i in range(0, len(ids), MAX_PAGE_SIZE):
            group = ids[i:i + MAX_PAGE_SIZE]
            found.update(conn.execute(existing_ids_query(group)).scalars())
    return found
