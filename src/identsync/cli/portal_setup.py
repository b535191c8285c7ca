"""`identsync setup-portal`: create the deal and contact UF_CRM_* fields the configuration
maps to, if missing. Lists the portal's fields first and adds only what is missing, so it is
safe to run again; ``--dry-run`` only lists."""

from __future__ import annotations

from typing import Any

LABELS = {
    "ident_id": "IDENT id", "start": "Reception start", "end": "Reception end",
    "doctor": "Doctor", "services": "Services", "status": "IDENT status",
    "card_number": "Card number", "guardian": "Parent / guardian", "branch": "Branch",
    "chair": "Chair", "patient_id": "IDENT patient id",
}


def ensure_fields(client: Any, entity: str, wanted: dict[str, str], *,
                  dry_run: bool = False, can_add: bool = True) -> tuple[list[str], list[str]]:
    """Returns (added, missing-and-not-added)."""
    have = {str(f.get("FIELD_NAME")) for f in client.call(f"crm.{entity}.userfield.list") or []}
    missing = sorted({code for code in wanted.values() if code not in have})
    if not can_add or dry_run:
        return [], missing
    by_code = {code: logical for logical, code in wanted.items()}
    for code in missing:
        label = LABELS.get(by_code[code], by_code[code])
        # Not retried blindly: a write; a second run lists again and adds what is missing.
        client.call(f"crm.{entity}.userfield.add", {"fields": {
            "FIELD_NAME": code[len("UF_CRM_"):], "USER_TYPE_ID": "string",
            "EDIT_FORM_LABEL": label, "LIST_COLUMN_LABEL": label}})
    return missing, []


def setup_portal(client: Any, cfg: Any, *, dry_run: bool = False,
                 out: Any = print) -> dict[str, tuple[list[str], list[str]]]:
    """Deal and contact fields of every branch's configuration: list, then add the missing."""
    done = {}
    # The contact's patient id field identifies the patient's contact (plan.py): created too.
    contact = {**dict(cfg.contact_fields), "patient_id": cfg.patient_id_field}
    for entity, wanted in (("deal", dict(cfg.deal_fields)), ("contact", contact)):
        added, missing = ensure_fields(client, entity, wanted, dry_run=dry_run)
        done[entity] = (added, missing)
        if dry_run:
            out(f"{entity} fields missing: {', '.join(missing) or 'none'}")
        else:
            out(f"{entity} fields: added {len(added)}"
                f"{' (' + ', '.join(added) + ')' if added else ''}; "
                f"all {len(set(wanted.values()))} present now")
    return done
