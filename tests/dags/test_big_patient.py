"""The real DAG (`airflow dags test`) on two everyday cases the batch layer once broke.

* Issue 18.1: a new patient with 200 receptions in one window. Their chunk holds the new
  contact and 50 deals that reference it: 51 commands that the batch splitter refused, so
  the run failed on every try. Now the contact goes first and every deal is linked to it.
* Issue 20.7: staff-typed text holding what the portal's batch engine rewrites
  (``$result[c0]``, ``$time[c0][start]``, ``$next[..]``, ``$total[..]``, ``$error[..]``) in
  a name, a reception comment and a service arrives on the contact, the deal and the
  timeline comment exactly as typed (the emulator rewrites them the way the portal does).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from identsync.bitrix24 import Bitrix24Client
from identsync.cli.portal_setup import setup_portal
from identsync.config import SyncConfig
from identsync.ident import schema as s
from tests.fixtures.airflow import airflow, airflow_env, last_xcom, migrate, write_config
from tests.fixtures.emulator import TEST_TOKEN
from tools import pgserver
from tools.ident_demo.clinic import create_schema

pytestmark = pytest.mark.airflow

DAG_ID = "ident_to_bitrix24_branch_1"
CONF = {"date_from": "2026-11-01", "date_to": "2026-11-30"}
CHANGED = datetime(2026, 11, 20, 10, 0)
BIG_PHONE = "89161234567"
RECEPTIONS = 200
COMMENT = "см. $result[c0], $next[c0] из $total[c0]; $error[c0] в $time[c0][start] и $next["
SERVICE = "Чистка $result[d0] / $total[c0]"


def fill_ident(engine: sa.Engine) -> None:
    create_schema(engine)
    reception = {"ID_Staffs": 1, "ID_Armchairs": 1, "PlanEnd": None, "Comment": None,
                 "PatientAppeared": None, "ReceptionStarted": None, "ReceptionEnded": None,
                 "CheckIssued": None, "ReceptionCanceled": None,
                 "ID_ReceptionCancelReasons": None, "CancelReasonComment": None,
                 "DateTimeAdded": CHANGED, "ExternalUID": None}
    patient = {"ParentSNP": None, "Comment": None, "FirstVisit": None, "PatientNumber": None,
               "Status": 0, "DateTimeChanged": CHANGED}
    persons = [
        {"ID": 1, "Surname": "Докторов", "Name": "Дмитрий", "Patronymic": "Д", "MobilePhone": None},
        {"ID": 10, "Surname": "Долгова", "Name": "Ольга", "Patronymic": "Ивановна",
         "MobilePhone": BIG_PHONE},
        {"ID": 11, "Surname": "Тестова", "Name": "$result[c0]", "Patronymic": "$time[c0][start]",
         "MobilePhone": "89160000011"},
        {"ID": 12, "Surname": "Комментова", "Name": "Вера", "Patronymic": "Павловна",
         "MobilePhone": "89160000012"},
        {"ID": 13, "Surname": "Услугина", "Name": "Анна", "Patronymic": "Петровна",
         "MobilePhone": "89160000013"},
    ]
    receptions = [{**reception, "ID": 1000 + i, "ID_Patients": 10,
                   "PlanStart": datetime(2026, 12, 1, 9) + timedelta(days=i // 8, hours=i % 8),
                   "DateTimeChanged": CHANGED + timedelta(seconds=i)}
                  for i in range(RECEPTIONS)]
    for rid, pid, comment in ((2001, 11, None), (2002, 12, COMMENT), (2003, 13, None)):
        receptions.append({**reception, "ID": rid, "ID_Patients": pid, "Comment": comment,
                           "PlanStart": datetime(2026, 12, 2, 10),
                           "DateTimeChanged": CHANGED + timedelta(minutes=5)})
    with engine.begin() as conn:
        conn.execute(s.OwnCompanies.insert(), [{"ID": 1, "Name": "Центральная"}])
        conn.execute(s.Armchairs.insert(),
                     [{"ID": 1, "NameArmchair": "Кресло 1", "ID_OwnCompanies": 1}])
        conn.execute(s.Persons.insert(), persons)
        conn.execute(s.Staffs.insert(), [{"ID_Persons": 1}])
        conn.execute(s.Patients.insert(), [{**patient, "ID_Persons": p["ID"],
                                            "CardNumber": f"K{p['ID']}"} for p in persons[1:]])
        conn.execute(s.Receptions.insert(), receptions)
        conn.execute(s.ServiceItems.insert(), [{"ID": 1, "Name": SERVICE}])
        conn.execute(s.ServiceItemPrices.insert(),
                     [{"ID": 1, "ID_ServiceItems": 1, "Price": Decimal("1000.00")}])
        conn.execute(s.Orders.insert(), [{"ID": 1, "ID_Receptions": 2003, "ID_OwnCompanies": 1,
                                          "ID_Patients": 13, "DateTimeOrder": CHANGED,
                                          "DateTimeBillFormed": None, "IsBillFormed": False}])
        conn.execute(s.OrderServiceRelation.insert(),
                     [{"ID_Orders": 1, "ID_ServicePrices": 1, "CountService": Decimal(1),
                       "DiscountSum": Decimal(0)}])


@pytest.fixture(scope="module")
def world(tmp_path_factory, emulator_session):
    emulator_session.reset("all,config")
    tmp = tmp_path_factory.mktemp("bigpatient")
    ident_db = tmp / "ident.sqlite3"
    engine = sa.create_engine(f"sqlite:///{ident_db}")
    fill_ident(engine)
    with pgserver.scratch_schema("test", "bigpatient") as dsn:
        config = write_config(tmp / "identsync.json", retry_delay_seconds=1)
        with Bitrix24Client(emulator_session.webhook_url, plan="unlimited") as client:
            setup_portal(client, SyncConfig.from_dict(json.loads(config.read_text("utf-8"))),
                         out=lambda _line: None)
        env = airflow_env(tmp / "airflow", emulator_base_url=emulator_session.base_url,
                          token=TEST_TOKEN, ident_db=ident_db, state_dsn=dsn, config=config)
        migrate(env)
        yield {"env": env, "emu": emulator_session}


def test_one_new_patient_with_200_receptions_and_literal_text(world):
    emu = world["emu"]
    before = emu.stats_snapshot()
    proc = airflow(world["env"], "dags", "test", DAG_ID, "-c", json.dumps(CONF))
    after = emu.stats_snapshot()
    summary = last_xcom(world["env"], DAG_ID, "run_summary")
    assert summary, proc.stdout[-3000:]
    counts = summary["counts"]
    assert counts["deals_created"] == RECEPTIONS + 3, counts
    assert not counts.get("deals_failed") and not counts.get("contacts_failed"), counts

    contacts = emu.control.dump("contact")
    deals = emu.control.dump("deal")
    big = [c for c in contacts if c["LAST_NAME"] == "Долгова"]
    assert len(big) == 1 and len(contacts) == 4  # one contact per patient, none twice
    mine = [d for d in deals if str(d.get("CONTACT_ID")) == str(big[0]["ID"])]
    assert len(mine) == RECEPTIONS == len(deals) - 3  # every deal linked to its contact
    added = {m: n - before["by_method"].get(m, 0) for m, n in after["by_method"].items()}
    assert added.get("crm.contact.add") == 4 and added.get("crm.deal.add") == RECEPTIONS + 3

    # Literal text: exactly as typed, on the contact, the deal and the timeline comment.
    odd = next(c for c in contacts if c["LAST_NAME"] == "Тестова")
    assert (odd["NAME"], odd["SECOND_NAME"]) == ("$result[c0]", "$time[c0][start]")
    by_contact = {str(d.get("CONTACT_ID")): d for d in deals}
    assert str(odd["ID"]) in by_contact  # its deal is linked although the contact went alone
    services = next(d for d in deals if SERVICE in json.dumps(d, ensure_ascii=False))
    assert SERVICE in services.values()
    comments = [c["COMMENT"] for c in emu.control.dump("comment")]
    assert len(comments) == RECEPTIONS + 3
    assert sum(f"Комментарий IDENT: {COMMENT}" in c for c in comments) == 1
    assert sum(SERVICE in c for c in comments) == 1
    assert sum("Тестова $result[c0] $time[c0][start]" in c for c in comments) == 1
