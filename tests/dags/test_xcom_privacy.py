"""Through the real DAG (`airflow dags test`), one clinic, runs in order:

* issue #20 item 1: lookup maps in XCom carry ids, stages and keyed hashes, never a patient's
  name, phone, guardian or card number; with only hashes to go by, a family sharing one
  phone still gets one contact per patient;
* issue #18 items 2 and 3: a corrected surname and a new phone keep the patient's one
  contact; a reception moved to another branch keeps its one deal;
* issue #18 item 7: the deleted-reception DAG never moves a deal in a protected stage.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from identsync.bitrix24.client import Bitrix24Client
from identsync.config import SyncConfig
from identsync.ident import schema as s
from identsync.sync.phones import normalize_phone
from tests.fixtures.airflow import airflow, airflow_env, migrate, write_config
from tests.fixtures.emulator import TEST_TOKEN
from tools import pgserver
from tools.ident_demo.clinic import create_schema, generate_clinic

pytestmark = pytest.mark.airflow

DAG_ID = "ident_to_bitrix24_branch_1"
CONF = {"date_from": "2026-11-01", "date_to": "2026-12-31"}


@pytest.fixture(scope="module")
def world(tmp_path_factory, emulator_session):
    emulator_session.reset("all,config")
    tmp = tmp_path_factory.mktemp("xcompriv")
    ident_db = tmp / "ident.sqlite3"
    engine = sa.create_engine(f"sqlite:///{ident_db}")
    create_schema(engine)
    generate_clinic(engine, seed=5, receptions=120, patients=50, start=date(2026, 11, 20),
                    days=3, now=datetime(2026, 11, 21, 12, 0))
    with pgserver.scratch_schema("test", "xcompriv") as dsn:
        config = write_config(tmp / "identsync.json", retry_delay_seconds=1,
                              protected_stages=["PREPAYMENT_INVOICE"], deleted_stage="LOSE")
        env = airflow_env(tmp / "airflow", emulator_base_url=emulator_session.base_url,
                          token=TEST_TOKEN, ident_db=ident_db, state_dsn=dsn, config=config)
        migrate(env)
        yield {"env": env, "engine": engine, "emu": emulator_session,
               "cfg": SyncConfig.from_file(config)}


def xcom_texts(env: dict[str, str]) -> list[str]:
    """Every XCom value of the test Airflow, as readable text (no \\u escapes)."""
    url = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or \
        f"sqlite:///{Path(env['AIRFLOW_HOME']) / 'airflow.db'}"
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT value FROM xcom")).all()
    finally:
        engine.dispose()
    out = []
    for (value,) in rows:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        try:
            value = json.dumps(json.loads(value), ensure_ascii=False)
        except (TypeError, ValueError):
            value = str(value)
        out.append(value)
    return out


def patients(engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(
            s.Persons.c.ID, s.Persons.c.Surname, s.Persons.c.Name, s.Persons.c.Patronymic,
            s.Persons.c.MobilePhone, s.Patients.c.CardNumber, s.Patients.c.ParentSNP,
        ).join(s.Patients, s.Patients.c.ID_Persons == s.Persons.c.ID)).mappings().all()
    return [dict(r) for r in rows]


def needles(p: dict) -> list[str]:
    """What must not appear: the phone in the spellings a reader might search for, the full
    name, the guardian; the card number as a whole JSON value."""
    out = []
    if p["MobilePhone"]:
        digits = re.sub(r"\D", "", p["MobilePhone"])
        try:
            e164 = normalize_phone(p["MobilePhone"], "RU")
            out += [e164, e164[1:], e164[-10:]]
        except Exception:  # noqa: BLE001 - a rejected phone is never synced
            pass
        if len(digits) >= 10:
            out.append(digits[-10:])
    full = " ".join(x for x in (p["Surname"], p["Name"], p["Patronymic"]) if x)
    if full.strip():
        out.append(full)
    if p["ParentSNP"]:
        out.append(p["ParentSNP"])
    if p["CardNumber"]:
        out.append(json.dumps(p["CardNumber"], ensure_ascii=False))
    return out


def test_no_xcom_holds_a_patients_phone_or_name_and_families_stay_apart(world):
    env = world["env"]
    airflow(env, "dags", "test", DAG_ID, "-c", json.dumps(CONF))
    # A full check looks every record up again: now every lookup map is full of contacts.
    airflow(env, "dags", "test", DAG_ID, "-c", json.dumps({**CONF, "full_check": True}))
    texts = xcom_texts(env)
    lookups = [json.loads(t)["lookup"] for t in texts if t.startswith("{") and
               isinstance(json.loads(t), dict) and "lookup" in json.loads(t)]
    assert sum(len(m.get("contacts") or {}) for m in lookups) > 10, \
        "the full check's lookup maps must be in XCom and hold contacts for this to prove"
    hits = [(n, t[:200]) for p in patients(world["engine"]) for n in needles(p)
            for t in texts if n in t]
    assert hits == []

    cfg = world["cfg"]
    contacts = world["emu"].control.dump("contact")
    per_patient = Counter(c[cfg.patient_id_field] for c in contacts)
    assert per_patient and max(per_patient.values()) == 1
    by_phone = Counter(normalize_phone(ph["VALUE"], "RU") for c in contacts for ph in c["PHONE"])
    assert max(by_phone.values()) >= 2  # a family on one phone: separate contacts


EDIT_AT = datetime(2026, 11, 22, 10, 0)


def deals_by_key(world) -> dict[str, dict]:
    return {d[world["cfg"].ident_id_field]: d for d in world["emu"].control.dump("deal")}


def test_rename_new_phone_and_branch_move_keep_one_contact_and_one_deal(world):
    env, engine, emu = world["env"], world["engine"], world["emu"]
    airflow(env, "dags", "test", "ident_to_bitrix24_branch_2", "-c", json.dumps(CONF))
    deals = deals_by_key(world)
    with engine.connect() as conn:
        rid, pid = conn.execute(
            sa.select(s.Receptions.c.ID, s.Receptions.c.ID_Patients)
            .where(s.Receptions.c.ID.in_([int(k[3:]) for k in deals if k.startswith("F1_")]))
            .order_by(s.Receptions.c.ID)).first()
    deal = deals[f"F1_{rid}"]
    contacts_before, deals_before = len(emu.control.dump("contact")), len(deals)
    with engine.begin() as conn:
        conn.execute(sa.update(s.Persons).where(s.Persons.c.ID == pid)
                     .values(Surname="Исправленная", MobilePhone="+7 913 555-77-88"))
        conn.execute(sa.update(s.Receptions).where(s.Receptions.c.ID_Patients == pid)
                     .values(DateTimeChanged=EDIT_AT))
        conn.execute(sa.update(s.Receptions).where(s.Receptions.c.ID == rid)
                     .values(ID_Armchairs=201, DateTimeChanged=EDIT_AT))
        conn.execute(sa.update(s.Orders).where(s.Orders.c.ID_Receptions == rid)
                     .values(ID_OwnCompanies=2))
    for dag_id in (DAG_ID, "ident_to_bitrix24_branch_2"):
        airflow(env, "dags", "test", dag_id, "-c", json.dumps(CONF))
    assert len(emu.control.dump("contact")) == contacts_before
    assert len(emu.control.dump("deal")) == deals_before
    moved = next(d for d in emu.control.dump("deal") if d["ID"] == deal["ID"])
    assert moved[world["cfg"].ident_id_field] == f"F2_{rid}"
    contact = next(c for c in emu.control.dump("contact") if c["ID"] == moved["CONTACT_ID"])
    assert contact["LAST_NAME"] == "Исправленная"
    assert "+79135557788" in {normalize_phone(p["VALUE"], "RU") for p in contact["PHONE"]}


def test_deleted_reception_dag_never_moves_a_protected_deal(world):
    env, engine, emu = world["env"], world["engine"], world["emu"]
    idf = world["cfg"].ident_id_field
    open_deals = sorted((d for d in emu.control.dump("deal")
                         if d["STAGE_SEMANTIC_ID"] == "P" and d[idf].startswith("F1_")),
                        key=lambda d: int(d["ID"]))
    protected, plain = open_deals[:2]
    with Bitrix24Client(emu.webhook_url, plan="unlimited") as client:
        client.call("crm.deal.update", {"id": protected["ID"],
                                        "fields": {"STAGE_ID": "PREPAYMENT_INVOICE"}})
    gone = [int(d[idf][3:]) for d in (protected, plain)]
    with engine.begin() as conn:
        conn.execute(sa.delete(s.Orders).where(s.Orders.c.ID_Receptions.in_(gone)))
        conn.execute(sa.delete(s.Receptions).where(s.Receptions.c.ID.in_(gone)))
    airflow(env, "dags", "test", f"{DAG_ID}_deleted")
    stages = {d["ID"]: d["STAGE_ID"] for d in emu.control.dump("deal")}
    assert stages[protected["ID"]] == "PREPAYMENT_INVOICE"
    assert stages[plain["ID"]] == "LOSE"
