"""Plain data passed between the sync steps.

Everything here is a frozen dataclass over JSON-friendly values so it can go to XCom or a
staging table with ``to_dict()`` / ``from_dict()`` and be compared in tests.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class SourceReception:
    """One IDENT reception joined with its patient, doctor, chair, branch and orders.

    Datetimes are naive clinic-local time, exactly as IDENT stores them.
    """

    reception_id: int
    patient_id: int | None
    branch_id: int | None
    branch_name: str | None = None
    surname: str | None = None
    name: str | None = None
    patronymic: str | None = None
    mobile_phone: str | None = None
    card_number: str | None = None
    guardian: str | None = None  # Patients.ParentSNP
    doctor_name: str | None = None
    doctor_speciality: str | None = None
    chair_name: str | None = None
    plan_start: datetime | None = None
    plan_end: datetime | None = None
    comment: str | None = None
    patient_appeared: datetime | None = None
    reception_started: datetime | None = None
    reception_ended: datetime | None = None
    check_issued: datetime | None = None
    reception_canceled: datetime | None = None
    cancel_reason: str | None = None
    cancel_reason_comment: str | None = None
    date_added: datetime | None = None
    date_changed: datetime | None = None
    services: tuple[str, ...] = ()
    amount: Decimal | None = None

    _DATETIMES = (
        "plan_start", "plan_end", "patient_appeared", "reception_started", "reception_ended",
        "check_issued", "reception_canceled", "date_added", "date_changed",
    )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, datetime):
                v = v.isoformat()
            elif isinstance(v, Decimal):
                v = str(v)
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourceReception:
        kw = dict(data)
        for name in cls._DATETIMES:
            kw[name] = _dt(kw.get(name))
        kw["services"] = tuple(kw.get("services") or ())
        kw["amount"] = Decimal(kw["amount"]) if kw.get("amount") is not None else None
        return cls(**kw)


@dataclass(frozen=True)
class SyncRecord:
    """What one reception should look like in Bitrix24, already mapped to field codes."""

    ident_id: str  # F<branch>_<ReceptionID>, unique across branches
    reception_id: int
    branch_id: int
    phone: str  # E.164, e.g. +79991234567
    name: str
    last_name: str
    second_name: str
    contact_fields: dict[str, Any]  # Bitrix24 contact fields except PHONE
    deal_fields: dict[str, Any]  # Bitrix24 deal fields (mapped) except CONTACT_ID/STAGE_ID
    stage_id: str
    status: str  # planned|arrived|in_progress|finished|bill_issued|cancelled
    comment: str  # timeline comment text, deterministic for the same source row
    patient_id: int | None = None  # IDENT Patients.ID_Persons: what identifies the contact

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.name, self.second_name) if p)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SyncRecord:
        return cls(**data)


@dataclass(frozen=True)
class Rejection:
    """A source row that cannot be synced, with a reason an operator can act on."""

    reception_id: int | None
    ident_id: str | None
    reason: str  # short machine-friendly code, e.g. "invalid_phone"
    detail: str  # human sentence naming the value that was wrong (no secrets)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rejection:
        return cls(**data)


@dataclass(frozen=True)
class Failure:
    """One record the portal refused in one step (it goes to the retry queue)."""

    ident_id: str
    reception_id: int | None
    step: str  # contact | deal | comment
    code: str
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {"ident_id": self.ident_id, "reception_id": self.reception_id,
                "step": self.step, "code": self.code, "description": self.description}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Failure:
        return cls(ident_id=str(d["ident_id"]), reception_id=d.get("reception_id"),
                   step=str(d["step"]), code=str(d.get("code") or ""),
                   description=str(d.get("description") or ""))


@dataclass(frozen=True)
class FoundContact:
    """A portal contact as the plan needs it: ids and keyed hashes, never names or phones.

    ``name_key`` is the keyed hash of the comparable full name, ``phones`` the keyed hashes
    of its phones in E.164 (of the stored text where it is no phone), ``fields`` the keyed
    hashes of the mapped values (``identsync.sync.canon``): enough to match and to tell what
    changed, nothing a reader of XCom could turn back into a patient.
    """

    id: int
    name_key: str
    phones: tuple[str, ...]
    patient_id: int | None = None  # the IDENT patient stored on the contact, if any
    fields: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "phones": list(self.phones)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FoundContact:
        return cls(id=int(d["id"]), name_key=str(d["name_key"]), phones=tuple(d["phones"]),
                   patient_id=d.get("patient_id"), fields=dict(d.get("fields") or {}))


@dataclass(frozen=True)
class FoundDeal:
    """A portal deal: ids, its pipeline and stage, and keyed hashes of the mapped fields."""

    id: int
    ident_id: str  # the key the deal carries on the portal (maybe an older branch's)
    stage_id: str
    contact_id: int | None
    fields: dict[str, Any]
    category_id: int = 0
    semantic: str = ""  # the portal's STAGE_SEMANTIC_ID: P open, S won, F lost

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FoundDeal:
        return cls(**d)


@dataclass
class LookupMap:
    """What Bitrix24 already holds for one chunk. JSON-serialisable via to_dict().

    It goes to XCom, so it holds ids, stages and keyed hashes only; ``key`` (the hash key)
    stays in memory and is never serialised.
    """

    contacts: dict[str, list[FoundContact]] = field(default_factory=dict)  # phone hash -> ...
    patients: dict[str, FoundContact] = field(default_factory=dict)  # IDENT patient id -> ...
    deals: dict[str, FoundDeal] = field(default_factory=dict)  # record's ident_id -> deal
    duplicate_deals: dict[str, list[int]] = field(default_factory=dict)  # ident_id -> extra ids
    # Contacts linked to found deals but not found by phone (the patient's phone changed).
    deal_contacts: dict[int, FoundContact] = field(default_factory=dict)
    # Stage ids the portal itself marks final (crm.status.list SEMANTICS S or F).
    final_stages: list[str] = field(default_factory=list)
    requests: int = 0  # HTTP requests spent looking up
    key: bytes = field(default=b"", repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "contacts": {h: [c.to_dict() for c in found] for h, found in self.contacts.items()},
            "patients": {p: c.to_dict() for p, c in self.patients.items()},
            "deals": {k: d.to_dict() for k, d in self.deals.items()},
            "duplicate_deals": self.duplicate_deals,
            "deal_contacts": {str(k): c.to_dict() for k, c in self.deal_contacts.items()},
            "final_stages": list(self.final_stages),
            "requests": self.requests,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], key: bytes = b"") -> LookupMap:
        return cls(
            contacts={h: [FoundContact.from_dict(c) for c in found]
                      for h, found in data.get("contacts", {}).items()},
            patients={p: FoundContact.from_dict(c) for p, c in data.get("patients", {}).items()},
            deals={k: FoundDeal.from_dict(d) for k, d in data.get("deals", {}).items()},
            duplicate_deals={k: list(v) for k, v in data.get("duplicate_deals", {}).items()},
            deal_contacts={int(k): FoundContact.from_dict(c)
                           for k, c in data.get("deal_contacts", {}).items()},
            final_stages=list(data.get("final_stages", [])),
            requests=int(data.get("requests", 0)),
            key=key,
        )
