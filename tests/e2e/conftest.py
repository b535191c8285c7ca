"""What the scheduler tests share: a portal, a state schema, and the checks of the result.

Each test module builds one real Airflow stack (tools/airflow_stack/) in a module-scoped
fixture and checks it from several tests; the stack, its metadata database and its Redis
database are gone when the module ends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from b24emu.server import EmulatorServer
from tools import pgserver
from tools.airflow_stack import AirflowStack
from tools.invariants import Report, check, ledger_rows, state_rejections

#: The webhook token of the tests' portal: must show up in no log, XCom or rendered field.
TOKEN = "e2e-webhook-SECRET-7c41d09b"


@pytest.fixture(scope="module")
def state_dsn() -> Iterator[str]:
    with pgserver.scratch_schema("test", "e2e") as dsn:
        yield dsn


def start_portal(latency_ms: float) -> EmulatorServer:
    """The portal at standard-plan limits (leaky bucket 50, 2 per second)."""
    return EmulatorServer(token=TOKEN, plan="standard", latency_ms=latency_ms, port=0).start()


def portal_report(emu: EmulatorServer, engine: Any, cfg: Any, dsn: str,
                  pipeline: str) -> tuple[Report, dict[str, list[dict[str, Any]]]]:
    """Every invariant of tools/invariants.py over the whole source, and the portal's dump."""
    emu.control.settled()
    dump = emu.control.dump_all()
    deal_ids = [int(x["ENTITY_ID"]) for x in dump["comment"]]
    report = check(engine, cfg, dump, state_rejections(dsn, [pipeline]),
                   ledger_rows=ledger_rows(dsn, deal_ids))
    return report, dump


def duplicates(dump: dict[str, list[dict[str, Any]]], ident_field: str) -> dict[str, int]:
    """Deals per IDENT id, contacts per (phone, name) and comments per (deal, text) that
    occur more than once."""
    deals = Counter(d.get(ident_field) for d in dump["deal"])
    contacts = Counter((tuple(sorted(p.get("VALUE", "") for p in c.get("PHONE") or [])),
                        c.get("LAST_NAME"), c.get("NAME"), c.get("SECOND_NAME"))
                       for c in dump["contact"])
    comments = Counter((x["ENTITY_ID"], x["COMMENT"]) for x in dump["comment"])
    return {"deals": sum(n - 1 for n in deals.values() if n > 1),
            "contacts": sum(n - 1 for n in contacts.values() if n > 1),
            "comments": sum(n - 1 for n in comments.values() if n > 1)}


def token_leaks(stack: AirflowStack, token: str) -> list[str]:
    """Where the token shows up: any file under AIRFLOW_HOME (task logs, dag-processor logs,
    the stack's own process logs, airflow.cfg), XCom values, rendered template fields."""
    found = [str(p) for p in Path(stack.home).rglob("*")
             if p.is_file() and token.encode() in p.read_bytes()]
    like = f"%{token}%"
    (xcom,), = stack.query("SELECT count(*) FROM xcom WHERE value::text LIKE %s", (like,))
    if xcom:
        found.append(f"{xcom} XCom values")
    (rendered,), = stack.query(
        "SELECT count(*) FROM rendered_task_instance_fields WHERE rendered_fields::text LIKE %s",
        (like,))
    if rendered:
        found.append(f"{rendered} rendered_task_instance_fields rows")
    return found
