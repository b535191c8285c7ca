"""The standing leak test (issue #20): after a real scheduler run of a small demo clinic, no
patient's phone, name or reception comment, and no webhook token, is anywhere the sync puts
text, except in the state tables docs/privacy.md allows, within retention.

A generated clinic plus four fixture patients with known data: one syncs (with a hostile
comment: a medical note, a Jinja template, a batch reference), one is rejected (its phone has
too many digits), one the portal refuses with an error text that quotes its phone and name
(so it dies in the retry queue and the dead-records alert mails it), one is a child whose
guardian is named. The real stack (api-server, scheduler, dag-processor, LocalExecutor,
PostgreSQL metadata) runs one manual run over the clinic's day; alerts go through Airflow's
SMTP notifier into a local sink. Then tools/leakscan.py scans every task and process log, every
XCom and rendered-field row, the alert mails, the health page's HTML and JSON, and ``pg_dump
--data-only`` of the state schema and of the metadata database.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import unquote

import pytest
import requests
import sqlalchemy as sa

from identsync.config import SyncConfig
from identsync.ident import schema as s
from tests.e2e.conftest import TOKEN, start_portal
from tests.fixtures.ui import admin_login, api_token
from tools import leakscan, pgserver
from tools.airflow_stack import BRANCH_ID, AirflowStack, scenario_config, scenario_env
from tools.airflow_stack.settings import ROOT
from tools.ident_demo.clinic import create_schema, generate_clinic

pytestmark = [pytest.mark.airflow, pytest.mark.timeout(420)]

DAG_ID = SyncConfig.pipeline_id(BRANCH_ID)
DAY = date(2026, 11, 20)
ALERTS = {"notifier": "smtp", "to": ["ops@clinic.test"], "from_email": "identsync@clinic.test"}

#: The fixture patients. Names and surnames are not in tools/ident_demo's vocabulary, so a hit
#: is theirs and never a generated doctor's; the test checks that too.
PATIENTS = [
    {"key": "synced", "surname": "Зябликова", "name": "Аглая", "patronymic": "Феоктистовна",
     "phone": "8 (916) 555-73-19",
     "comment": "Аллергия на лидокаин; беременность 12 недель "
                "{{ conn.bitrix24_default.password }} $result[c0]"},
    {"key": "rejected", "surname": "Пржевальский", "name": "Евлампий", "patronymic":
     "Тихонович", "phone": "+7 916 402 77 15 38 90 11",
     "comment": "ВИЧ-инфекция, получает терапию, не разглашать"},
    {"key": "refused", "surname": "Кондратьева-Шульц", "name": "Ефросинья",
     "patronymic": "Ильинична", "phone": "+7 903 777-64-21",
     "comment": "Боится уколов, приходит только с мужем"},
    {"key": "child", "surname": "Ляпунова", "name": "Злата", "patronymic": "Остаповна",
     "phone": "8-985-310-42-96", "guardian": "Ляпунов Остап Герасимович",
     "comment": "Мама просит звонить только после восемнадцати"},
]


def full_name(p: dict[str, str]) -> str:
    return f"{p['surname']} {p['name']} {p['patronymic']}"


class Sink:
    """An SMTP server that keeps the raw mails it receives."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.raw.append(envelope.content)
        return "250 OK"


def add_fixture_patients(engine: sa.Engine, at: datetime) -> dict[str, int]:
    """The fixture patients, each with one reception changed at ``at``, cloned from a
    generated one (same doctor, chair, branch); returns reception ids by key."""
    ids: dict[str, int] = {}
    with engine.begin() as c:
        person = dict(c.execute(sa.select(s.Persons).limit(1)).mappings().one())
        patient = dict(c.execute(sa.select(s.Patients).limit(1)).mappings().one())
        reception = dict(c.execute(
            sa.select(s.Receptions).where(s.Receptions.c.ReceptionCanceled.is_(None))
            .limit(1)).mappings().one())
        pid = c.execute(sa.select(sa.func.max(s.Persons.c.ID))).scalar() + 1000
        rid = c.execute(sa.select(sa.func.max(s.Receptions.c.ID))).scalar() + 1000
        for k, p in enumerate(PATIENTS):
            c.execute(s.Persons.insert(), [{**person, "ID": pid + k, "Surname": p["surname"],
                                            "Name": p["name"], "Patronymic": p["patronymic"],
                                            "MobilePhone": p["phone"]}])
            c.execute(s.Patients.insert(), [{**patient, "ID_Persons": pid + k,
                                             "CardNumber": f"LK{k:04d}",
                                             "ParentSNP": p.get("guardian"),
                                             "DateTimeChanged": at}])
            start = datetime.combine(DAY, datetime.min.time()) + timedelta(hours=10 + k)
            c.execute(s.Receptions.insert(), [{
                **reception, "ID": rid + k, "ID_Patients": pid + k, "PlanStart": start,
                "PlanEnd": start + timedelta(minutes=45), "Comment": p["comment"],
                "PatientAppeared": None, "ReceptionStarted": None, "ReceptionEnded": None,
                "CheckIssued": None, "ExternalUID": None, "DateTimeAdded": at,
                "DateTimeChanged": at}])
            ids[p["key"]] = rid + k
    return ids


def not_patients(engine: sa.Engine) -> list[str]:
    """Every person who is staff (the doctors) and every branch: never patients' data."""
    with engine.connect() as c:
        staff = c.execute(sa.select(s.Persons.c.Surname, s.Persons.c.Name,
                                    s.Persons.c.Patronymic)
                          .where(s.Persons.c.ID.in_(sa.select(s.Staffs.c.ID_Persons)))).all()
        branches = c.execute(sa.select(s.OwnCompanies.c.Name)).scalars().all()
    return [" ".join(x for x in row if x) for row in staff] + list(branches)


def generated_patients(engine: sa.Engine) -> tuple[list[str], list[str]]:
    """Phones and full names (guardians too) of every patient of the generated clinic: their
    surnames come from the doctors' vocabulary, so they are looked for only as full names."""
    p = s.Persons.c
    with engine.connect() as c:
        rows = c.execute(sa.select(p.Surname, p.Name, p.Patronymic, p.MobilePhone,
                                   s.Patients.c.ParentSNP)
                         .join(s.Patients, s.Patients.c.ID_Persons == p.ID)).all()
    phones = [r.MobilePhone for r in rows if r.MobilePhone]
    names = [" ".join(x for x in (r.Surname, r.Name, r.Patronymic) if x) for r in rows
             if r.Surname and r.Name] + [r.ParentSNP for r in rows if r.ParentSNP]
    return phones, names


def needles(engine: sa.Engine) -> leakscan.Needles:
    """The fixture patients first (their numbers in the report are PATIENTS' order: phones
    0-3, names 0-3 and 4 the guardian, surnames 0-3 and 4 the guardian's), then every
    generated patient's phone and full name."""
    phones, names = generated_patients(engine)
    return leakscan.Needles.of(
        phones=[p["phone"] for p in PATIENTS] + phones,
        names=[full_name(p) for p in PATIENTS] + [p["guardian"] for p in PATIENTS
                                                  if p.get("guardian")] + names,
        comments=[p["comment"] for p in PATIENTS],
        tokens=[TOKEN],
        surnames=[p["surname"] for p in PATIENTS] + ["Ляпунов"],
        not_patients=not_patients(engine))


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory,
            state_dsn: str) -> Iterator[SimpleNamespace]:
    from aiosmtpd.controller import Controller

    t0 = time.monotonic()
    tmp = tmp_path_factory.mktemp("leaks")
    engine = sa.create_engine(f"sqlite:///{tmp / 'ident.sqlite3'}")
    create_schema(engine)
    generate_clinic(engine, seed=5, receptions=30, patients=15, start=DAY, days=1,
                    branches=((BRANCH_ID, "Центральная"),), now=datetime(2026, 11, 20, 21))
    ids = add_fixture_patients(engine, datetime(2026, 11, 20, 8, 0))
    cfg_path = scenario_config(tmp / "identsync.json", first_day=DAY, plan="standard",
                               alerts=ALERTS, retry_max_attempts=1)
    cfg = SyncConfig.from_file(cfg_path)
    emu = start_portal(latency_ms=0)
    refused = ids["refused"]
    p = PATIENTS[2]
    digits = "".join(ch for ch in p["phone"] if ch.isdigit())
    # A portal rule that quotes what it refused, as real portals' error texts do.
    emu.control.faults({"refuse": [{
        "method": "crm.deal.add", "field": cfg.ident_id_field, "value": f"F{BRANCH_ID}_{refused}",
        "description": f"Сделка для {p['surname']} {p['name']} (тел. 8{digits[-10:]}) "
                       "отклонена правилом портала"}]})
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        smtp_port = sock.getsockname()[1]
    sink = Sink()
    smtp = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    home = tmp / "airflow"
    env = scenario_env(home, emulator_url=emu.base_url, token=TOKEN,
                       ident_db=tmp / "ident.sqlite3", state_dsn=state_dsn, plan="standard",
                       config=cfg_path)
    extra = {**admin_login(home), "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": smtp_port,
        "extra": {"disable_tls": True, "disable_ssl": True}})}
    try:
        with AirflowStack(home, env, executor="LocalExecutor", plan="standard",
                          extra=extra) as stack:
            stack.wait_dag(DAG_ID)
            up = time.monotonic() - t0
            # Unpausing also makes the latest scheduled run (a window with no changes).
            stack.unpause(DAG_ID)
            run_id = stack.trigger(DAG_ID, {"date_from": DAY.isoformat(),
                                            "date_to": (DAY + timedelta(days=1)).isoformat()})
            stack.wait_finished(DAG_ID, run_ids=[run_id], timeout=240)
            runs = stack.runs(DAG_ID)
            stack.wait_finished(DAG_ID, run_ids=[r["run_id"] for r in runs], timeout=120)
            emu.control.settled()
            smtp_deadline = time.monotonic() + 10  # the notifier may still be sending
            while not sink.raw and time.monotonic() < smtp_deadline:
                time.sleep(0.5)
            base = f"http://127.0.0.1:{stack.api_port}"
            auth = {"Authorization": f"Bearer {api_token(base)}"}
            pages = {}
            for path in ("/identsync/health", "/identsync/health.json"):
                r = requests.get(base + path, headers=auth, timeout=60)
                assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:300]}"
                pages[f"health page {path}"] = r.text
            ran = time.monotonic() - t0
            schema = unquote(state_dsn).rsplit("search_path=", 1)[1]
            report = leakscan.run(
                needles(engine),
                logs=[home / "logs", stack.stack_dir],
                dbs=[pgserver.sqlalchemy_url(stack.db_name)],
                db_tables=["xcom", "rendered_task_instance_fields"],
                pages=pages,
                mail_texts={f"alert mail {i + 1}": leakscan.mail_text(raw)
                            for i, raw in enumerate(sink.raw)},
                pg_sources=[(pgserver.database_url("test"), schema),
                            (stack.meta_dsn, None)],
                inventory=leakscan.parse_inventory(
                    (ROOT / "docs" / "privacy.md").read_text(encoding="utf-8")),
                retention_days=cfg.retention_days)
            print(f"stack up {up:.0f} s, run and pages {ran:.0f} s, "
                  f"scan {time.monotonic() - t0 - ran:.0f} s")
            print("\n".join(report.lines(limit=40)))
            yield SimpleNamespace(stack=stack, report=report, runs=stack.runs(DAG_ID),
                                  run_id=run_id, mails=sink.raw, pages=pages, emu=emu,
                                  engine=engine, ids=ids)
    finally:
        smtp.stop()
        emu.stop()
        engine.dispose()


def test_the_run_did_what_the_scan_needs(scanned: SimpleNamespace) -> None:
    """The scenario happened: the run synced, rejected and had a record refused, and the
    dead-records alert was mailed. Otherwise a clean scan would prove nothing."""
    run = next(r for r in scanned.runs if r["run_id"] == scanned.run_id)
    assert run["state"] == "success", scanned.stack.describe(DAG_ID)
    assert scanned.mails, "no alert mail reached the SMTP sink (retry_max_attempts=1)"
    deals = scanned.emu.control.dump("deal")
    assert any(str(scanned.ids["synced"]) in json.dumps(d) for d in deals)


def test_the_scan_covered_every_source(scanned: SimpleNamespace) -> None:
    got = scanned.report.scanned
    assert scanned.report.errors == [], scanned.report.errors
    assert got["log files"] >= 10 and got["xcom rows"] >= 5, got
    assert got["rendered-field rows"] >= 5 and got["pages"] == 2 and got["mails"] >= 1, got
    assert got["pg_dump rows"] >= 50 and got["bytes"] > 100_000, got
    assert got.get("surnames not looked for (short or staff's)", 0) == 0, \
        "a fixture surname is a doctor's: pick another"


def test_the_scan_finds_the_data_where_it_may_be(scanned: SimpleNamespace) -> None:
    """The needles work in this run: the rejected patient's row is in identsync_rejections,
    which docs/privacy.md allows within retention."""
    allowed = {(h.table, h.column, h.kind) for h in scanned.report.allowed}
    assert ("identsync_rejections", "source", "phone") in allowed, scanned.report.lines()
    assert ("identsync_rejections", "source", "comment") in allowed, scanned.report.lines()


def test_no_patient_data_or_token_outside_the_allowed_tables(
        scanned: SimpleNamespace, capsys: pytest.CaptureFixture[str]) -> None:
    report = scanned.report
    with capsys.disabled():  # the scan summary shows in every run, passing or not
        print("\n" + "\n".join(report.lines(limit=0)))
    assert report.hits == [], "\n".join(report.lines(limit=80)) + "\nby place: " + json.dumps(
        report.summary(), ensure_ascii=False, indent=1)
