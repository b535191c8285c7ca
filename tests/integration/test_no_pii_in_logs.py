"""A real sync's logs carry no patient's phone, name or free text, in any formatting.

The engine against the real emulator and real PostgreSQL, over a generated clinic plus the
bad-input corpus (phones with letters, too short, too long, two numbers, full-width digits;
names in odd scripts; HTML and 10,000-character comments) and reception comments with
medical notes. The portal refuses one deal with an error text that quotes the patient's phone
and name (as a real portal's duplicate check does). Every log record of every logger, at DEBUG, and
every exception text, and the run summary, must be free of them.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from identsync.bitrix24.client import Bitrix24Client
from identsync.config import SyncConfig
from identsync.ident import schema as s
from identsync.ident.extract import extract_receptions
from identsync.sync.engine import sync_window
from identsync.sync.prepare import prepare
from tools.ident_demo.badinput import insert_bad_inputs
from tools.ident_demo.clinic import create_schema, generate_clinic

CFG = SyncConfig.from_dict({"branches": [{"id": 1, "name": "A"}], "write_settle_seconds": 0,
                            "retry_max_attempts": 1})
WIDE = (datetime(2026, 11, 1), datetime(2027, 1, 1))
MEDICAL = ["Аллергия на лидокаин, беременность 12 недель",
           "Пациентка просила не звонить мужу, ВИЧ+ (конфиденциально)"]


@pytest.fixture
def clinic():
    engine = sa.create_engine("sqlite://")
    create_schema(engine)
    generate_clinic(engine, seed=11, receptions=40, patients=20, start=date(2026, 11, 20),
                    days=1, branches=((1, "A"),), now=datetime(2026, 11, 21, 12, 0))
    insert_bad_inputs(engine, start=datetime(2026, 11, 21, 9, 0))
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(sa.select(s.Receptions.c.ID)
                                          .order_by(s.Receptions.c.ID).limit(len(MEDICAL)))]
        for rid, note in zip(ids, MEDICAL):
            conn.execute(s.Receptions.update().where(s.Receptions.c.ID == rid)
                         .values(Comment=note))
    return engine


def _digits(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch.isdigit())


def _phone_numbers(raw: str | None) -> set[str]:
    """The national numbers (last 10 digits) of every phone written in ``raw``."""
    out = set()
    for run in re.findall(r"[+\d][\d\s()\-\u00a0]{6,}\d", unicodedata.normalize("NFKC", raw or "")):
        d = _digits(run)
        if len(d) >= 10 and len(set(d[-10:])) > 2:  # "000 000 00 00" is in every timestamp
            out.add(d[-10:])
    return out


def _personal(rows):
    """What the test looks for: phones (national digits, as typed), names, free texts."""
    phones, typed, names, free = set(), set(), set(), set()
    for r in rows:
        phones |= _phone_numbers(r.mobile_phone)
        if r.mobile_phone and len(_digits(r.mobile_phone)) >= 7:
            typed.add(r.mobile_phone.strip())
        parts = [p.strip() for p in (r.surname, r.name, r.patronymic) if p and p.strip()]
        if len(parts) >= 2:
            names.add(" ".join(parts[:2]).lower())
        names.update(p.lower() for p in parts[:1] if len(p) >= 5)  # surnames, as words
        for text in (r.comment, r.cancel_reason_comment):
            if text and len(text.strip()) >= 12:
                free.add(" ".join(text.split())[:30])
    return phones, typed, names, free


def test_a_sync_logs_no_patient_data(clinic, emulator, state, caplog):
    since = WIDE[0] - timedelta(days=CFG.patient_receptions_days)
    rows = list(extract_receptions(clinic, *WIDE, branch_id=1, patient_since=since))
    chunks, rejections, _ = prepare(rows, CFG, branch_id=1)
    assert rejections, "the corpus must produce rejections that quote raw phones"
    victim = next(r for c in chunks for r in c)
    national = victim.phone[-10:]
    portal_says = (f"Контакт {victim.last_name} {victim.name} с телефоном +7 ({national[:3]}) "
                   f"{national[3:6]}-{national[6:8]}-{national[8:]} уже существует "
                   f"({victim.phone})")
    emulator.control.faults({"refuse": [{"method": "crm.deal.add", "field": CFG.ident_id_field,
                                         "value": victim.ident_id,
                                         "description": portal_says}]})
    phones, typed, names, free = _personal(rows)
    assert national in phones and len(phones) > 20 and names and free

    caplog.set_level(logging.DEBUG)
    texts = []
    try:
        summary = sync_window(clinic, Bitrix24Client(emulator.webhook_url, plan="unlimited"),
                              state, CFG, *WIDE, branch_id=1)
        # The run summary: what run_summary logs, returns and records for the health page.
        texts += json.dumps(summary.to_dict(), ensure_ascii=False, default=str).split('", "')
    except Exception as exc:  # a failure's text is a log line too
        texts.append(f"{exc!r} {exc}")
    texts += [r.getMessage() for r in caplog.records]
    texts += caplog.text.splitlines()  # as a handler formats them
    assert any(victim.ident_id in t and "refused" in t for t in texts), \
        "the portal's refusal was not logged at all"

    hits = []
    for text in texts:
        low, digits = text.lower(), _digits(text)
        hits += [f"phone {p}" for p in phones if p in digits]
        hits += [f"typed phone {p!r}" for p in typed if p in text]
        hits += [f"name {n!r}" for n in names if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", low)]
        hits += [f"free text {f!r}" for f in free if f in " ".join(text.split())]
    assert not sorted(set(hits)), f"{len(set(hits))} personal values in the logs"
