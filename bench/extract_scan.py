"""What a 30-minute extract reads on a big IDENT: the former single query vs candidates + ids.

Builds 2,000,000 receptions (about five years of a busy clinic: 200,000 patients, an order
per attended reception, a bill for most, patient cards edited now and then) in PostgreSQL,
schema ``bench_extract`` of database ``test``, with ``generate_series`` (about a minute), and
the indexes ``identsync.ident.check.NEEDED_INDEXES`` names (primary keys plus one index per
change column, as a DBA would add on IDENT's SQL Server). Then, for one 30-minute window
during opening hours, runs each statement of both extracts under
``EXPLAIN (ANALYZE, BUFFERS)`` and prints rows read (rows the scans produced plus those their
filters removed), 8 KB buffers touched, and milliseconds; then the whole extract, timed from
Python, both ways, and checks they return the same receptions.

    .venv/bin/python -m bench.extract_scan              # build (if absent) and measure
    .venv/bin/python -m bench.extract_scan --rebuild    # drop and build again
    .venv/bin/python -m bench.extract_scan --drop       # remove the schema

The "old" extract is ``build_page_query`` with a window (what the DAG ran before): the branch
DAG's first page, ``after_id=0``, its branch and unassigned filter and the patient clause.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import datetime, timedelta

import sqlalchemy as sa

from identsync.ident import schema as s
from identsync.ident.check import NEEDED_INDEXES
from identsync.ident.extract import (
    build_orders_query,
    build_page_query,
    candidate_queries,
    changed_ids,
    extract_receptions,
)

SCHEMA = "bench_extract"
DSN = os.environ.get("BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
RECEPTIONS = 2_000_000
PATIENTS = 200_000
FIRST_DAY = datetime(2021, 11, 23)
NOW = datetime(2026, 11, 22, 15, 0)  # the last reception is planned for this afternoon
WINDOW = (datetime(2026, 11, 22, 11, 0), datetime(2026, 11, 22, 11, 30))
BRANCH, BRANCHES = 1, [1, 2]
PATIENT_DAYS = 30  # patient_receptions_days: a patient edit reaches their next month

# Reception i is planned at FIRST_DAY + i * STEP (about 1,100 a day, 8:00-20:00 spread over
# the day); the rest of its timestamps follow from it, as in IDENT.
STEP_SECONDS = round((NOW - FIRST_DAY).total_seconds() / RECEPTIONS, 3)

BUILD = f"""
INSERT INTO "OwnCompanies" VALUES (1, 'Центральная'), (2, 'Северная');
INSERT INTO "Armchairs" SELECT g, 'Кресло ' || g, 1 + g % 2 FROM generate_series(1, 10) g;
INSERT INTO "ReceptionCancelReasons" VALUES (1, 'Заболел'), (2, 'Не пришёл');
INSERT INTO "ProfessionNames" VALUES (1, 'Терапевт'), (2, 'Хирург');
INSERT INTO "Persons" SELECT g, 'Фамилия' || g, 'Имя', 'Отчество',
    '+7916' || lpad((g % 10000000)::text, 7, '0') FROM generate_series(1, {PATIENTS + 20}) g;
INSERT INTO "Staffs" SELECT g FROM generate_series({PATIENTS + 1}, {PATIENTS + 20}) g;
INSERT INTO "Items" SELECT g, 1 + g % 2 FROM generate_series({PATIENTS + 1}, {PATIENTS + 20}) g;
-- One patient card in 50 was edited, at a time spread over the five years.
INSERT INTO "Patients" ("ID_Persons", "CardNumber", "ParentSNP", "DateTimeChanged")
SELECT g, 'K' || g, NULL, CASE WHEN g % 50 = 0 THEN
    timestamp '{FIRST_DAY}' + ((g::bigint * 7919) % {RECEPTIONS}) * interval '{STEP_SECONDS} seconds'
    END FROM generate_series(1, {PATIENTS}) g;
INSERT INTO "Receptions" ("ID", "ID_Patients", "ID_Staffs", "ID_Armchairs", "PlanStart",
    "PlanEnd", "Comment", "PatientAppeared", "ReceptionStarted", "ReceptionEnded",
    "CheckIssued", "ReceptionCanceled", "ID_ReceptionCancelReasons", "DateTimeAdded",
    "DateTimeChanged")
SELECT g, 1 + (g::bigint * 104729) % {PATIENTS}, {PATIENTS + 1} + g % 20, 1 + g % 10, p,
    p + interval '30 minutes', 'комментарий ' || g,
    CASE WHEN p < now_ AND g % 10 <> 0 THEN p - interval '5 minutes' END,
    CASE WHEN p < now_ AND g % 10 <> 0 THEN p END,
    CASE WHEN p + interval '30 minutes' < now_ AND g % 10 <> 0 THEN p + interval '30 minutes' END,
    CASE WHEN p + interval '35 minutes' < now_ AND g % 10 <> 0 AND g % 4 <> 0
         THEN p + interval '35 minutes' END,
    CASE WHEN g % 10 = 0 AND p - interval '1 day' < now_ THEN p - interval '1 day' END,
    CASE WHEN g % 10 = 0 AND p - interval '1 day' < now_ THEN 1 END,
    p - (g % 14) * interval '1 day' - interval '3 hours',
    LEAST(p + interval '40 minutes', now_)
FROM (SELECT g, timestamp '{FIRST_DAY}' + g * interval '{STEP_SECONDS} seconds' AS p,
             timestamp '{NOW}' AS now_
      FROM generate_series(1, {RECEPTIONS}) g) x;
-- An order for every attended reception (id = reception id), a bill for those checked out.
INSERT INTO "Orders" SELECT r."ID", r."ID", CASE WHEN r."ID" % 97 = 0 THEN 2 ELSE 1 END,
    r."ID_Patients", r."ReceptionStarted" + interval '10 minutes', r."CheckIssued",
    r."CheckIssued" IS NOT NULL
FROM "Receptions" r WHERE r."ReceptionStarted" IS NOT NULL;
INSERT INTO "ServiceItems" SELECT g, 'Услуга ' || g FROM generate_series(1, 50) g;
INSERT INTO "ServiceItemPrices" SELECT g, g, 1000 + g * 10 FROM generate_series(1, 50) g;
INSERT INTO "OrderServiceRelation" SELECT o."ID", 1 + o."ID" % 50, 1, 0 FROM "Orders" o;
"""


def engine() -> sa.Engine:
    return sa.create_engine(DSN, connect_args={"options": f"-c search_path={SCHEMA}"})


def build(eng: sa.Engine) -> float:
    t0 = time.monotonic()
    with eng.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
        s.metadata.create_all(conn)  # primary keys and the schema's own indexes
        with conn.connection.cursor() as cur:  # the DB-API cursor: no "%" placeholders
            cur.execute(BUILD)
        for n in NEEDED_INDEXES:
            conn.exec_driver_sql(f'CREATE INDEX IF NOT EXISTS "ix_{n.table}_{n.column}" '
                                 f'ON "{n.table}" ("{n.column}")')
    with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    return time.monotonic() - t0


def built(eng: sa.Engine) -> bool:
    with eng.connect() as conn:
        return bool(conn.exec_driver_sql(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE n.nspname = '{SCHEMA}' AND c.relname = 'Receptions'").scalar())


def _walk(node: dict):
    yield node
    for child in node.get("Plans", ()):
        yield from _walk(child)


def explain(conn: sa.Connection, stmt) -> dict:
    """Rows read, buffers and time of one statement, from EXPLAIN (ANALYZE, BUFFERS)."""
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + str(compiled),
                                compiled.construct_params()).scalar()
    plan = plan if isinstance(plan, list) else json.loads(plan)
    top = plan[0]
    rows = 0
    for node in _walk(top["Plan"]):
        if "Scan" in node["Node Type"]:
            loops = node.get("Actual Loops", 1)
            rows += int((node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
                         + node.get("Rows Removed by Index Recheck", 0)) * loops)
    root = top["Plan"]
    return {"rows_read": rows, "rows_out": root.get("Actual Rows", 0),
            "buffers": root.get("Shared Hit Blocks", 0) + root.get("Shared Read Blocks", 0),
            "ms": top["Planning Time"] + top["Execution Time"],
            "nodes": sorted({n["Node Type"] + (f" on {n['Relation Name']}"
                                               if "Relation Name" in n else "")
                             for n in _walk(root) if "Scan" in n["Node Type"]})}


def measure(eng: sa.Engine) -> dict:
    start, end = WINDOW
    since = start - timedelta(days=PATIENT_DAYS)
    out: dict = {"old": {}, "new": {}}
    with eng.connect() as conn:
        old = build_page_query(start, end, after_id=0, page_size=1000, branch_id=BRANCH,
                               unassigned_except=BRANCHES, patient_since=since)
        explain(conn, old)  # warm the cache alike for both
        out["old"]["page (one OR over 9 timestamps, branch expression)"] = explain(conn, old)
        for i, q in enumerate(candidate_queries(start, end, since)):
            explain(conn, q)
            out["new"][f"candidates[{i}]"] = explain(conn, q)
        ids = changed_ids(conn, start, end, since)
        page = build_page_query(start, end, after_id=ids[0] - 1, page_size=len(ids), ids=ids)
        out["new"]["page by id"] = explain(conn, page)
        kept = [r.reception_id for r in extract_receptions(  # the branch's, decided in Python
            conn, start, end, branch_id=BRANCH, unassigned_except=BRANCHES, patient_since=since)]
        out["new"]["orders of the page"] = explain(conn, build_orders_query(kept or [0]))
        out["old"]["orders of the page"] = explain(
            conn, build_orders_query(_old_extract(eng, start, end, since) or [0]))
        out["candidates"] = len(ids)
    # The whole extract both ways, as the DAG runs it, timed from Python (warm, best of 3).
    for name in ("old", "new"):
        best = None
        for _ in range(3):
            t0 = time.monotonic()
            got = (_old_extract(eng, start, end, since) if name == "old" else
                   [r.reception_id for r in extract_receptions(
                       eng, start, end, branch_id=BRANCH, unassigned_except=BRANCHES,
                       patient_since=since)])
            took = (time.monotonic() - t0) * 1000
            best = took if best is None else min(best, took)
        out[f"{name}_ids"], out[f"{name}_wall_ms"] = got, best
    return out


def _old_extract(eng: sa.Engine, start, end, since) -> list[int]:
    got: list[int] = []
    with eng.connect() as conn:
        while True:
            page = conn.execute(build_page_query(
                start, end, after_id=got[-1] if got else 0, page_size=1000, branch_id=BRANCH,
                unassigned_except=BRANCHES, patient_since=since)).scalars().all()
            got += page
            if len(page) < 1000:
                return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--drop", action="store_true")
    args = ap.parse_args()
    eng = engine()
    if args.drop:
        with eng.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        return
    if args.rebuild or not built(eng):
        print(f"building {RECEPTIONS:,} receptions in {SCHEMA} ...", flush=True)
        print(f"built in {build(eng):.0f} s")
    with eng.connect() as conn:
        n = conn.exec_driver_sql('SELECT count(*) FROM "Receptions"').scalar()
    m = measure(eng)
    print(f"\n{n:,} receptions; window {WINDOW[0]} .. {WINDOW[1]}, branch {BRANCH}; "
          f"{m['candidates']} changed receptions in the window\n")
    print(f"| extract | statement | rows read | buffers | ms | scans |")
    print("|---|---|---:|---:|---:|---|")
    for name in ("old", "new"):
        for label, r in m[name].items():
            print(f"| {name} | {label} | {r['rows_read']:,} | {r['buffers']:,} | "
                  f"{r['ms']:.1f} | {', '.join(r['nodes'])} |")
        total = {k: sum(r[k] for r in m[name].values()) for k in ("rows_read", "buffers", "ms")}
        print(f"| **{name}** | **total** | **{total['rows_read']:,}** | "
              f"**{total['buffers']:,}** | **{total['ms']:.1f}** | |")
    print(f"\nwhole extract from Python (warm, best of 3): old {m['old_wall_ms']:.0f} ms, "
          f"new {m['new_wall_ms']:.0f} ms; same receptions: {m['old_ids'] == m['new_ids']} "
          f"({len(m['new_ids'])})")
    eng.dispose()


if __name__ == "__main__":
    main()
