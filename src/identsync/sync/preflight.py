"""Preflight: does the portal have every stage and custom field the configuration names?

A portal takes a deal with an unknown ``STAGE_ID`` and files it under the pipeline's first
stage, and silently drops a ``UF_CRM_*`` field it does not have: a typo in ``stage_map`` or
``deal_fields`` would make every run green while writing wrong deals. So each run starts by
comparing the configuration with the portal (one batch request: the pipeline's stages and
both lists of custom fields), and ``identsync check`` does the same.

``compare`` is pure (configuration + what the portal answered -> mismatches); ``read_portal``
is the one request; ``verify`` raises :class:`ConfigError` naming every mismatch at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from identsync.config import SyncConfig
from identsync.errors import ConfigError


@dataclass(frozen=True)
class PortalFacts:
    """What the portal declares: its pipeline's stage ids and its custom field codes."""

    category_id: int
    stages: tuple[str, ...]          # STATUS_ID as the portal spells it (C<n>: outside 0)
    deal_fields: frozenset[str]
    contact_fields: frozenset[str]


@dataclass(frozen=True)
class Mismatch:
    key: str            # e.g. "stage_map.planned", "deal_fields.doctor"
    value: str          # what the configuration says
    valid: tuple[str, ...]
    fix: str

    def __str__(self) -> str:
        valid = ", ".join(self.valid) if self.valid else "none"
        return f"{self.key} = {self.value!r}: {self.fix} (valid: {valid})"


def _bare(stage: str, category_id: int) -> str:
    prefix = f"C{category_id}:"
    return stage[len(prefix):] if category_id and stage.startswith(prefix) else stage


def _stage_keys(cfg: SyncConfig) -> list[tuple[str, str]]:
    keys = [(f"stage_map.{status}", stage) for status, stage in cfg.stage_map.items()]
    keys += [(f"final_stages[{i}]", s) for i, s in enumerate(cfg.final_stages)]
    keys += [(f"protected_stages[{i}]", s) for i, s in enumerate(cfg.protected_stages)]
    if cfg.deleted_stage:
        keys.append(("deleted_stage", cfg.deleted_stage))
    return keys


def compare(cfg: SyncConfig, facts: PortalFacts, *, where: str = "") -> list[Mismatch]:
    """Every stage and field code of ``cfg`` the portal does not have (``where`` prefixes
    the keys, e.g. "branches[id=2]: " for a branch's own settings)."""
    out: list[Mismatch] = []
    have = set(facts.stages)
    valid_stages = tuple(_bare(s, facts.category_id) for s in facts.stages)
    pipeline = f"pipeline {facts.category_id}" if facts.category_id else "the default pipeline"
    for key, stage in _stage_keys(cfg):
        if cfg.stage_code(stage) not in have:
            out.append(Mismatch(f"{where}{key}", stage, valid_stages,
                                f"no such stage in {pipeline} (category_id "
                                f"{facts.category_id}); use one of the portal's stage ids"))
    for kind, wanted, declared in (("deal", cfg.deal_fields, facts.deal_fields),
                                   ("contact", cfg.contact_fields, facts.contact_fields),
                                   ("patient", {"id": cfg.patient_id_field},
                                    facts.contact_fields)):
        for logical, code in sorted(wanted.items()):
            if code not in declared:
                out.append(Mismatch(
                    f"{where}{kind}_{logical}_field" if kind == "patient"
                    else f"{where}{kind}_fields.{logical}", code, tuple(sorted(declared)),
                    f"the portal has no {'contact' if kind == 'patient' else kind} field "
                    f"{code} (it would drop the value "
                    "silently); run `identsync setup-portal` or correct the code"))
    return out


def _rows(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):  # a PHP map keyed "0".."n" that did not become a list
        value = list(value.values())
    return [v for v in value or [] if isinstance(v, dict)]


def read_portal(portal: Any, category_id: int) -> PortalFacts:
    """One batch request: the pipeline's stages and the deal and contact custom fields."""
    entity = f"DEAL_STAGE_{category_id}" if category_id else "DEAL_STAGE"
    br = portal.batch({
        "stages": ("crm.status.list", {"filter": {"ENTITY_ID": entity}}),
        "deal_uf": ("crm.deal.userfield.list", {}),
        "contact_uf": ("crm.contact.userfield.list", {}),
    })
    br.raise_for_errors()
    return PortalFacts(
        category_id=category_id,
        stages=tuple(str(s.get("STATUS_ID")) for s in _rows(br.results.get("stages"))),
        deal_fields=frozenset(str(f.get("FIELD_NAME"))
                              for f in _rows(br.results.get("deal_uf"))),
        contact_fields=frozenset(str(f.get("FIELD_NAME"))
                                 for f in _rows(br.results.get("contact_uf"))))


def problems(portal: Any, cfg: SyncConfig, *, where: str = "") -> list[Mismatch]:
    return compare(cfg, read_portal(portal, cfg.category_id), where=where)


def verify(portal: Any, cfg: SyncConfig, *, source: str = "configuration") -> None:
    """Raise :class:`ConfigError` listing every mismatch (a run fails, not retried)."""
    found = problems(portal, cfg)
    if found:
        err = ConfigError(f"{source} does not match the portal ({len(found)} problem"
                          f"{'s' if len(found) > 1 else ''}): "
                          + "; ".join(str(m) for m in found))
        err.fix = ("correct the named keys in identsync.json (a stage id from the valid ones), "
                   "or create the missing fields with `identsync setup-portal`; "
                   "`identsync check` shows the same list")
        raise err


# A run re-reads the portal when the configuration changed or the last check is older than
# this: a typo is caught by the first run after the edit, a stage deleted on the portal
# within the hour, and a run with nothing to sync still makes no request at all.
CACHE_SECONDS = 3600.0


def fingerprint(cfg: SyncConfig) -> str:
    import hashlib
    import json

    parts = {"category_id": cfg.category_id, "stage_map": cfg.stage_map,
             "final_stages": list(cfg.final_stages),
             "protected_stages": list(cfg.protected_stages),
             "deleted_stage": cfg.deleted_stage, "deal_fields": cfg.deal_fields,
             "contact_fields": cfg.contact_fields,
             "patient_id_field": cfg.patient_id_field}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def verify_cached(portal: Any, cfg: SyncConfig, store: Any, pipeline: str, *, now: float,
                  source: str = "configuration", remember: bool = True) -> bool:
    """``verify`` unless this pipeline passed it with the same configuration within
    :data:`CACHE_SECONDS`; ``portal`` is a callable making the client (built only when
    needed). ``remember=False`` (a dry run, which leaves nothing behind) checks without
    recording the pass. Returns True when the portal was read."""
    key = f"{pipeline}#preflight"
    mark = fingerprint(cfg)
    try:
        last = store.get_chunk(key, 0)[0]
    except (KeyError, IndexError):
        last = {}
    if last.get("fingerprint") == mark and now - float(last.get("at", 0)) < CACHE_SECONDS:
        return False
    verify(portal(), cfg, source=source)
    if remember:
        store.put_chunks(key, [[{"fingerprint": mark, "at": now}]])
    return True
