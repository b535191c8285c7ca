"""Decide what to write: records + what the portal holds -> a plan of writes (pure).

Rules (each one is a lesson from the system this replaces, or from a clinic's real life):

* A contact is the IDENT patient: the patient's id is stored on it (``patient_id_field``).
  Found by that id, it is that patient's whatever its name or phone says now: a corrected
  name is written over, a new phone is APPENDED (a stored phone is never replaced).
* A contact without a patient id (made by hand, or by the old script) is adopted when phone
  AND full name match (case, spaces and ё/е insensitive; the oldest of several wins) and gets
  the patient id. Families share phones, so a different name on the same phone is another
  contact; a contact that already names another patient is never taken.
* A deal is the reception, whatever its branch: the lookup finds it under any branch's key
  (``F<branch>_<id>``); the key and the branch field follow the reception. A deal in another
  pipeline than the branch's (moved branch, changed ``category_id``) stays in its pipeline,
  because the portal's API does not move deals between pipelines: its stage follows the
  status in its own pipeline, and the summary notes it.
* Contacts and deals are updated only when a mapped field really differs (numbers and
  datetimes compared by value, not by spelling), so a re-sync writes nothing.
* A deal final in its own pipeline (the portal's semantics, or a configured final stage) is
  never reopened, and a deal in a protected stage keeps its stage; its other fields are
  still kept current.
* A deal keeps the contact a manager linked; CONTACT_ID is only filled when empty.

The lookup map holds keyed hashes, not values (it travels through XCom): every comparison
hashes the record's side under the map's key (``identsync.sync.canon``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from identsync.config import SyncConfig
from identsync.records import FoundContact, FoundDeal, LookupMap, SyncRecord
from identsync.sync.canon import (
    as_instant,
    as_number,
    canon,
    name_hash,
    name_key,
    phone_hash,
    value_hash,
)

NAME_FIELDS = ("NAME", "LAST_NAME", "SECOND_NAME")
_CATEGORY_PREFIX = re.compile(r"^C\d+:")


def record_name_key(r: SyncRecord) -> str:
    return name_key(r.last_name, r.name, r.second_name)


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
    # Existing deals this plan leaves as they are: the portal already shows the record.
    unchanged_deals: set[str] = field(default_factory=set)
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

def same_value(desired: Any, actual: Any) -> bool:
    """True when the portal's value already equals what we would write."""
    if desired in (None, "") and actual in (None, "", [], False):
        return True
    if actual is None:
        return False
    d_num, a_num = as_number(desired), as_number(actual)
    if d_num is not None and a_num is not None:
        return d_num == a_num
    d_dt, a_dt = as_instant(desired), as_instant(actual)
    if d_dt is not None and a_dt is not None:
        return d_dt == a_dt
    if isinstance(actual, list) and not isinstance(desired, list):
        return len(actual) == 1 and same_value(desired, actual[0])
    return str(desired).strip() == str(actual).strip()


def changed_fields(desired: dict[str, Any], actual: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in desired.items() if not same_value(v, actual.get(k))}


# -- planning --------------------------------------------------------------------------------

def changed_hashed(desired: dict[str, Any], found: dict[str, Any],
                   key: bytes) -> dict[str, Any]:
    """The wanted values whose keyed hash differs from the portal's (``same_value`` rules)."""
    out = {}
    for k, v in desired.items():
        have = found.get(k)
        if have is None:
            if canon(v) != "":
                out[k] = v
        elif value_hash(key, v) != have:
            out[k] = v
    return out


def _contact_updates(r: SyncRecord, found: FoundContact, cfg: SyncConfig,
                     key: bytes) -> dict[str, Any]:
    # Only the mapped UF fields are kept current, and an empty source value never blanks
    # what the clinic's staff typed on the portal.
    wanted = {code: r.contact_fields.get(code) for code in cfg.contact_fields.values()}
    wanted = {k: v for k, v in wanted.items() if v not in (None, "")}
    return changed_hashed(wanted, found.fields, key)


def final_stage_set(cfg: SyncConfig, lookup: LookupMap) -> set[str]:
    out = set(lookup.final_stages)
    for s in cfg.final_stages:
        out.add(s)
        out.add(cfg.stage_code(s))
    return out


def base_stage(stage: str) -> str:
    """A stage id without its pipeline prefix: ``C1:WON`` -> ``WON``."""
    return _CATEGORY_PREFIX.sub("", stage)


def stage_in(category_id: int, stage: str) -> str:
    """The same stage as the pipeline ``category_id`` spells it."""
    base = base_stage(stage)
    return f"C{category_id}:{base}" if category_id else base


@dataclass(frozen=True)
class _StageRules:
    finals: set[str]
    protected: set[str]


def _rules_for(deal: FoundDeal, cfg: SyncConfig, lookup: LookupMap) -> _StageRules:
    """Final and protected stages in the deal's OWN pipeline (which may not be the branch's
    one: a changed category_id, a reception moved to a branch with another pipeline)."""
    cat = deal.category_id
    finals = {stage_in(cat, s) for s in cfg.final_stages}
    if cat == cfg.category_id:
        finals |= final_stage_set(cfg, lookup)
    protected = {stage_in(cat, s) for s in cfg.protected_stages}
    return _StageRules(finals, protected)


def _is_final(deal: FoundDeal, rules: _StageRules) -> bool:
    return deal.semantic in ("S", "F") or deal.stage_id in rules.finals


def plan_chunk(records: list[SyncRecord], lookup: LookupMap, cfg: SyncConfig) -> ChunkPlan:
    plan = ChunkPlan()
    key = lookup.key

    by_id: dict[int, FoundContact] = {}
    for found in lookup.contacts.values():
        by_id.update((c.id, c) for c in found)
    by_id.update((c.id, c) for c in lookup.patients.values())
    by_id.update(lookup.deal_contacts)

    # person -> ("id", contact_id) or ("ref", batch key); a person is a patient id (a record
    # staged before patient ids: phone + name).
    resolved: dict[Any, tuple[str, Any]] = {}
    taken: dict[int, Any] = {}  # contact id -> the person it was given to in this plan
    updated_contacts: dict[int, dict[str, Any]] = {}
    phone_appends: dict[int, list[str]] = {}

    def person_of(r: SyncRecord) -> Any:
        if r.patient_id is not None:
            return ("p", r.patient_id)
        return ("n", r.phone, record_name_key(r))

    def free(c: FoundContact, r: SyncRecord, person: Any) -> bool:
        if taken.get(c.id, person) != person:
            return False
        return r.patient_id is None or c.patient_id in (None, r.patient_id)

    def resolve_contact(r: SyncRecord) -> tuple[str, Any]:
        person = person_of(r)
        if person in resolved:
            return resolved[person]
        wanted_name = name_hash(key, record_name_key(r))
        found = lookup.patients.get(str(r.patient_id)) if r.patient_id is not None else None
        if found is None:
            same = [c for c in lookup.contacts.get(phone_hash(key, r.phone), [])
                    if c.name_key == wanted_name and free(c, r, person)]
            found = min(same, key=lambda c: c.id) if same else None
        if found is None:
            deal = lookup.deals.get(r.ident_id)
            linked = by_id.get(deal.contact_id) if deal and deal.contact_id else None
            if linked is not None and linked.name_key == wanted_name and free(linked, r, person):
                found = linked
        if found is not None:
            taken[found.id] = person
            upd = _contact_updates(r, found, cfg, key)
            if found.name_key != wanted_name:  # found by patient id: the name was corrected
                upd.update({f: r.contact_fields.get(f) or "" for f in NAME_FIELDS})
            if r.patient_id is not None and found.patient_id != r.patient_id:
                upd[cfg.patient_id_field] = str(r.patient_id)  # adopted
            if upd:
                updated_contacts.setdefault(found.id, {}).update(upd)
            if phone_hash(key, r.phone) not in found.phones:
                appends = phone_appends.setdefault(found.id, [])
                if r.phone not in appends:
                    appends.append(r.phone)
            resolved[person] = ("id", found.id)
        else:
            ref = f"c{len([v for v in resolved.values() if v[0] == 'ref'])}"
            fields = dict(r.contact_fields)
            fields["PHONE"] = [{"VALUE": r.phone, "VALUE_TYPE": cfg.phone_value_type}]
            if r.patient_id is not None:
                fields[cfg.patient_id_field] = str(r.patient_id)
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
                f"reception's IDENT id on the portal; updating {deal.id if deal else '?'}"
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
        if deal.ident_id != r.ident_id:
            plan.counts["deals_adopted_other_key"] += 1
        # CATEGORY_ID is set when a deal is created; the portal ignores it on update (the
        # API does not move deals between pipelines), so it is neither compared nor sent.
        upd = changed_hashed({k: v for k, v in r.deal_fields.items() if k != "CATEGORY_ID"},
                             deal.fields, key)
        wanted_stage = r.stage_id
        if deal.category_id != cfg.category_id:
            wanted_stage = stage_in(deal.category_id, r.stage_id)
            plan.counts["deals_kept_in_pipeline"] += 1
            plan.notes.append(
                f"{r.ident_id}: deal {deal.id} is in pipeline {deal.category_id}, the branch's "
                f"is {cfg.category_id}; the portal's API cannot move it, so it is kept in its "
                "pipeline and updated there (move it by hand to change that)")
        rules = _rules_for(deal, cfg, lookup)
        if _is_final(deal, rules):
            if deal.stage_id != wanted_stage:
                plan.counts["deals_kept_closed"] += 1
        elif deal.stage_id in rules.protected:
            if deal.stage_id != wanted_stage:
                plan.counts["deals_protected"] += 1
        elif deal.stage_id != wanted_stage:
            upd["STAGE_ID"] = wanted_stage
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
            plan.unchanged_deals.add(r.ident_id)

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
        served.setdefault(resolved[person_of(r)][1], []).append(r.ident_id)
    plan.contacts = [replace(c, ident_ids=tuple(served.get(c.ref if c.kind == "create"
                                                           else c.contact_id, ())))
                     for c in plan.contacts]
    distinct_existing = {v[1] for v in resolved.values() if v[0] == "id"}
    plan.counts["contacts_unchanged"] += len(distinct_existing - set(updated_contacts)
                                             - set(phone_appends))
    return plan


__all__ = [
    "ChunkPlan", "ContactWrite", "DealWrite", "base_stage", "changed_fields",
    "changed_hashed", "final_stage_set", "name_key", "plan_chunk", "same_value", "stage_in",
    "FoundDeal",
]
