"""Decide what to write: records + what the portal holds -> a plan of writes (pure).

Rules (each one is a lesson from the system this replaces):

* A contact is the same person when phone AND full name match (case, spaces and ё/е
  insensitive). Families share phones, so a different name on the same phone is another
  contact. Several portal contacts matching one person: the oldest (lowest id) wins.
* A contact found through its deal (the patient's phone changed in IDENT) gets the new phone
  APPENDED; a stored phone is never replaced or deleted.
* Contacts and deals are updated only when a mapped field really differs (numbers and
  datetimes compared by value, not by spelling), so a re-sync writes nothing.
* A deal in a final stage (configured, or SEMANTICS S/F on the portal) is never reopened and
  a deal in a protected stage keeps its stage; its other fields are still kept current.
* A deal keeps the contact a manager linked; CONTACT_ID is only filled when empty.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from identsync.config import SyncConfig
from identsync.records import FoundContact, FoundDeal, LookupMap, SyncRecord

_SPACES = re.compile(r"\s+")


def name_key(last_name: str | None, name: str | None, second_name: str | None) -> str:
    """Comparable form of a full name: casefolded, ё->е, single spaces."""
    joined = " ".join(p for p in (last_name, name, second_name) if p and p.strip())
    return _SPACES.sub(" ", joined).strip().casefold().replace("ё", "е")


def record_name_key(r: SyncRecord) -> str:
    return name_key(r.last_name, r.name, r.second_name)


def contact_name_key(c: FoundContact) -> str:
    return name_key(c.last_name, c.name, c.second_name)


@dataclass(frozen=True)
class ContactWrite:
    ref: str  # batch command key
    kind: Literal["create", "update"]
    contact_id: int | None
    fields: dict[str, Any]
    ident_ids: tuple[str, ...] = ()  # the records this contact serves (to queue on failure)


@dataclass(frozen=True)
class DealWrite:
    ref: str
    kind: Literal["create", "update"]
    ident_id: str
    deal_id: int | None
    fields: dict[str, Any]
    contact_ref: str | None = None  # key of a contact created in the same batch


@dataclass
class ChunkPlan:
    contacts: list[ContactWrite] = field(default_factory=list)
    deals: list[DealWrite] = field(default_factory=list)
    deal_ids: dict[str, int] = field(default_factory=dict)  # ident_id -> existing deal id
    counts: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    @property
    def writes(self) -> int:
        return len(self.contacts) + len(self.deals)

    def commands(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Batch commands; a new contact and its deal travel together via $result[...]."""
        cmds: dict[str, tuple[str, dict[str, Any]]] = {}
        for c in self.contacts:
            if c.kind == "create":
                cmds[c.ref] = ("crm.contact.add", {"fields": c.fields,
                                                   "params": {"REGISTER_SONET_EVENT": "N"}})
            else:
                cmds[c.ref] = ("crm.contact.update", {"id": c.contact_id, "fields": c.fields,
                                                      "params": {"REGISTER_SONET_EVENT": "N"}})
        for d in self.deals:
            fields = dict(d.fields)
            if d.contact_ref is not None:
                fields["CONTACT_ID"] = f"$result[{d.contact_ref}]"
            if d.kind == "create":
                cmds[d.ref] = ("crm.deal.add", {"fields": fields,
                                                "params": {"REGISTER_SONET_EVENT": "N"}})
            else:
                cmds[d.ref] = ("crm.deal.update", {"id": d.deal_id, "fields": fields,
                                                   "params": {"REGISTER_SONET_EVENT": "N"}})
        return cmds


# -- value comparison ------------------------------------------------------------------------

def _as_decimal(v: Any) -> Decimal | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float, Decimal)):
        return Decimal(str(v))
    if isinstance(v, str) and re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", v):
        try:
            return Decimal(v.strip())
        except InvalidOperation:
            return None
    return None


def _as_datetime(v: Any) -> datetime | None:
    if isinstance(v, str) and len(v) >= 19 and v[4] == "-" and "T" in v:
        try:
            dt = datetime.fromisoformat(v)
        except ValueError:
            return None
        return dt if dt.tzinfo else None
    return None


def same_value(desired: Any, actual: Any) -> bool:
    """True when the portal's value already equals what we would write."""
    if desired in (None, "") and actual in (None, "", [], False):
        return True
    if actual is None:
        return False
    d_num, a_num = _as_decimal(desired), _as_decimal(actual)
    if d_num is not None and a_num is not None:
        return d_num == a_num
    d_dt, a_dt = _as_datetime(desired), _as_datetime(actual)
    if d_dt is not None and a_dt is not None:
        return d_dt == a_dt
    if isinstance(actual, list) and not isinstance(desired, list):
        return len(actual) == 1 and same_value(desired, actual[0])
    return str(desired).strip() == str(actual).strip()


def changed_fields(desired: dict[str, Any], actual: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in desired.items() if not same_value(v, actual.get(k))}


# -- planning --------------------------------------------------------------------------------

def _pick(contacts: list[FoundContact], key: str) -> FoundContact | None:
    same = [c for c in contacts if contact_name_key(c) == key]
    return min(same, key=lambda c: c.id) if same else None


def _contact_updates(r: SyncRecord, found: FoundContact, cfg: SyncConfig) -> dict[str, Any]:
    # Names already match by key; only the mapped UF fields are kept current, and an empty
    # source value never blanks what the clinic's staff typed on the portal.
    wanted = {code: r.contact_fields.get(code) for code in cfg.contact_fields.values()}
    wanted = {k: v for k, v in wanted.items() if v not in (None, "")}
    return changed_fields(wanted, found.fields)


def final_stage_set(cfg: SyncConfig, lookup: LookupMap) -> set[str]:
    out = set(lookup.final_stages)
    for s in cfg.final_stages:
        out.add(s)
        out.add(cfg.stage_code(s))
    return out


def plan_chunk(records: list[SyncRecord], lookup: LookupMap, cfg: SyncConfig) -> ChunkPlan:
    plan = ChunkPlan()
    finals = final_stage_set(cfg, lookup)
    protected = {cfg.stage_code(s) for s in cfg.protected_stages} | set(cfg.protected_stages)

    # person key -> ("id", contact_id) or ("ref", batch key)
    resolved: dict[tuple[str, str], tuple[str, Any]] = {}
    updated_contacts: dict[int, dict[str, Any]] = {}
    phone_appends: dict[int, list[str]] = {}

    def resolve_contact(r: SyncRecord) -> tuple[str, Any]:
        person = (r.phone, record_name_key(r))
        if person in resolved:
            return resolved[person]
        found = _pick(lookup.contacts.get(r.phone, []), person[1])
        if found is None:
            deal = lookup.deals.get(r.ident_id)
            linked = lookup.deal_contacts.get(deal.contact_id) if deal and deal.contact_id else None
            if linked is not None and contact_name_key(linked) == person[1]:
                found = linked
                phone_appends.setdefault(linked.id, [])
                if r.phone not in phone_appends[linked.id]:
                    phone_appends[linked.id].append(r.phone)
        if found is not None:
            upd = _contact_updates(r, found, cfg)
            if upd:
                updated_contacts.setdefault(found.id, {}).update(upd)
            resolved[person] = ("id", found.id)
        else:
            ref = f"c{len([v for v in resolved.values() if v[0] == 'ref'])}"
            fields = dict(r.contact_fields)
            fields["PHONE"] = [{"VALUE": r.phone, "VALUE_TYPE": cfg.phone_value_type}]
            plan.contacts.append(ContactWrite(ref=ref, kind="create", contact_id=None,
                                              fields=fields))
            plan.counts["contacts_created"] += 1
            resolved[person] = ("ref", ref)
        return resolved[person]

    for r in records:
        contact = resolve_contact(r)
        deal = lookup.deals.get(r.ident_id)
        if r.ident_id in lookup.duplicate_deals:
            plan.notes.append(
                f"{r.ident_id}: {len(lookup.duplicate_deals[r.ident_id]) + 1} deals carry this "
                f"IDENT id on the portal; updating the oldest ({deal.id if deal else '?'})"
            )
        if deal is None:
            fields = dict(r.deal_fields)
            fields["STAGE_ID"] = r.stage_id
            if cfg.category_id:
                fields["CATEGORY_ID"] = cfg.category_id
            ref = f"d{len(plan.deals)}"
            if contact[0] == "id":
                fields["CONTACT_ID"] = contact[1]
            plan.deals.append(DealWrite(ref=ref, kind="create", ident_id=r.ident_id, deal_id=None,
                                        fields=fields,
                                        contact_ref=contact[1] if contact[0] == "ref" else None))
            plan.counts["deals_created"] += 1
            continue

        plan.deal_ids[r.ident_id] = deal.id
        # CATEGORY_ID is set when a deal is created; an update never moves a deal to another
        # pipeline (the portal ignores it there), so it is not compared either.
        upd = changed_fields({k: v for k, v in r.deal_fields.items() if k != "CATEGORY_ID"},
                             deal.fields)
        if deal.stage_id in finals:
            if deal.stage_id != r.stage_id:
                plan.counts["deals_kept_closed"] += 1
        elif deal.stage_id in protected:
            if deal.stage_id != r.stage_id:
                plan.counts["deals_protected"] += 1
        elif deal.stage_id != r.stage_id:
            upd["STAGE_ID"] = r.stage_id
        contact_ref = None
        if not deal.contact_id:
            if contact[0] == "id":
                upd["CONTACT_ID"] = contact[1]
            else:
                contact_ref = contact[1]
        if upd or contact_ref:
            plan.deals.append(DealWrite(ref=f"u{len(plan.deals)}", kind="update",
                                        ident_id=r.ident_id, deal_id=deal.id, fields=upd,
                                        contact_ref=contact_ref))
            plan.counts["deals_updated"] += 1
        else:
            plan.counts["deals_unchanged"] += 1

    for cid in sorted(set(updated_contacts) | set(phone_appends)):
        fields = dict(updated_contacts.get(cid, {}))
        if phone_appends.get(cid):
            # Items without ID are appended by the portal: the stored phones stay untouched.
            fields["PHONE"] = [{"VALUE": p, "VALUE_TYPE": cfg.phone_value_type}
                               for p in phone_appends[cid]]
        plan.contacts.append(ContactWrite(ref=f"cu{cid}", kind="update", contact_id=cid,
                                          fields=fields))
        plan.counts["contacts_updated"] += 1
    served: dict[Any, list[str]] = {}
    for r in records:
        served.setdefault(resolved[(r.phone, record_name_key(r))][1], []).append(r.ident_id)
    plan.contacts = [replace(c, ident_ids=tuple(served.get(c.ref if c.kind == "create"
                                                           else c.contact_id, ())))
                     for c in plan.contacts]
    distinct_existing = {v[1] for v in resolved.values() if v[0] == "id"}
    plan.counts["contacts_unchanged"] += len(distinct_existing - set(updated_contacts)
                                             - set(phone_appends))
    return plan


__all__ = [
    "ChunkPlan", "ContactWrite", "DealWrite", "changed_fields", "final_stage_set",
    "name_key", "plan_chunk", "same_value", "FoundDeal",
]
