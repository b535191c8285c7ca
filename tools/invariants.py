#!/usr/bin/env python
"""Invariants of a finished sync: nothing lost, nothing duplicated, everything current.

Given the IDENT source database, the sync configuration, the portal's contents (the
emulator's ``/_emu/dump`` of deals, contacts and comments) and the rejections the sync
recorded, :func:`check` answers, each as a named :class:`Check`:

* ``one_deal_per_reception``  every synced reception has exactly one deal;
* ``one_contact_per_person``  exactly one contact per IDENT patient (its id in
                              ``patient_id_field``), holding the patient's phone and name;
* ``deal_fields_current``     each deal's mapped fields, stage and contact equal what the
                              transform of the *current* source row gives (a deal in a final
                              stage may keep its stage: the plan never reopens it);
* ``comments_exactly_once``   per deal no comment text twice in a row, and the latest
                              comment on the timeline is the reception's current text;
* ``every_record_accounted``  every source reception is synced or rejected with its reason;
* ``ledger_matches_portal``   (when ledger rows are given) each deal's ledger hash is its
                              latest timeline comment and no intent is left pending.

Importable from tests (``from tools.invariants import check``) and runnable::

    python -m tools.invariants --ident sqlite:///var/x.sqlite3 --emulator http://127.0.0.1:8024
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from identsync.config import SyncConfig
from identsync.ident.extract import extract_receptions
from identsync.records import LookupMap, Rejection, SyncRecord
from identsync.state.ledger import comment_hash
from identsync.sync.phones import PhoneError, normalize_phone
from identsync.sync.plan import final_stage_set, name_key, same_value
from identsync.sync.transform import transform_all

ROOT = Path(__file__).resolve().parents[1]

ALL_TIME = (datetime(1900, 1, 1), datetime(2200, 1, 1))
MAX_EXAMPLES = 5


@dataclass
class Check:
    name: str
    checked: int = 0
    violations: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return self.violations == 0

    def fail(self, example: str) -> None:
        self.violations += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(example)


@dataclass
class Report:
    checks: list[Check]
    synced: int
    rejected: int
    deals: int
    contacts: int
    comments: int

    @property
    def held(self) -> bool:
        return all(c.held for c in self.checks)

    def by_name(self) -> dict[str, Check]:
        return {c.name: c for c in self.checks}

    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.held]

    def to_dict(self) -> dict[str, Any]:
        return {"held": self.held, "synced": self.synced, "rejected": self.rejected,
                "deals": self.deals, "contacts": self.contacts, "comments": self.comments,
                "checks": {c.name: {"held": c.held, "checked": c.checked,
                                    "violations": c.violations, "examples": c.examples}
                           for c in self.checks}}

    def table(self) -> str:
        lines = [f"source: {self.synced} receptions to sync, {self.rejected} to reject; "
                 f"portal: {self.deals} deals, {self.contacts} contacts, "
                 f"{self.comments} comments",
                 f"{'invariant':28s} {'checked':>8s} {'violations':>10s}  held"]
        for c in self.checks:
            lines.append(f"{c.name:28s} {c.checked:8d} {c.violations:10d}  "
                         f"{'✓' if c.held else '✗'}")
            lines.extend(f"    e.g. {e}" for e in c.examples)
        return "\n".join(lines)


def _phone(value: Any, region: str) -> str | None:
    try:
        return normalize_phone(str(value), region)
    except PhoneError:
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "", "0", 0) else None
    except (TypeError, ValueError):
        return None


def source_outcomes(ident_engine: Any, cfg: SyncConfig
                    ) -> tuple[list[SyncRecord], list[Rejection]]:
    """What the sync should make of every reception in the source, as it is now.

    Receptions of unconfigured branches or of no branch must come out as rejections too:
    a silent skip would be a lost record.
    """
    rows = list(extract_receptions(ident_engine, *ALL_TIME))
    configured = {b.id for b in cfg.branches}
    ours = [r for r in rows if r.branch_id is None or r.branch_id in configured]
    return transform_all(ours, cfg)


def check(ident_engine: Any, cfg: SyncConfig, dump: Mapping[str, list[dict[str, Any]]],
          rejections: Iterable[Mapping[str, Any]], *,
          ledger_rows: Mapping[int, Any] | None = None,
          final_stages: Iterable[str] = ("WON", "LOSE")) -> Report:
    """Check every invariant; see the module docstring. ``rejections`` are dicts with
    ``reception_id``, ``ident_id``, ``reason``, ``detail`` (state store rows or
    ``Rejection.to_dict()``); ``ledger_rows`` maps deal id -> LedgerRow (or a dict with
    ``posted_hash``/``pending_hash``)."""
    records, expected_rejections = source_outcomes(ident_engine, cfg)
    deals = list(dump.get("deal", []))
    contacts = list(dump.get("contact", []))
    comments = list(dump.get("comment", []))
    idf = cfg.ident_id_field
    region = cfg.default_region

    deals_by_ident: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in sorted(deals, key=lambda d: int(d["ID"])):
        deals_by_ident[str(d.get(idf) or "")].append(d)
    contact_by_id = {int(c["ID"]): c for c in contacts}
    comments_by_deal: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for x in sorted(comments, key=lambda x: int(x["ID"])):
        if str(x.get("ENTITY_TYPE", "deal")).lower() == "deal":
            comments_by_deal[int(x["ENTITY_ID"])].append(x)

    # 1. exactly one deal per synced reception
    one_deal = Check("one_deal_per_reception")
    for r in records:
        one_deal.checked += 1
        n = len(deals_by_ident.get(r.ident_id, []))
        if n != 1:
            one_deal.fail(f"{r.ident_id}: {n} deals")
    wanted = {r.ident_id for r in records}
    for ident, ds in deals_by_ident.items():
        if ident not in wanted:
            one_deal.fail(f"deal(s) {[d['ID'] for d in ds]} carry {ident!r}, which no source "
                          "record should have produced")

    # 2. exactly one contact per IDENT patient, with the patient's phone and full name
    #    (two IDENT cards of namesakes on one phone are two patients: two contacts)
    one_contact = Check("one_contact_per_person")
    by_patient: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in contacts:
        by_patient[str(c.get(cfg.patient_id_field) or "")].append(c)
    patients = {str(r.patient_id): r for r in records}
    for pid, r in sorted(patients.items()):
        one_contact.checked += 1
        found = by_patient.get(pid, [])
        if len(found) != 1:
            one_contact.fail(f"patient {pid}: {len(found)} contacts")
            continue
        c = found[0]
        phones = {_phone(p.get("VALUE"), region) for p in c.get("PHONE") or []
                  if isinstance(p, dict)}
        if r.phone not in phones or name_key(c.get("LAST_NAME"), c.get("NAME"),
                                             c.get("SECOND_NAME")) != \
                name_key(r.last_name, r.name, r.second_name):
            one_contact.fail(f"patient {pid}: contact {c['ID']} lacks the phone or the name")
    for pid, found in by_patient.items():
        if pid and pid not in patients and len(found) > 1:
            one_contact.fail(f"patient {pid}: {len(found)} contacts (not a source patient)")

    # 3. deal fields equal the transform of the current source row
    current = Check("deal_fields_current")
    finals = final_stage_set(cfg, LookupMap(final_stages=list(final_stages)))
    for r in records:
        ds = deals_by_ident.get(r.ident_id)
        if not ds:
            continue  # counted by one_deal_per_reception
        d = ds[0]
        current.checked += 1
        bad = [k for k, v in r.deal_fields.items() if not same_value(v, d.get(k))]
        stage = str(d.get("STAGE_ID") or "")
        if stage != r.stage_id and stage not in finals:
            bad.append(f"STAGE_ID {stage}!={r.stage_id}")
        contact = contact_by_id.get(_int(d.get("CONTACT_ID")) or -1)
        if contact is None:
            bad.append("CONTACT_ID missing")
        else:
            key = name_key(contact.get("LAST_NAME"), contact.get("NAME"),
                           contact.get("SECOND_NAME"))
            phones = {_phone(p.get("VALUE"), region) for p in contact.get("PHONE") or []
                      if isinstance(p, dict)}
            if key != name_key(r.last_name, r.name, r.second_name) or r.phone not in phones:
                bad.append(f"CONTACT_ID {contact['ID']} is another person")
        if bad:
            current.fail(f"{r.ident_id} (deal {d['ID']}): {', '.join(map(str, bad[:4]))}")

    # 4. one comment per change, the latest one present
    once = Check("comments_exactly_once")
    for r in records:
        ds = deals_by_ident.get(r.ident_id)
        if not ds or not r.comment:
            continue
        once.checked += 1
        timeline = [str(x.get("COMMENT", "")) for x in comments_by_deal.get(int(ds[0]["ID"]), [])]
        twice = [i for i in range(1, len(timeline)) if timeline[i] == timeline[i - 1]]
        if twice:
            once.fail(f"{r.ident_id} (deal {ds[0]['ID']}): the same comment {len(twice) + 1} "
                      "times in a row")
        elif not timeline:
            once.fail(f"{r.ident_id} (deal {ds[0]['ID']}): no comment")
        elif timeline[-1] != r.comment:
            once.fail(f"{r.ident_id} (deal {ds[0]['ID']}): latest comment is not the current "
                      f"text ({'an older one' if r.comment in timeline else 'never posted'})")
    owned = {int(ds[0]["ID"]) for ds in deals_by_ident.values()}
    for deal_id, xs in comments_by_deal.items():
        if deal_id not in owned:
            once.fail(f"deal {deal_id}: {len(xs)} comments on a deal no record owns")

    # 5. every source record synced or rejected with its reason
    accounted = Check("every_record_accounted")
    recorded: dict[Any, Mapping[str, Any]] = {}
    for rj in rejections:
        if rj.get("reception_id") is not None:
            recorded[int(rj["reception_id"])] = rj
    for r in records:
        accounted.checked += 1
        if r.ident_id not in deals_by_ident:
            accounted.fail(f"{r.ident_id}: neither synced nor rejected")
    for rj in expected_rejections:
        accounted.checked += 1
        got = recorded.get(rj.reception_id)
        if got is None:
            accounted.fail(f"reception {rj.reception_id}: should be rejected ({rj.reason}) "
                           "but no rejection was recorded")
        elif got.get("reason") != rj.reason or not str(got.get("detail") or "").strip():
            accounted.fail(f"reception {rj.reception_id}: rejected as {got.get('reason')!r}, "
                           f"expected {rj.reason!r} with a detail")

    checks = [one_deal, one_contact, current, once, accounted]

    # 6. the ledger knows every comment that is on the portal
    if ledger_rows is not None:
        ledger = Check("ledger_matches_portal")
        for deal_id, xs in sorted(comments_by_deal.items()):
            ledger.checked += 1
            row = ledger_rows.get(deal_id)
            get = (row.get if isinstance(row, Mapping) else
                   (lambda k, _r=row: getattr(_r, k, None)))
            if row is None:
                ledger.fail(f"deal {deal_id}: {len(xs)} comments, no ledger row")
            elif get("pending_hash") is not None:
                ledger.fail(f"deal {deal_id}: an intent is still pending")
            elif get("posted_hash") != comment_hash(str(xs[-1].get("COMMENT", ""))):
                ledger.fail(f"deal {deal_id}: ledger hash is not the latest comment's")
        checks.append(ledger)

    return Report(checks=checks, synced=len(records), rejected=len(expected_rejections),
                  deals=len(deals), contacts=len(contacts), comments=len(comments))


# -- helpers for callers ---------------------------------------------------------------------

def state_rejections(dsn: str, pipelines: Iterable[str]) -> list[dict[str, Any]]:
    """Open rejections the DAG recorded in the state store, for every pipeline given."""
    from identsync.state.store import StateStore

    store = StateStore(dsn)
    return [r for p in pipelines for r in store.open_rejections(p)]


def ledger_rows(dsn: str, deal_ids: Iterable[int]) -> dict[int, Any]:
    from identsync.state.ledger import CommentLedger

    ids = sorted(set(deal_ids))
    return CommentLedger(dsn).rows(ids) if ids else {}


def main(argv: list[str] | None = None) -> int:
    import argparse

    import sqlalchemy as sa

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ident", required=True, help="SQLAlchemy URL of the IDENT database")
    ap.add_argument("--emulator", required=True, help="emulator base URL (no token)")
    ap.add_argument("--config", default=None, help="sync config JSON (default: the DAG's)")
    ap.add_argument("--state-dsn", default=None, help="state store DSN: rejections + ledger")
    args = ap.parse_args(argv)
    if args.config:
        cfg = SyncConfig.from_file(args.config)
    else:
        from identsync.settings import load_config
        cfg = load_config()
    from b24emu.control import EmulatorControl

    dump = EmulatorControl(args.emulator).dump_all()
    pipelines = [f"ident_to_bitrix24_branch_{b.id}" for b in cfg.branches]
    rejections = state_rejections(args.state_dsn, pipelines) if args.state_dsn else []
    ledger = (ledger_rows(args.state_dsn, [int(x["ENTITY_ID"]) for x in dump["comment"]])
              if args.state_dsn else None)
    report = check(sa.create_engine(args.ident), cfg, dump, rejections, ledger_rows=ledger)
    print(report.table())
    return 0 if report.held else 1


if __name__ == "__main__":
    sys.exit(main())
