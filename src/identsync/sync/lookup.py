"""Find what the portal already holds for one chunk, in one HTTP request where possible.

One batch carries, for a chunk of <= 50 records:

* ``crm.duplicate.findbycomm`` per 20 distinct phones (the portal normalises every spelling
  of a number, which a PHONE list filter does not);
* ``crm.contact.list`` per findbycomm command, filtered by ``$result[dupN][CONTACT]`` so the
  names and phones of the matches come back in the same request;
* ``crm.contact.list`` filtered by ``@<patient id field>``: the contacts of the chunk's IDENT
  patients, whatever their phone or name is now;
* ``crm.deal.list`` filtered by ``@<ident id field>`` with every key a reception may carry
  (``F<branch>_<id>`` for each configured branch: a reception that moved to another branch
  keeps its deal);
* ``crm.status.list`` for the deal stages, so "final" follows the portal's own semantics.

Follow-up requests happen only in rare cases: more than 50 matches for one command, or a
found deal whose contact was found neither by phone nor by patient (the phone changed on a
contact made before patient ids).

The result goes to XCom: names, phones and mapped values are kept as keyed hashes only
(``identsync.sync.canon``).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Iterable

from identsync.bitrix24.batch import Ref
from identsync.config import SyncConfig
from identsync.errors import LookupFailed
from identsync.records import FoundContact, FoundDeal, LookupMap, SyncRecord
from identsync.sync.canon import name_hash, name_key, phone_hash, value_hash
from identsync.sync.phones import PhoneError, normalize_phone

log = logging.getLogger(__name__)

FINDBYCOMM_MAX = 20  # values per findbycomm command; the portal silently ignores the rest
PAGE = 50
CONTACT_SELECT = ["ID", "NAME", "LAST_NAME", "SECOND_NAME", "PHONE"]
DEAL_SELECT = ["ID", "STAGE_ID", "CONTACT_ID", "CATEGORY_ID", "STAGE_SEMANTIC_ID"]
_KEY = re.compile(r"^F(\d+)_(\d+)$")


def _chunks(items: list[Any], n: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def contact_select(cfg: SyncConfig) -> list[str]:
    return CONTACT_SELECT + sorted(set(cfg.contact_fields.values()) | {cfg.patient_id_field})


def deal_select(records: list[SyncRecord], cfg: SyncConfig) -> list[str]:
    keys = {k for r in records for k in r.deal_fields}
    keys.add(cfg.ident_id_field)
    return DEAL_SELECT + sorted(keys - set(DEAL_SELECT))


def stage_entity(cfg: SyncConfig) -> str:
    return f"DEAL_STAGE_{cfg.category_id}" if cfg.category_id else "DEAL_STAGE"


def key_forms(r: SyncRecord, cfg: SyncConfig) -> list[str]:
    """Every key a deal of this reception may carry: its own, and the one of each configured
    branch (the reception may have been booked on a chair of another branch before)."""
    return sorted({r.ident_id} | {f"F{b.id}_{r.reception_id}" for b in cfg.branches})


def lookup_commands(records: list[SyncRecord], cfg: SyncConfig,
                    *, with_stages: bool = True) -> dict[str, tuple[str, dict[str, Any]]]:
    phones = sorted({r.phone for r in records})
    patients = sorted({str(r.patient_id) for r in records if r.patient_id is not None})
    cmds: dict[str, tuple[str, dict[str, Any]]] = {}
    for i, group in enumerate(_chunks(phones, FINDBYCOMM_MAX)):
        cmds[f"dup{i}"] = ("crm.duplicate.findbycomm",
                           {"entity_type": "CONTACT", "type": "PHONE", "values": group})
        cmds[f"con{i}"] = ("crm.contact.list",
                           {"filter": {"@ID": Ref(f"dup{i}", "CONTACT")},
                            "select": contact_select(cfg), "order": {"ID": "ASC"}})
    for i, group in enumerate(_chunks(patients, PAGE)):
        cmds[f"pat{i}"] = ("crm.contact.list",
                           {"filter": {f"@{cfg.patient_id_field}": group},
                            "select": contact_select(cfg), "order": {"ID": "ASC"}})
    by_reception = sorted({r.reception_id: r for r in records}.values(),
                          key=lambda r: r.reception_id)
    for j, group in enumerate(_chunks(by_reception, PAGE)):
        keys = sorted({k for r in group for k in key_forms(r, cfg)})
        cmds[f"deal{j}"] = ("crm.deal.list",
                            {"filter": {f"@{cfg.ident_id_field}": keys},
                             "select": deal_select(records, cfg), "order": {"ID": "ASC"}})
    if with_stages:
        cmds["stages"] = ("crm.status.list", {"filter": {"ENTITY_ID": stage_entity(cfg)}})
    return cmds


def _int(v: Any) -> int | None:
    try:
        return int(v) if v not in (None, "", "0", 0) else None
    except (TypeError, ValueError):
        return None


def _normalised(value: str, region: str) -> str | None:
    try:
        return normalize_phone(value, region)
    except PhoneError:
        return None


def _phones_of(row: dict[str, Any]) -> list[str]:
    items = row.get("PHONE") or []
    return [str(i.get("VALUE", "")) for i in items if isinstance(i, dict)]


def phone_e164(stored: str, cfg: SyncConfig) -> str:
    """A stored phone as the plan compares it: E.164, or the trimmed text if it is none."""
    return _normalised(stored, cfg.default_region) or stored.strip()


def to_found_contact(row: dict[str, Any], cfg: SyncConfig, key: bytes) -> FoundContact:
    return FoundContact(
        id=int(row["ID"]),
        name_key=name_hash(key, name_key(row.get("LAST_NAME"), row.get("NAME"),
                                         row.get("SECOND_NAME"))),
        phones=tuple(dict.fromkeys(phone_hash(key, phone_e164(p, cfg))
                                   for p in _phones_of(row))),
        patient_id=_int(row.get(cfg.patient_id_field)),
        fields={code: value_hash(key, row.get(code)) for code in cfg.contact_fields.values()},
    )


def to_found_deal(row: dict[str, Any], cfg: SyncConfig, select: list[str],
                  key: bytes) -> FoundDeal:
    skip = set(DEAL_SELECT)
    return FoundDeal(
        id=int(row["ID"]), ident_id=str(row.get(cfg.ident_id_field) or ""),
        stage_id=str(row.get("STAGE_ID") or ""), contact_id=_int(row.get("CONTACT_ID")),
        fields={k: value_hash(key, row.get(k)) for k in select if k not in skip},
        category_id=_int(row.get("CATEGORY_ID")) or 0,
        semantic=str(row.get("STAGE_SEMANTIC_ID") or ""),
    )


def _as_rows(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    if isinstance(value, dict):  # a PHP map keyed "0".."n" that did not become a list
        return [v for v in value.values() if isinstance(v, dict)]
    return []


def index_lookup(records: list[SyncRecord], cfg: SyncConfig, key: bytes, *,
                 phone_rows: Iterable[dict[str, Any]] = (),
                 patient_rows: Iterable[dict[str, Any]] = (),
                 deal_rows: Iterable[dict[str, Any]] = (),
                 deal_contact_rows: Iterable[dict[str, Any]] = (),
                 final_stages: Iterable[str] = ()) -> LookupMap:
    """The lookup map of a chunk from the portal's rows (pure: tests build maps with it)."""
    lm = LookupMap(key=key)
    chunk_phones = {phone_hash(key, r.phone) for r in records}
    for row in phone_rows:
        c = to_found_contact(row, cfg, key)
        for h in c.phones:
            if h in chunk_phones:
                bucket = lm.contacts.setdefault(h, [])
                if c not in bucket:
                    bucket.append(c)
    wanted_patients = {r.patient_id for r in records if r.patient_id is not None}
    for row in sorted(patient_rows, key=lambda x: int(x["ID"])):
        c = to_found_contact(row, cfg, key)
        # Rows beyond the filter (a portal that lacks the field ignores the filter) are
        # dropped; of two contacts claiming one patient the oldest is the patient's.
        if c.patient_id in wanted_patients and str(c.patient_id) not in lm.patients:
            lm.patients[str(c.patient_id)] = c

    select = deal_select(records, cfg)
    by_reception: dict[int, list[SyncRecord]] = {}
    for r in records:
        by_reception.setdefault(r.reception_id, []).append(r)
    candidates: dict[str, list[FoundDeal]] = {}
    for row in sorted(deal_rows, key=lambda d: int(d["ID"])):
        d = to_found_deal(row, cfg, select, key)
        m = _KEY.match(d.ident_id)
        for r in by_reception.get(int(m.group(2)), []) if m else []:
            bucket = candidates.setdefault(r.ident_id, [])
            if all(x.id != d.id for x in bucket):
                bucket.append(d)
    for ident_id, found in candidates.items():
        # The deal carrying the record's own key wins (the sync has kept it current); else
        # the oldest one of another branch's key is adopted. Any other is a duplicate.
        own = [d for d in found if d.ident_id == ident_id]
        chosen = own[0] if own else found[0]
        lm.deals[ident_id] = chosen
        extra = [d.id for d in found if d.id != chosen.id]
        if extra:
            lm.duplicate_deals[ident_id] = extra
    for row in deal_contact_rows:
        c = to_found_contact(row, cfg, key)
        lm.deal_contacts[c.id] = c
    lm.final_stages = sorted(set(final_stages))
    return lm


def run_lookup(client: Any, records: list[SyncRecord], cfg: SyncConfig, *,
               key: bytes) -> LookupMap:
    """Look the chunk up on the portal. Reads only; the client retries them."""
    if not records:
        return LookupMap(key=key)
    before = client.stats.http_requests
    cmds = lookup_commands(records, cfg)
    br = client.batch(cmds)
    if br.errors:
        detail = "; ".join(f"{k}: {e.code or '-'} {e.description}"
                           for k, e in sorted(br.errors.items()))
        raise LookupFailed(f"lookup of {len(records)} records failed: {detail}")

    found_ids: set[int] = set()
    contact_rows: dict[int, dict[str, Any]] = {}
    for k, (method, _) in cmds.items():
        if method != "crm.duplicate.findbycomm":
            continue
        dup = br.results.get(k)
        ids = {int(i) for i in (dup.get("CONTACT", []) if isinstance(dup, dict) else [])}
        found_ids |= ids
        rows = _as_rows(br.results.get("con" + k[3:]))
        # Rows beyond the filter (a garbage reference answers with unrelated rows) are dropped.
        for row in rows:
            if _int(row.get("ID")) in ids:
                contact_rows[int(row["ID"])] = row
        missing = ids - set(contact_rows)
        if missing:  # more matches than one page: fetch the rest by id
            for row in client.list_all("crm.contact.list", filter={"@ID": sorted(missing)},
                                       select=contact_select(cfg)):
                contact_rows[int(row["ID"])] = row

    patient_rows: list[dict[str, Any]] = []
    for k in (k for k in cmds if k.startswith("pat")):
        rows = _as_rows(br.results.get(k))
        if (br.totals.get(k) or 0) > len(rows):  # several contacts per patient: page on
            rows = list(client.list_all("crm.contact.list", filter=cmds[k][1]["filter"],
                                        select=contact_select(cfg)))
        patient_rows.extend(rows)
    found_ids |= {int(r["ID"]) for r in patient_rows}

    select = deal_select(records, cfg)
    deal_rows: list[dict[str, Any]] = []
    for k in (k for k in cmds if k.startswith("deal")):
        rows = _as_rows(br.results.get(k))
        if (br.totals.get(k) or 0) > len(rows):  # duplicates on the portal: page the rest
            rows = list(client.list_all("crm.deal.list", filter=cmds[k][1]["filter"],
                                        select=select))
        deal_rows.extend(rows)

    stages = _as_rows(br.results.get("stages"))
    finals = [str(s.get("STATUS_ID")) for s in stages
              if str(s.get("SEMANTICS") or "") in ("S", "F")]
    lm = index_lookup(records, cfg, key, phone_rows=contact_rows.values(),
                      patient_rows=patient_rows, deal_rows=deal_rows, final_stages=finals)
    orphan = sorted({d.contact_id for d in lm.deals.values()
                     if d.contact_id and d.contact_id not in found_ids})
    if orphan:
        for row in client.list_all("crm.contact.list", filter={"@ID": orphan},
                                   select=contact_select(cfg)):
            c = to_found_contact(row, cfg, key)
            lm.deal_contacts[c.id] = c

    lm.requests = client.stats.http_requests - before
    log.info("lookup: %d records -> %d contacts by phone, %d by patient, %d deals, "
             "%d requests", len(records), len(contact_rows), len(lm.patients), len(lm.deals),
             lm.requests)
    return lm
