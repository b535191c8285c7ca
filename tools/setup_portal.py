#!/usr/bin/env python
"""Create the deal and contact UF_CRM_* fields the configuration maps to, if missing.

    python tools/setup_portal.py --webhook https://portal.bitrix24.ru/rest/1/TOKEN/ [--dry-run]

Safe to run again: it lists the portal's fields first and only adds what is missing. The
webhook may also come from $BITRIX24_WEBHOOK (keeps the token out of shell history).
"""

from __future__ import annotations

import argparse
import os
import sys

from identsync.bitrix24.client import Bitrix24Client
from identsync.settings import load_config

LABELS = {
    "ident_id": "IDENT id", "start": "Reception start", "end": "Reception end",
    "doctor": "Doctor", "services": "Services", "status": "IDENT status",
    "card_number": "Card number", "guardian": "Parent / guardian", "branch": "Branch",
    "chair": "Chair",
}


def ensure_fields(client: Bitrix24Client, entity: str, wanted: dict[str, str], *,
                  dry_run: bool = False, can_add: bool = True) -> tuple[list[str], list[str]]:
    """Returns (added, missing-and-not-added)."""
    have = {str(f.get("FIELD_NAME")) for f in client.call(f"crm.{entity}.userfield.list") or []}
    missing = sorted({code for code in wanted.values() if code not in have})
    if not can_add or dry_run:
        return [], missing
    by_code = {code: logical for logical, code in wanted.items()}
    for code in missing:
        label = LABELS.get(by_code[code], by_code[code])
        client.call(f"crm.{entity}.userfield.add", {"fields": {
            "FIELD_NAME": code[len("UF_CRM_"):], "USER_TYPE_ID": "string",
            "EDIT_FORM_LABEL": label, "LIST_COLUMN_LABEL": label}})
    return missing, []


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--webhook", default=os.environ.get("BITRIX24_WEBHOOK"))
    ap.add_argument("--plan", default=None)
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args(argv)
    if not args.webhook:
        ap.error("--webhook or $BITRIX24_WEBHOOK is required")
    cfg = load_config()
    client = Bitrix24Client(args.webhook, plan=args.plan or cfg.portal_plan)
    added, missing = ensure_fields(client, "deal", cfg.deal_fields, dry_run=args.dry_run)
    print(f"deal fields: added {len(added)}, missing {len(missing)} "
          f"({', '.join(added + missing) or 'all present'})")
    # Contacts' fields are listed, not created: many portals restrict who may add them.
    _, c_missing = ensure_fields(client, "contact", cfg.contact_fields, can_add=False)
    if c_missing:
        print("contact fields missing (create them in the CRM settings, type string): "
              + ", ".join(c_missing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
