"""Sync configuration: one JSON document, validated once, errors name the bad key.

The document lives in ``dags/identsync.json`` (shipped with the DAGs) and can be replaced by
the Airflow Variable ``identsync_config`` holding the same JSON. See README "Configuration".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from identsync.errors import ConfigError

STATUSES = ("planned", "arrived", "in_progress", "finished", "bill_issued", "cancelled")

# Logical deal fields the transform can fill; each maps to a portal field code in field_map.
DEAL_FIELD_KEYS = (
    "ident_id", "start", "end", "doctor", "services", "status", "card_number", "guardian",
    "branch", "chair",
)
CONTACT_FIELD_KEYS = ("card_number", "guardian")

DEFAULTS: dict[str, Any] = {
    "timezone": "Europe/Moscow",
    "default_region": "RU",
    "chunk_size": 50,
    "category_id": 0,
    "currency": "RUB",
    "contact_type": "CLIENT",
    "phone_value_type": "MOBILE",
    "schedule": "*/30 * * * *",
    "overlap_minutes": 15,
    "start_date": "2026-01-01",
    "portal_plan": "standard",
    "ident_conn_id": "ident_db",
    "bitrix24_conn_id": "bitrix24_default",
    "state_conn_id": "identsync_state",
    "pool": "bitrix24",
    "retries": 3,
    "retry_delay_seconds": 30,
    "write_settle_seconds": 65,
    "deal_fields": {
        "ident_id": "UF_CRM_IDENT_ID",
        "start": "UF_CRM_IDENT_START",
        "end": "UF_CRM_IDENT_END",
        "doctor": "UF_CRM_IDENT_DOCTOR",
        "services": "UF_CRM_IDENT_SERVICES",
        "status": "UF_CRM_IDENT_STATUS",
        "card_number": "UF_CRM_IDENT_CARD",
        "guardian": "UF_CRM_IDENT_GUARDIAN",
    },
    "contact_fields": {
        "card_number": "UF_CRM_IDENT_CARD",
        "guardian": "UF_CRM_IDENT_GUARDIAN",
    },
    "stage_map": {
        "planned": "NEW",
        "arrived": "PREPARATION",
        "in_progress": "EXECUTING",
        "finished": "EXECUTING",
        "bill_issued": "WON",
        "cancelled": "LOSE",
    },
    "final_stages": ["WON", "LOSE"],
    "protected_stages": [],
}



@dataclass(frozen=True)
class Branch:
    id: int
    name: str


@dataclass(frozen=True)
class SyncConfig:
    branches: tuple[Branch, ...]
    timezone: str = DEFAULTS["timezone"]
    default_region: str = DEFAULTS["default_region"]
    chunk_size: int = DEFAULTS["chunk_size"]
    category_id: int = DEFAULTS["category_id"]
    currency: str = DEFAULTS["currency"]
    contact_type: str = DEFAULTS["contact_type"]
    phone_value_type: str = DEFAULTS["phone_value_type"]
    schedule: str = DEFAULTS["schedule"]
    overlap_minutes: int = DEFAULTS["overlap_minutes"]
    start_date: str = DEFAULTS["start_date"]
    portal_plan: str = DEFAULTS["portal_plan"]
    ident_conn_id: str = DEFAULTS["ident_conn_id"]
    bitrix24_conn_id: str = DEFAULTS["bitrix24_conn_id"]
    state_conn_id: str = DEFAULTS["state_conn_id"]
    pool: str = DEFAULTS["pool"]
    retries: int = DEFAULTS["retries"]
    retry_delay_seconds: int = DEFAULTS["retry_delay_seconds"]
    write_settle_seconds: int = DEFAULTS["write_settle_seconds"]
    deal_fields: dict[str, str] = field(default_factory=lambda: dict(DEFAULTS["deal_fields"]))
    contact_fields: dict[str, str] = field(
        default_factory=lambda: dict(DEFAULTS["contact_fields"])
    )
    stage_map: dict[str, str] = field(default_factory=lambda: dict(DEFAULTS["stage_map"]))
    final_stages: tuple[str, ...] = tuple(DEFAULTS["final_stages"])
    protected_stages: tuple[str, ...] = ()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def ident_id_field(self) -> str:
        return self.deal_fields["ident_id"]

    def stage_code(self, stage: str) -> str:
        """Stage id as the portal spells it for this pipeline (C<n>: prefix outside 0)."""
        if self.category_id and not stage.startswith(f"C{self.category_id}:"):
            return f"C{self.category_id}:{stage}"
        return stage

    @staticmethod
    def pipeline_id(branch_id: int) -> str:
        """The DAG id of a branch, also the key of its watermark, queue and run history."""
        return f"ident_to_bitrix24_branch_{branch_id}"

    def branch(self, branch_id: int) -> Branch:
        for b in self.branches:
            if b.id == branch_id:
                return b
        raise ConfigError(f"branches: no branch with id {branch_id}")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SyncConfig:
        return _validate(raw)

    @classmethod
    def from_json(cls, text: str, source: str = "configuration") -> SyncConfig:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}: not valid JSON ({exc})") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: must be a JSON object")
        return _validate(raw)

    @classmethod
    def from_file(cls, path: str | Path) -> SyncConfig:
        p = Path(path)
        return cls.from_json(p.read_text(encoding="utf-8"), source=p.name)


_UF = "UF_CRM_"


def _need(cond: bool, key: str, why: str) -> None:
    if not cond:
        raise ConfigError(f"{key}: {why}")


def _validate(raw: dict[str, Any]) -> SyncConfig:
    known = set(DEFAULTS) | {"branches"}
    unknown = sorted(set(raw) - known - {"$comment"})
    _need(not unknown, unknown[0] if unknown else "", "unknown key (typo?)")
    merged = {**DEFAULTS, **{k: v for k, v in raw.items() if k != "$comment"}}

    branches = merged.get("branches")
    _need(isinstance(branches, list) and branches, "branches", "a non-empty list is required")
    parsed_branches = []
    for i, b in enumerate(branches):
        _need(isinstance(b, dict), f"branches[{i}]", "must be an object {id, name}")
        _need(isinstance(b.get("id"), int) and b["id"] > 0, f"branches[{i}].id",
              "must be a positive integer (IDENT OwnCompanies.ID)")
        _need(isinstance(b.get("name"), str) and b["name"].strip(), f"branches[{i}].name",
              "must be a non-empty string")
        parsed_branches.append(Branch(id=b["id"], name=b["name"].strip()))
    ids = [b.id for b in parsed_branches]
    _need(len(ids) == len(set(ids)), "branches", "branch ids must be unique")

    try:
        ZoneInfo(str(merged["timezone"]))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"timezone: unknown time zone {merged['timezone']!r}") from None
    region = merged["default_region"]
    _need(region in phonenumbers.SUPPORTED_REGIONS, "default_region",
          f"{region!r} is not a region code such as 'RU'")
    cs = merged["chunk_size"]
    _need(isinstance(cs, int) and 1 <= cs <= 50, "chunk_size",
          "must be an integer from 1 to 50 (Bitrix24 batch holds 50 commands)")
    _need(isinstance(merged["category_id"], int) and merged["category_id"] >= 0,
          "category_id", "must be a non-negative integer")
    _need(isinstance(merged["overlap_minutes"], int) and 0 <= merged["overlap_minutes"] <= 1440,
          "overlap_minutes", "must be an integer from 0 to 1440")
    _need(isinstance(merged["retries"], int) and 0 <= merged["retries"] <= 20, "retries",
          "must be an integer from 0 to 20")
    _need(isinstance(merged["retry_delay_seconds"], int) and 0 <= merged["retry_delay_seconds"]
          <= 3600, "retry_delay_seconds", "must be an integer from 0 to 3600")
    _need(isinstance(merged["write_settle_seconds"], int)
          and 0 <= merged["write_settle_seconds"] <= 600, "write_settle_seconds",
          "must be an integer from 0 to 600 (seconds a lost write may still run on the portal)")
    _need(merged["portal_plan"] in ("standard", "enterprise"), "portal_plan",
          "must be 'standard' or 'enterprise'")
    for key in ("currency", "contact_type", "phone_value_type", "schedule", "ident_conn_id",
                "bitrix24_conn_id", "state_conn_id", "pool", "start_date"):
        _need(isinstance(merged[key], str) and merged[key].strip(), key,
              "must be a non-empty string")

    for section, allowed in (("deal_fields", DEAL_FIELD_KEYS),
                             ("contact_fields", CONTACT_FIELD_KEYS)):
        fm = merged[section]
        _need(isinstance(fm, dict), section, "must be an object {logical name: field code}")
        for k, code in fm.items():
            _need(k in allowed, f"{section}.{k}",
                  f"unknown logical field; allowed: {', '.join(allowed)}")
            _need(isinstance(code, str) and code.upper().startswith(_UF) and code == code.upper(),
                  f"{section}.{k}", f"{code!r} is not an upper-case UF_CRM_* field code")
    _need("ident_id" in merged["deal_fields"], "deal_fields.ident_id",
          "is required: deals are matched by the IDENT id field")

    sm = merged["stage_map"]
    _need(isinstance(sm, dict), "stage_map", "must be an object {status: stage id}")
    for status in STATUSES:
        _need(isinstance(sm.get(status), str) and sm[status].strip(), f"stage_map.{status}",
              "is missing; every IDENT status needs a stage")
    for status in sm:
        _need(status in STATUSES, f"stage_map.{status}",
              f"unknown status; allowed: {', '.join(STATUSES)}")
    for key in ("final_stages", "protected_stages"):
        v = merged[key]
        _need(isinstance(v, list) and all(isinstance(s, str) and s for s in v), key,
              "must be a list of stage ids")

    return SyncConfig(
        branches=tuple(parsed_branches),
        timezone=merged["timezone"],
        default_region=region,
        chunk_size=cs,
        category_id=merged["category_id"],
        currency=merged["currency"],
        contact_type=merged["contact_type"],
        phone_value_type=merged["phone_value_type"],
        schedule=merged["schedule"],
        overlap_minutes=merged["overlap_minutes"],
        start_date=merged["start_date"],
        portal_plan=merged["portal_plan"],
        ident_conn_id=merged["ident_conn_id"],
        bitrix24_conn_id=merged["bitrix24_conn_id"],
        state_conn_id=merged["state_conn_id"],
        pool=merged["pool"],
        retries=merged["retries"],
        retry_delay_seconds=merged["retry_delay_seconds"],
        write_settle_seconds=merged["write_settle_seconds"],
        deal_fields=dict(merged["deal_fields"]),
        contact_fields=dict(merged["contact_fields"]),
        stage_map=dict(sm),
        final_stages=tuple(merged["final_stages"]),
        protected_stages=tuple(merged["protected_stages"]),
    )
