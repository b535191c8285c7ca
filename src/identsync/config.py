"""Sync configuration: one pydantic model, validated once; every error names the key (and the
branch, for a branch's own settings).

The document lives in ``dags/identsync.json`` next to the DAG file (or the path in
``$IDENTSYNC_CONFIG``). Its JSON schema, generated from this model, is
``docs/identsync.schema.json``; ``python -m tools.config_schema`` writes it and the README's
table. A branch may override the settings in :data:`BRANCH_OVERRIDES` (a second clinic with
its own deal pipeline, say); :meth:`SyncConfig.for_branch` applies them.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from identsync.errors import ConfigError

STATUSES = ("planned", "arrived", "in_progress", "finished", "bill_issued", "cancelled")

# Logical deal fields the transform can fill; each maps to a portal field code.
DEAL_FIELD_KEYS = (
    "ident_id", "start", "end", "doctor", "services", "status", "card_number", "guardian",
    "branch", "chair",
)
CONTACT_FIELD_KEYS = ("card_number", "guardian")
BRANCH_OVERRIDES = ("category_id", "schedule", "stage_map", "final_stages", "protected_stages",
                    "deleted_stage")

# Airflow pool slots per plan: enough parallel tasks to keep the portal's drain rate busy at
# ~500 ms per request plus each task's start-up (measured: bench/scheduler.py, README).
POOL_SLOTS = {"standard": 4, "enterprise": 8}

_UF_CODE = re.compile(r"^UF_CRM_[A-Z0-9_]+$")
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
ConnId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$")]


def _check_cron(value: str) -> str:
    from croniter import croniter

    if not croniter.is_valid(value):
        raise ValueError(f"{value!r} is not a cron expression (e.g. '*/30 * * * *')")
    return value


def _check_stage_map(value: dict[str, str]) -> dict[str, str]:
    # One line per problem ("key: what"): the loader reports them all at once.
    problems = [f"{status}: is missing; every IDENT status needs a stage" for status in STATUSES
                if not str(value.get(status) or "").strip()]
    problems += [f"{status}: unknown status; {_did_you_mean(status, STATUSES)}"
                 for status in value if status not in STATUSES]
    if problems:
        raise ValueError("\n".join(problems))
    return value


def _did_you_mean(name: str, allowed: tuple[str, ...] | list[str]) -> str:
    import difflib  # only a wrong key needs it: not loaded by every task process

    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    if len(allowed) <= 12:
        return f"allowed: {', '.join(allowed)}"
    return "see the keys in README's Configuration table or docs/identsync.schema.json"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Branch(_Model):
    """An IDENT branch (``OwnCompanies.ID``): one DAG each, optionally its own settings."""

    id: int = Field(gt=0, description="IDENT OwnCompanies.ID")
    name: Text
    category_id: int | None = Field(None, ge=0, description="this branch's deal pipeline")
    schedule: str | None = None
    stage_map: dict[str, str] | None = None
    final_stages: tuple[Text, ...] | None = None
    protected_stages: tuple[Text, ...] | None = None
    deleted_stage: Text | None = None

    _schedule = field_validator("schedule")(lambda v: v if v is None else _check_cron(v))
    _stage_map = field_validator("stage_map")(lambda v: v if v is None else _check_stage_map(v))

    def overrides(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in BRANCH_OVERRIDES if getattr(self, k) is not None}


class Alerts(_Model):
    """Who hears about a failed run or records that died in the retry queue (off by default)."""

    notifier: Literal["smtp", "slack"] | None = Field(
        None, description="smtp (Airflow's SMTP provider) or slack; null: no alerts")
    to: tuple[Text, ...] = Field((), description="smtp: recipient addresses")
    from_email: str | None = Field(None, description="smtp: sender (default: the connection's)")
    smtp_conn_id: ConnId = "smtp_default"
    slack_conn_id: ConnId = "slack_api_default"
    slack_channel: str | None = None
    on_dead_records: bool = Field(True, description="also alert when records die")

    @model_validator(mode="after")
    def _recipients(self) -> Alerts:
        if self.notifier == "smtp" and not self.to:
            raise ValueError("to: smtp alerts need at least one recipient address")
        return self


class SyncConfig(_Model):
    branches: tuple[Branch, ...] = Field(min_length=1)
    timezone: str = Field("Europe/Moscow", description="the clinic's zone (IDENT stores "
                                                       "naive local time)")
    default_region: str = Field("RU", description="region for phones without country code")
    schedule: str = Field("*/30 * * * *", description="cron of the data-interval timetable")
    start_date: date = Field(date(2026, 1, 1), description="first data interval")
    overlap_minutes: int = Field(15, ge=0, le=1440,
                                 description="each window starts this much earlier")
    max_lookback_days: int = Field(
        7, ge=1, le=366, description="a scheduled run after an outage syncs at most this far "
                                     "back (the rest is named in a warning: backfill it)")
    chunk_size: int = Field(50, ge=20, le=50, description="records per chunk (20..50)")
    backfill_block_hours: int = Field(
        24, ge=1, le=24 * 31, description="a backfill syncs blocks of this many hours: the "
                                          "first run in a block syncs it, the others skip")
    backfill_span_days: int = Field(
        7, ge=0, le=31, description="a backfill run also syncs the blocks of its backfill's "
                                    "queued runs up to this many days ahead, so a reception "
                                    "is synced once, not once per day it changed (0: its "
                                    "own block only)")
    portal_plan: Literal["standard", "enterprise"] = Field(
        "standard", description="used when the Bitrix24 connection names no plan")
    category_id: int = Field(0, ge=0, description="deal pipeline; stages get C<n>: outside 0")
    currency: Text = Field("RUB", description="deal currency (CURRENCY_ID)")
    contact_type: Text = Field("CLIENT", description="TYPE_ID of new contacts")
    phone_value_type: Text = Field("MOBILE", description="VALUE_TYPE of phones we add")
    ident_conn_id: ConnId = Field("ident_db", description="Airflow connection of IDENT "
                                                          "(mssql; sqlite/postgres for demos)")
    bitrix24_conn_id: ConnId = Field("bitrix24_default",
                                     description="Airflow connection of the portal (bitrix24)")
    state_conn_id: ConnId = Field("identsync_state",
                                  description="Airflow connection of the state (postgres)")
    pool: ConnId = Field("bitrix24", description="Airflow pool of every Bitrix24 task")
    retries: int = Field(3, ge=0, le=20, description="Airflow task retries")
    retry_delay_seconds: int = Field(30, ge=0, le=3600, description="first retry delay; "
                                     "exponential backoff, capped at 10 min")
    write_settle_seconds: int = Field(
        65, ge=0, le=600, description="after a lost write answer, wait this long before "
                                      "looking again (a request may run for 60 s)")
    retry_max_attempts: int = Field(
        8, ge=1, le=100, description="tries of a record the portal refused before it is dead")
    retry_base_minutes: int = Field(
        15, ge=0, le=1440, description="spacing of retries: base * 2^(attempt-1), max 1 day")
    fail_chunk_share: float = Field(
        0.2, ge=0, le=1, description="a chunk with more refused records than this share "
                                     "fails the task")
    retention_days: int = Field(
        7, ge=1, le=365, description="staged data and run details kept this long (any task "
                                     "of a run this young can be cleared)")
    full_check_days: int = Field(
        7, ge=1, le=90, description="unchanged receptions are looked up again this often")
    patient_receptions_days: int = Field(
        30, ge=0, le=365, description="a patient edit re-syncs their receptions from this "
                                      "many days ago onward")
    reconcile_schedule: str = Field(
        "0 3 * * *", description="cron of the check for receptions deleted in IDENT")
    deleted_stage: Text | None = Field(
        None, description="stage for deals whose reception was deleted (null: only list them)")
    deal_fields: dict[str, str] = Field(description=(
        "logical field -> portal UF_CRM_* code: " + ", ".join(DEAL_FIELD_KEYS)
        + "; ident_id is required"), default_factory=lambda: {
        "ident_id": "UF_CRM_IDENT_ID", "start": "UF_CRM_IDENT_START",
        "end": "UF_CRM_IDENT_END", "doctor": "UF_CRM_IDENT_DOCTOR",
        "services": "UF_CRM_IDENT_SERVICES", "status": "UF_CRM_IDENT_STATUS",
        "card_number": "UF_CRM_IDENT_CARD", "guardian": "UF_CRM_IDENT_GUARDIAN"})
    contact_fields: dict[str, str] = Field(description=(
        "logical field -> UF_CRM_* code: " + ", ".join(CONTACT_FIELD_KEYS)),
        default_factory=lambda: {
        "card_number": "UF_CRM_IDENT_CARD", "guardian": "UF_CRM_IDENT_GUARDIAN"})
    patient_id_field: str = Field(
        "UF_CRM_IDENT_PATIENT_ID", pattern=r"^UF_CRM_[A-Z0-9_]+$",
        description="contact field holding the IDENT patient id: what identifies a contact "
                    "(identsync setup-portal creates it)")
    stage_map: dict[str, str] = Field(description=(
        "IDENT status -> stage id, for every status: " + ", ".join(STATUSES)),
        default_factory=lambda: {
        "planned": "NEW", "arrived": "PREPARATION", "in_progress": "EXECUTING",
        "finished": "EXECUTING", "bill_issued": "WON", "cancelled": "LOSE"})
    final_stages: tuple[Text, ...] = Field(
        ("WON", "LOSE"), description="never reopened (stages the portal marks final are added)")
    protected_stages: tuple[Text, ...] = Field(
        (), description="managers move these by hand: never overwritten")
    alerts: Alerts = Field(default_factory=Alerts, description=(
        "{notifier: smtp|slack|null, to, from_email, smtp_conn_id, slack_conn_id, "
        "slack_channel, on_dead_records}: failed tasks and dead records; off by default"))

    # -- validation --------------------------------------------------------------------------
    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @field_validator("default_region")
    @classmethod
    def _region(cls, v: str) -> str:
        if v not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{v!r} is not a region code such as 'RU'")
        return v

    _crons = field_validator("schedule", "reconcile_schedule")(_check_cron)
    _stages = field_validator("stage_map")(_check_stage_map)

    @field_validator("deal_fields", "contact_fields")
    @classmethod
    def _field_codes(cls, v: dict[str, str], info: Any) -> dict[str, str]:
        allowed = DEAL_FIELD_KEYS if info.field_name == "deal_fields" else CONTACT_FIELD_KEYS
        problems = []
        for key, code in v.items():
            if key not in allowed:
                problems.append(f"{key}: unknown logical field; {_did_you_mean(key, allowed)}")
            elif not isinstance(code, str) or not _UF_CODE.match(code):
                problems.append(f"{key}: {code!r} is not an upper-case UF_CRM_* field code")
        if info.field_name == "deal_fields" and "ident_id" not in v:
            problems.append("ident_id: is required: deals are matched by the IDENT id field")
        if problems:
            raise ValueError("\n".join(problems))
        return v

    @field_validator("branches")
    @classmethod
    def _unique_branches(cls, v: tuple[Branch, ...]) -> tuple[Branch, ...]:
        ids = [b.id for b in v]
        if len(ids) != len(set(ids)):
            raise ValueError("branch ids must be unique")
        return v

    # -- derived -------------------------------------------------------------------------------
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

    def for_branch(self, branch_id: int) -> SyncConfig:
        """This configuration with the branch's own settings applied."""
        overrides = self.branch(branch_id).overrides()
        return self.model_copy(update=overrides) if overrides else self

    @classmethod
    def deleted_pipeline_id(cls, branch_id: int) -> str:
        """The DAG id of a branch's check for receptions deleted in IDENT."""
        return f"{cls.pipeline_id(branch_id)}_deleted"

    def branch_of_pipeline(self, pipeline: str) -> int | None:
        for b in self.branches:
            if pipeline in (self.pipeline_id(b.id), self.deleted_pipeline_id(b.id)):
                return b.id
        return None

    # -- loading -------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str | None = None) -> SyncConfig:
        """Validate a document; every problem at once (ConfigProblems), not the first."""
        raw = {k: v for k, v in raw.items() if k not in META_KEYS}
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise ConfigProblems(_problems(exc, raw), source) from None

    @classmethod
    def from_json(cls, text: str, source: str = "configuration") -> SyncConfig:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}: not valid JSON ({exc})") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: must be a JSON object")
        return cls.from_dict(raw, source=source)

    @classmethod
    def from_file(cls, path: str | Path) -> SyncConfig:
        p = Path(path)
        return cls.from_json(p.read_text(encoding="utf-8"), source=str(p))


#: Keys for people and editors, not for the sync: "$schema" points an editor at
#: docs/identsync.schema.json, "$comment" holds a note.
META_KEYS = ("$schema", "$comment")


class ConfigProblems(ConfigError):
    """Every problem of one configuration document, each ``key: what is wrong``."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        if len(problems) == 1:
            text = f"{source}: {problems[0]}" if source else problems[0]
        else:
            text = (f"{source or 'configuration'}: {len(problems)} problems:\n"
                    + "\n".join(f"  - {p}" for p in problems))
        super().__init__(text)


def _key(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the object at ``loc`` may have (the model there: top level, branch, alerts)."""
    path = tuple(p for p in loc if not isinstance(p, int))
    model = {(): SyncConfig, ("branches",): Branch, ("alerts",): Alerts}.get(path)
    return list(model.model_fields) if model is not None else []


def _problems(exc: ValidationError, raw: dict[str, Any]) -> list[str]:
    """``key: what is wrong`` for every problem, naming the branch for a branch's key."""
    out: list[str] = []
    errors = exc.errors()
    locs = [tuple(e["loc"]) for e in errors]
    for err in errors:
        loc = tuple(p for p in err["loc"] if p not in ("function-after", "[key]"))
        # A list whose items failed is also "too short" (the failed items do not count).
        if err["type"] == "too_short" and any(o[:len(err["loc"])] == tuple(err["loc"])
                                              and len(o) > len(err["loc"]) for o in locs):
            continue
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and loc:
            msg = f"unknown key; {_did_you_mean(str(loc[-1]), _allowed_keys(loc[:-1]))}"
        # A validator of a mapping (or of alerts) reports one "key: what" line per problem.
        nested = loc and loc[-1] in ("deal_fields", "contact_fields", "stage_map", "alerts")
        for line in msg.split("\n"):
            sub = re.match(r"^([a-z_]+): (.*)$", line, re.S) if nested else None
            where, what = ((*loc, sub.group(1)), sub.group(2)) if sub else (loc, line)
            text = f"{_key(where)}: {what}"
            if len(loc) >= 2 and loc[0] == "branches" and isinstance(loc[1], int):
                branches = raw.get("branches") or []
                b = branches[loc[1]] if loc[1] < len(branches) else None
                if isinstance(b, dict):
                    text += f" (branch {b.get('id', '?')} {b.get('name', '')})".rstrip()
            if text not in out:
                out.append(text)
    return out
