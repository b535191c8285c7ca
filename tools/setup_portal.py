#!/usr/bin/env python
"""Create the deal and contact UF_CRM_* fields the configuration maps to, if missing.

    python -m tools.setup_portal --webhook https://portal.bitrix24.ru/rest/1/TOKEN/ [--dry-run]

Safe to run again: it lists the portal's fields first and only adds what is missing. The
webhook may also come from $BITRIX24_WEBHOOK (keeps the token out of shell history).
A wrapper for a checkout: the logic lives in the package (identsync.cli.portal_setup; an
installed wheel has it as `identsync setup-portal`).
"""

from __future__ import annotations

import argparse
import os
import sys

from identsync.bitrix24.client import Bitrix24Client
from identsync.cli.portal_setup import LABELS, ensure_fields, setup_portal
from identsync.settings import load_config

__all__ = ["LABELS", "ensure_fields", "main"]


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
    setup_portal(client, cfg, dry_run=args.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
