"""Moving the demo clinic forward: fates come due, comments change, new bookings arrive."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection, Engine

from identsync.ident import schema as s
from tools.ident_demo.clinic import fate_of, insert_rows, orders_of, reception_state
from tools.ident_demo.vocabulary import (
    EDITED_COMMENTS,
    PRICE_ID_OFFSET,
    RECEPTION_COMMENTS,
    SERVICES,
)


# --- advance -------------------------------------------------------------------------------
def clinic_clock(conn: Connection) -> datetime | None:
    """The latest timestamp anywhere in the clinic's receptions and orders."""
    r, o = s.Receptions.c, s.Orders.c
    cols = [r[c] for c in s.RECEPTION_CHANGE_COLUMNS] + [o[c] for c in s.ORDER_CHANGE_COLUMNS]
    latest = [conn.execute(select(func.max(c))).scalar() for c in cols]
    found = [v for v in latest if v is not None]
    return max(found) if found else None


def _between(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    """A whole-second time in (lo, hi]."""
    span = int((hi - lo).total_seconds())
    return lo + timedelta(seconds=rng.randint(1, max(span, 1)))


def advance_day(
    engine: Engine, *, seed: int, now: datetime, since: datetime | None = None
) -> dict[str, int]:
    """Move the clinic forward to ``now``; returns counts of what changed.

    Fate events due by ``now`` are applied (arrivals, starts, ends, bills, cancellations,
    orders). A few extra changes — comment edits on future receptions, new bookings and a
    service added to an already-billed order (an Orders-only change) — happen at times in
    ``(since, now]``; ``since`` defaults to the clinic's latest timestamp. Every timestamp
    written is <= ``now``.
    """
    R, O = s.Receptions, s.Orders
    counts = {"arrived": 0, "started": 0, "ended": 0, "billed": 0, "cancelled": 0,
              "orders_created": 0, "comments_changed": 0, "booked": 0,
              "orders_extended": 0, "receptions_changed": 0}
    rng = random.Random(f"{seed}:advance:{now.isoformat()}")
    with engine.begin() as conn:
        since = since or clinic_clock(conn) or now - timedelta(days=1)
        if since >= now:
            raise ValueError("now must be later than since (the clinic's latest change)")
        branch_of_chair = dict(conn.execute(select(s.Armchairs.c.ID,
                                                   s.Armchairs.c.ID_OwnCompanies)).all())
        has_order = set(conn.execute(select(O.c.ID_Receptions)).scalars())
        next_oid = (conn.execute(select(func.max(O.c.ID))).scalar() or 0) + 1
        open_rows = conn.execute(
            select(R).where(R.c.ReceptionCanceled.is_(None), R.c.CheckIssued.is_(None),
                            R.c.PlanStart.is_not(None), R.c.PlanEnd.is_not(None),
                            R.c.DateTimeAdded.is_not(None))
            .order_by(R.c.ID)
        ).mappings().all()

        rec_updates: list[dict[str, Any]] = []
        new_orders, new_lines, bill_updates = [], [], []
        event_cols = list(s.RECEPTION_CHANGE_COLUMNS[2:])
        for row in open_rows:
            fate = fate_of(seed, row["ID"], row["PlanStart"], row["PlanEnd"],
                           row["DateTimeAdded"])
            state = reception_state(fate, now)
            newly = [c for c in event_cols if row[c] is None and state[c] is not None]
            branch = branch_of_chair.get(row["ID_Armchairs"])
            order, lines = orders_of(fate, row["ID"], next_oid, row["ID_Patients"],
                                       branch, now)
            if order and row["ID"] not in has_order:
                new_orders.append(order)
                new_lines.extend(lines)
                next_oid += 1
                counts["orders_created"] += 1
            elif order and "CheckIssued" in newly:
                bill_updates.append({"rid": row["ID"], "bill": state["CheckIssued"]})
            if not newly:
                continue
            for col, key in (("PatientAppeared", "arrived"), ("ReceptionStarted", "started"),
                             ("ReceptionEnded", "ended"), ("CheckIssued", "billed"),
                             ("ReceptionCanceled", "cancelled")):
                counts[key] += col in newly
            upd = {c: row[c] if row[c] is not None else state[c] for c in event_cols}
            upd.update(
                rid=row["ID"],
                ID_ReceptionCancelReasons=state["ID_ReceptionCancelReasons"],
                CancelReasonComment=state["CancelReasonComment"],
                DateTimeChanged=max([state[c] for c in newly] + [row["DateTimeChanged"]
                                                                  or row["DateTimeAdded"]]),
                Comment=row["Comment"],
            )
            rec_updates.append(upd)

        # Comment edits on receptions still planned after now.
        touched = {u["rid"] for u in rec_updates}
        planned_future = [r for r in open_rows if r["PlanStart"] > now
                          and r["ID"] not in touched and r["PatientAppeared"] is None]
        for row in rng.sample(planned_future, min(len(planned_future), rng.randint(2, 6))):
            upd = {c: row[c] for c in event_cols}
            upd.update(rid=row["ID"], ID_ReceptionCancelReasons=None, CancelReasonComment=None,
                       DateTimeChanged=max(_between(rng, since, now),
                                           row["DateTimeChanged"] or since),
                       Comment=rng.choice(EDITED_COMMENTS))
            rec_updates.append(upd)
            counts["comments_changed"] += 1

        if rec_updates:
            stmt = update(R).where(R.c.ID == bindparam("rid")).values(
                {c: bindparam(c) for c in [*event_cols, "ID_ReceptionCancelReasons",
                                           "CancelReasonComment", "DateTimeChanged", "Comment"]}
            )
            conn.execute(stmt, rec_updates)
        if bill_updates:
            conn.execute(
                update(O).where(O.c.ID_Receptions == bindparam("rid"))
                .values(DateTimeBillFormed=bindparam("bill"), IsBillFormed=True),
                bill_updates,
            )
        insert_rows(conn, O, new_orders)
        insert_rows(conn, s.OrderServiceRelation, new_lines)

        # Orders-only change: a service added to a billed reception as a new order.
        billed = conn.execute(
            select(R.c.ID, R.c.ID_Patients, R.c.ID_Armchairs).where(R.c.CheckIssued.is_not(None))
            .order_by(R.c.ID)
        ).all()
        extra_orders, extra_lines = [], []
        for rid, patient, chair in rng.sample(billed, min(len(billed), rng.randint(1, 3))):
            at = _between(rng, since, now)
            extra_orders.append({"ID": next_oid, "ID_Receptions": rid,
                                 "ID_OwnCompanies": branch_of_chair.get(chair),
                                 "ID_Patients": patient, "DateTimeOrder": at,
                                 "DateTimeBillFormed": at, "IsBillFormed": True})
            extra_lines.append({"ID_Orders": next_oid,
                                "ID_ServicePrices": rng.randint(1, len(SERVICES)) + PRICE_ID_OFFSET,
                                "CountService": Decimal(1), "DiscountSum": Decimal(0)})
            next_oid += 1
            counts["orders_extended"] += 1
        insert_rows(conn, O, extra_orders)
        insert_rows(conn, s.OrderServiceRelation, extra_lines)

        counts["booked"] = _book(conn, rng, since, now, seed)
        counts["receptions_changed"] = len(rec_updates)
    return counts


def _book(conn: Connection, rng: random.Random, since: datetime, now: datetime,
          seed: int) -> int:
    """A few new receptions booked in (since, now] for the next days.

    Each one is stored as it stands at ``now`` (e.g. already cancelled), like generate_clinic
    does: leaving its early events for the next advance would back-date them before this
    ``now``, outside the window that the next sync reads.
    """
    R = s.Receptions
    rid = (conn.execute(select(func.max(R.c.ID))).scalar() or 0) + 1
    patients = conn.execute(select(s.Patients.c.ID_Persons).order_by(
        s.Patients.c.ID_Persons)).scalars().all()
    doctors = conn.execute(
        select(s.Staffs.c.ID_Persons).order_by(s.Staffs.c.ID_Persons)).scalars().all()
    chairs = conn.execute(select(s.Armchairs.c.ID).order_by(s.Armchairs.c.ID)).scalars().all()
    if not (patients and doctors and chairs):
        return 0
    rows = []
    for _ in range(rng.randint(2, 5)):
        added = _between(rng, since, now)
        day = datetime.combine(now.date(), time(9, 0)) + timedelta(days=rng.randint(1, 3))
        slot = day + timedelta(minutes=15 * rng.randrange(44))
        plan_end = slot + timedelta(minutes=rng.choice((30, 60, 90)))
        state = reception_state(fate_of(seed, rid, slot, plan_end, added), now)
        events = [v for k, v in state.items() if k in s.RECEPTION_CHANGE_COLUMNS and v]
        rows.append({
            "ID": rid, "ID_Patients": rng.choice(patients), "ID_Staffs": rng.choice(doctors),
            "ID_Armchairs": rng.choice(chairs), "PlanStart": slot, "PlanEnd": plan_end,
            "Comment": rng.choice(RECEPTION_COMMENTS) if rng.random() < 0.5 else None,
            "DateTimeAdded": added, "DateTimeChanged": max([added, *events]),
            "ExternalUID": None, **state,
        })
        rid += 1
    insert_rows(conn, R, rows)
    return len(rows)
