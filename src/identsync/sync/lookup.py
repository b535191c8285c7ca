"""Find what the portal already holds for one chunk, in one HTTP request where possible.

One batch carries, for a chunk of <= 50 records:

* ``crm.duplicate.findbycomm`` per 20 distinct phones (the portal normalises every spelling
  of a number, which a PHONE list filter does not);
* ``crm.contact.list`` per findbycomm command, filtered by ``$result[dupN][CONTACT]`` so the
  names and phones of the matches come back in the same request;
* ``crm.deal.list`` filtered by ``@<ident id field>`` (50 ids a command);
* ``crm.status.list`` for the deal stages, so "final" follows the portal's own semantics.

Follow-up requests happen only in rare cases: more than 50 matches for one command, or a
found deal whose contact was not found by phone (the patient's phone changed).
"""

from __future__ import annotations

import logging
from typing import Any, Iterable

from identsync.config import SyncConfig
from identsync.errors import LookupFailed
from identsync.records import FoundContact, FoundDeal, LookupMap, SyncRecord
from identsync.sync.phones import PhoneError, normalize_phone

log = logging.getLogger(__name__)

FINDBYCOMM_MAX = 20  # values per findbycomm command; the portal silently ignores the rest
PAGE = 50
CONTACT_SELECT = ["ID", "NAME", "LAST_NAME", "SECOND_NAME", "PHONE"]
DEAL_SELECT = ["ID", "STAGE_ID", "CONTACT_ID", "CATEGORY_ID"]



def _chunks(items: list[Any], n: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def contact_select(cfg: SyncConfig) -> list[str]:
    return CONTACT_SELECT + sorted(set(cfg.contact_fields.values()))


def deal_select(records: list[SyncRecord], cfg: SyncConfig) -> list[str]:
    keys = {k for r in records for k in r.deal_fields}
    keys.add(cfg.ident_id_field)
    return DEAL_SELECT + sorted(keys - set(DEAL_SELECT))


def stage_entity(cfg: SyncConfig) -> str:
    return f"DEAL_STAGE_{cfg.category_id}" if cfg.category_id else "DEAL_STAGE"


def lookup_commands(records: list[SyncRecord], cfg: SyncConfig,
                    *, with_stages: bool = True) -> dict[str, tuple[str, dict[str, Any]]]:
    phones = sorted({r.phone for r in records})
    ids = sorted({r.ident_id for r in records})
    cmds: dict[str, tuple[str, dict[str, Any]]] = {}
    for i, group in enumerate(_chunks(phones, FINDBYCOMM_MAX)):
        cmds[f"dup{i}"] = ("crm.duplicate.findbycomm",
                           {"entity_type": "CONTACT", "type": "PHONE", "values": group})
        cmds[f"con{i}"] = ("crm.contact.list",
                           {"filter": {"@ID": f"$result[dup{i}][CONTACT]"},
                            "select": contact_select(cfg), "order": {"ID": "ASC"}})
    for j, group in enumerate(_chunks(ids, PAGE)):
        cmds[f"deal{j}"] = ("crm.deal.list",
                            {"filter": {f"@{cfg.ident_id_field}": group},
                             "select": deal_select(records, cfg), "order": {"ID": "ASC"}})
    if with_stages:
        cmds["stages"] = ("crm.status.list", {"filter": {"ENTITY_ID": stage_entity(cfg)}})
    return cmds


def _phones_of(row: dict[str, Any]) -> tuple[str, ...]:
    items = row.get("PHONE") or []
    return tuple(str(i.get("VALUE", "")) for i in items if isinstance(i, dict))


def _int(v: Any) -> int | None:
    try:
        return int(v) if v not in (None, "", "0", 0) else None
    except (TypeError, ValueError):
        return None


def to_found_contact(row: dict[str, Any], cfg: SyncConfig) -> FoundContact:
    return FoundContact(
        id=int(row["ID"]), name=row.get("NAME") or "", last_name=row.get("LAST_NAME") or "",
        second_name=row.get("SECOND_NAME") or "", phones=_phones_of(row),
        fields={code: row.get(code) for code in cfg.contact_fields.values()},
    )


def to_found_deal(row: dict[str, Any], cfg: SyncConfig, select: list[str]) -> FoundDeal:
    skip = {"ID", "STAGE_ID", "CONTACT_ID", "CATEGORY_ID"}
    return FoundDeal(
        id=int(row["ID"]), ident_id=str(row.get(cfg.ident_id_field) or ""),
        stage_id=str(row.get("STAGE_ID") or ""), contact_id=_int(row.get("CONTACT_ID")),
        fields={k: row.get(k) for k in select if k not in skip},
    )


def _normalised(value: str, region: str) -> str | None:
    try:
        return normalize_phone(value, region)
    except PhoneError:
        return None


def _as_rows(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    if isinstance(value, dict):  # a PHP map keyed "0".."n" that did not become a list
        return [v for v in value.values() if isinstance(v, dict)]
    return []


def run_lookup(client: Any, records: list[SyncRecord], cfg: SyncConfig) -> LookupMap:
    """Look the chunk up on the portal. Reads only; the client retries them."""
    if not records:
        return LookupMap()
    before = client.stats.http_requests
    cmds = lookup_commands(records, cfg)
    br = client.batch(cmds)
    if br.errors:
        detail = "; ".join(f"{k}: {e.code or '-'} {e.description}"
                           for k, e in sorted(br.errors.items()))
        raise LookupFailed(f"lookup of {len(records)} records failed: {detail}")

    lm = LookupMap()
    chunk_phones = {r.phone for r in records}
    found_ids: set[int] = set()
    contact_rows: dict[int, dict[str, Any]] = {}
    for key, (method, _) in cmds.items():
        if method != "crm.duplicate.findbycomm":
            continue
        dup = br.results.get(key)
        ids = {int(i) for i in (dup.get("CONTACT", []) if isinstance(dup, dict) else [])}
        found_ids |= ids
        con_key = "con" + key[3:]
        rows = _as_rows(br.results.get(con_key))
        # Rows beyond the filter (a garbage reference answers with unrelated rows) are dropped.
        for row in rows:
            if _int(row.get("ID")) in ids:
                contact_rows[int(row["ID"])] = row
        missing = ids - set(contact_rows)
        if missing:  # more matches than one page: fetch the rest by id
            for row in client.list_all("crm.contact.list", filter={"@ID": sorted(missing)},
                                       select=contact_select(cfg)):
                contact_rows[int(row["ID"])] = row

    for row in contact_rows.values():
        c = to_found_contact(row, cfg)
        for stored in c.phones:
            e164 = _normalised(stored, cfg.default_region)
            if e164 in chunk_phones:
                bucket = lm.contacts.setdefault(e164, [])
                if c not in bucket:
                    bucket.append(c)

    select = deal_select(records, cfg)
    wanted = {r.ident_id for r in records}
    deal_rows: list[dict[str, Any]] = []
    for key in (k for k in cmds if k.startswith("deal")):
        rows = _as_rows(br.results.get(key))
        deal_rows.extend(rows)
        if (br.totals.get(key) or 0) > len(rows):  # duplicates on the portal: page the rest
            ids = cmds[key][1]["filter"][f"@{cfg.ident_id_field}"]
            deal_rows = [d for d in deal_rows if str(d.get(cfg.ident_id_field)) not in ids]
            deal_rows.extend(client.list_all("crm.deal.list",
                                             filter={f"@{cfg.ident_id_field}": ids},
                                             select=select))
    for row in sorted(deal_rows, key=lambda d: int(d["ID"])):
        d = to_found_deal(row, cfg, select)
        if d.ident_id not in wanted:
            continue
        if d.ident_id in lm.deals:
            if d.id != lm.deals[d.ident_id].id:
                lm.duplicate_deals.setdefault(d.ident_id, []).append(d.id)
        else:
            lm.deals[d.ident_id] = d

    stages = _as_rows(br.results.get("stages"))
    lm.final_stages = sorted(str(s.get("STATUS_ID")) for s in stages
                             if str(s.get("SEMANTICS") or "") in ("S", "F"))

    orphan = sorted({d.contact_id for d in lm.deals.values()
                     if d.contact_id and d.contact_id not in found_ids})
    if orphan:
        for row in client.list_all("crm.contact.list", filter={"@ID": orphan},
                                   select=contact_select(cfg)):
            c = to_found_contact(row, cfg)
            lm.deal_contacts[c.id] = c

    lm.requests = client.stats.http_requests - before
    log.info("lookup: %d records, %d phones -> %d contacts, %d deals, %d requests",
             len(records), len(chunk_phones), len(contact_rows), len(lm.deals), lm.requests)
    return lm
