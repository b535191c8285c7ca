"""The reference model: what the portal must hold after each simulated day.

Written from the product's promises (README, issue #18), not from the sync's code: it imports
nothing of ``identsync.sync`` (no transform, no plan), derives IDENT statuses with its own
rule (ident-source: first set timestamp wins) and normalises phones by digits. It follows the
world (``tools.sim.world``) through every sync point and manager action and keeps, per
reception, the stage the rules give:

* one deal per reception that exists and was in a synced window, whatever branch it moved to,
  in the pipeline (``category_id``) in force when its deal was made: the portal's API cannot
  move a deal to another pipeline, so a changed ``category_id`` applies to new deals only;
* a deal's stage is the configured stage of its current status, in the deal's own pipeline,
  except that a final stage is never left and a stage a manager chose from
  ``protected_stages`` is never overwritten; a deleted reception's deal goes to
  ``deleted_stage`` once the deleted-reception check ran, under the same two exceptions;
* one contact per patient (families sharing a phone are separate contacts), named as the
  patient is now, holding every phone the patient had at a sync;
* per deal, at least one comment and never the same text twice in a row;
* a deal or contact a manager deleted comes back with the next sync of a change made after
  the delete (README: "its next change"); until then it may be missing, and a deleted
  contact's deals may stay without a contact.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tools.sim.world import Visit, World, digits_of

FINAL_BY_PORTAL = ("WON", "LOSE", "APOLOGY")  # the emulator's S/F stages, in any pipeline
_TRAILING_ID = re.compile(r"(\d+)\D*$")
_PIPELINE = re.compile(r"^C\d+:")


def base(stage: str) -> str:
    """A stage without its pipeline's prefix (``C1:WON`` -> ``WON``): the model keeps base
    names and the pipeline apart."""
    return _PIPELINE.sub("", stage or "")


def status(v: Visit) -> str:
    e = v.events
    for col, st in (("ReceptionCanceled", "cancelled"), ("CheckIssued", "bill_issued"),
                    ("ReceptionEnded", "finished"), ("ReceptionStarted", "in_progress"),
                    ("PatientAppeared", "arrived")):
        if col in e:
            return st
    return "planned"


def last_change(v: Visit) -> datetime:
    return max([v.added, v.changed, *v.events.values()])


@dataclass
class Rules:
    """The configuration knobs the model needs (plain data, changed by operators)."""

    stage_map: dict[str, str]
    final_stages: tuple[str, ...]
    protected_stages: tuple[str, ...]
    deleted_stage: str | None
    ident_field: str
    patient_days: int = 30
    category_id: int = 0

    def final(self, stage: str) -> bool:
        return stage in self.final_stages or stage in FINAL_BY_PORTAL


@dataclass
class Violation:
    check: str
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.detail}"


@dataclass
class Model:
    rules: Rules
    stage: dict[int, set[str]] = field(default_factory=dict)  # acceptable base stages per rid
    category: dict[int, int] = field(default_factory=dict)  # the pipeline of its deal
    manager_set: dict[int, str] = field(default_factory=dict)
    must_exist: set[int] = field(default_factory=set)
    deal_deleted: dict[int, datetime] = field(default_factory=dict)  # by a manager, when
    contact_deleted: dict[int, datetime] = field(default_factory=dict)  # patient -> when
    unlinked_ok: set[int] = field(default_factory=set)  # deals of a deleted contact
    phones: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    names: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    synced_until: datetime | None = None

    # -- what happened -----------------------------------------------------------------------
    def _keep(self, rid: int) -> bool:
        """Final or manager-protected: the sync must leave the stage alone."""
        cur = self.stage.get(rid)
        if cur is None or len(cur) != 1:
            return False
        (stage,) = cur
        # README: a deal in a protected stage keeps it, whoever put it there.
        return self.rules.final(stage) or stage in self.rules.protected_stages

    def synced(self, world: World, since: datetime, until: datetime) -> None:
        """A green sync read IDENT for changes in ``[since, until)`` (clinic time)."""
        touched_patients = {p.pid for p in world.patients.values()
                            if any(since <= t < until for t in _patient_changes(world, p))}
        for v in world.visits.values():
            if v.deleted:
                continue
            stamps = [t for t in (v.added, v.changed, *v.events.values()) if since <= t < until]
            patient_edit = v.pid in touched_patients and \
                v.start >= since - timedelta(days=self.rules.patient_days)
            if patient_edit:
                stamps += [t for t in _patient_changes(world, world.patients[v.pid])
                           if since <= t < until]
            if not stamps:
                continue
            gone = self.deal_deleted.get(v.rid)
            if gone is not None:
                if max(stamps) <= gone:
                    continue  # nothing new since the manager's delete: may stay deleted
                del self.deal_deleted[v.rid]
            if v.rid in self.unlinked_ok and max(stamps) > self.contact_deleted[v.pid]:
                self.unlinked_ok.discard(v.rid)
            self.must_exist.add(v.rid)
            self.category.setdefault(v.rid, self.rules.category_id)
            if not self._keep(v.rid):
                self.stage[v.rid] = {self.rules.stage_map[status(v)]}
            p = world.patients[v.pid]
            self.phones[p.pid].add(digits_of(p.phone))
            self.names[p.pid] = {p.full_name}
        self.synced_until = max(self.synced_until or until, until)

    def deleted_check_ran(self, world: World) -> None:
        if self.rules.deleted_stage is None:
            return
        for v in world.visits.values():
            if v.deleted and v.rid in self.must_exist and not self._keep(v.rid):
                self.stage[v.rid] = {self.rules.deleted_stage}

    def manager_renamed(self, pid: int, name: str) -> None:
        """A manager edited the contact's name: IDENT's name comes back with the next sync of
        one of the patient's receptions; until then either name is right."""
        self.names[pid].add(name)

    def manager_moved(self, rid: int, stage: str) -> None:
        self.stage[rid] = {base(stage)}
        self.manager_set[rid] = base(stage)

    def manager_deleted_deal(self, rid: int, at: datetime) -> None:
        """The deal is gone; the reception's next change brings a new one, made as new."""
        self.must_exist.discard(rid)
        self.deal_deleted[rid] = at
        for book in (self.stage, self.category, self.manager_set):
            book.pop(rid, None)
        self.unlinked_ok.discard(rid)

    def manager_deleted_contact(self, world: World, pid: int, at: datetime) -> None:
        """The contact is gone and its deals unlinked; the patient's next synced change makes
        a new one, named as the patient is then, with the phone the patient has then."""
        self.contact_deleted[pid] = at
        self.unlinked_ok |= {rid for rid in self.must_exist if world.visits[rid].pid == pid}
        self.names[pid] = set()
        self.phones[pid] = set()

    def rules_changed(self, rules: Rules) -> None:
        """A changed stage_map applies to a deal when its reception next changes: until
        then either stage is right."""
        old = self.rules
        self.rules = rules
        if old.stage_map != rules.stage_map:
            for rid, stages in self.stage.items():
                if not self._keep(rid) and len(stages) == 1:
                    (st,) = stages
                    for status_, code in old.stage_map.items():
                        if code == st:
                            stages.add(rules.stage_map[status_])

    # -- the comparison ----------------------------------------------------------------------
    def check(self, world: World, dump: dict[str, list[dict[str, Any]]]) -> list[Violation]:
        out: list[Violation] = []
        deals_by_rid: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for d in dump["deal"]:
            m = _TRAILING_ID.search(str(d.get(self.rules.ident_field) or ""))
            if m:
                deals_by_rid[int(m.group(1))].append(d)
        for rid in sorted(self.must_exist):
            got = deals_by_rid.get(rid, [])
            if len(got) != 1:
                out.append(Violation("one_deal_per_reception",
                                     f"reception {rid}: {len(got)} deals "
                                     f"{[x.get(self.rules.ident_field) for x in got]}"))
                continue
            want = self.stage.get(rid)
            if want and base(got[0].get("STAGE_ID") or "") not in want:
                out.append(Violation("deal_stage", f"reception {rid} ({status(world.visits[rid])}):"
                                     f" stage {got[0].get('STAGE_ID')}, expected {sorted(want)}"))
            pipeline = str(got[0].get("CATEGORY_ID") or "0")
            if rid in self.category and pipeline != str(self.category[rid]):
                out.append(Violation("deal_pipeline", f"reception {rid}: deal in pipeline "
                                     f"{pipeline}, made in {self.category[rid]}"))
        for rid, got in deals_by_rid.items():
            if rid in self.deal_deleted and len(got) > 1:
                out.append(Violation("one_deal_per_reception", f"reception {rid}: {len(got)} "
                                     "deals after a manager deleted its deal"))
            elif rid not in self.must_exist and rid not in self.deal_deleted \
                    and rid in world.visits and not world.visits[rid].deleted:
                out.append(Violation("no_deal_before_sync", f"reception {rid} has a deal but "
                                     "was never in a synced window"))
        out += self._contacts(world, dump, deals_by_rid)
        out += self._comments(world, dump, deals_by_rid)
        return out

    def _contacts(self, world: World, dump: dict[str, list[dict[str, Any]]],
                  deals_by_rid: dict[int, list[dict[str, Any]]]) -> list[Violation]:
        out = []
        contacts = {str(c["ID"]): c for c in dump["contact"]}
        by_patient: dict[int, set[str]] = defaultdict(set)
        for rid in self.must_exist:
            for d in deals_by_rid.get(rid, []):
                cid = str(d.get("CONTACT_ID") or "")
                if cid in ("", "0"):
                    if rid not in self.unlinked_ok:
                        out.append(Violation("deal_has_contact", f"reception {rid}: deal "
                                             f"{d['ID']} has no contact"))
                    continue
                by_patient[world.visits[rid].pid].add(cid)
        owner: dict[str, int] = {}
        for pid, cids in sorted(by_patient.items()):
            if len(cids) != 1:
                out.append(Violation("one_contact_per_patient",
                                     f"patient {pid}: deals on contacts {sorted(cids)}"))
                continue
            (cid,) = cids
            if cid in owner:
                out.append(Violation("one_patient_per_contact", f"contact {cid} holds "
                                     f"patients {owner[cid]} and {pid}"))
            owner[cid] = pid
            c = contacts.get(cid)
            if c is None:
                out.append(Violation("contact_exists", f"patient {pid}: contact {cid} missing"))
                continue
            name = " ".join(x for x in (c.get("LAST_NAME"), c.get("NAME"),
                                        c.get("SECOND_NAME")) if x)
            if self.names.get(pid) and name not in self.names[pid]:
                out.append(Violation("contact_name", f"patient {pid}: contact {cid} is "
                                     f"named {name!r}, expected {sorted(self.names[pid])}"))
            have = {digits_of(str(p.get("VALUE", ""))) for p in c.get("PHONE") or []}
            missing = self.phones.get(pid, set()) - have
            if missing:
                out.append(Violation("contact_phones", f"patient {pid}: contact {cid} lacks "
                                     f"{len(missing)} of its phones"))
        return out

    def _comments(self, world: World, dump: dict[str, list[dict[str, Any]]],
                  deals_by_rid: dict[int, list[dict[str, Any]]]) -> list[Violation]:
        out = []
        by_deal: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in dump["comment"]:
            by_deal[str(c.get("ENTITY_ID"))].append(c)
        for rid in sorted(self.must_exist):
            for d in deals_by_rid.get(rid, []):
                texts = [c["COMMENT"] for c in sorted(by_deal.get(str(d["ID"]), []),
                                                      key=lambda c: int(c["ID"]))]
                if not texts:
                    out.append(Violation("comment_exists", f"reception {rid}: no comment"))
                typed = world.visits[rid].comment
                if typed and texts and not any(typed in t for t in texts):
                    out.append(Violation("literal_text", f"reception {rid}: the text staff "
                                         "typed is on no comment as typed"))
                for a, b in zip(texts, texts[1:]):
                    if a == b:
                        out.append(Violation("no_comment_twice", f"reception {rid}: the same "
                                             "text twice in a row"))
                        break
        return out


def _patient_changes(world: World, p: Any) -> list[datetime]:
    return world.patient_changes.get(p.pid, [])
