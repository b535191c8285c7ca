"""Operator commands for the comment ledger (replaces editing/removing comment_hashes.json).

    identsync import-comment-hashes [--dsn DSN] comment_hashes.json
    identsync reset-comment-hashes [--dsn DSN] --all | --deal 123 [--force]
    python -m tools.comment_hashes [--dsn DSN] import|reset|show|stats ...   (the same)

DSN defaults to $IDENTSYNC_PG_URL. Exit codes: 0 done, 1 done but some input was bad,
2 usage or input error (nothing done), 3 database error or ledger busy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import psycopg2

from identsync.state.ledger import CommentLedger, LedgerBusy, LedgerError

EXIT_BAD_ENTRIES, EXIT_USAGE, EXIT_DB = 1, 2, 3


def _parser(prog: str = "python -m tools.comment_hashes") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Manage the identsync comment ledger.")
    p.add_argument("--dsn", default=os.environ.get("IDENTSYNC_PG_URL"),
                   help="PostgreSQL DSN (default: $IDENTSYNC_PG_URL)")
    p.add_argument("--table", default="identsync_comment_ledger", help=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", required=True)

    imp = sub.add_parser("import", help="import an old comment_hashes.json {deal_id: md5}")
    imp.add_argument("file", type=Path)

    reset = sub.add_parser("reset", help="forget posted comments so they are posted again")
    which = reset.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every deal")
    which.add_argument("--deal", type=int, help="one deal id")
    reset.add_argument("--force", action="store_true",
                       help="reset even while a sync holds claims (may duplicate comments)")

    show = sub.add_parser("show", help="show the ledger row of one deal")
    show.add_argument("--deal", type=int, required=True)

    sub.add_parser("stats", help="row counts")
    return p


def _fmt(value: object) -> str:
    return "-" if value is None else str(value)


def _cmd_import(ledger: CommentLedger, path: Path) -> int:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        print(f"error: file not found: {path}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        print(f"error: cannot read {path} as JSON: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not isinstance(data, dict):
        print(f"error: {path} must hold a JSON object {{deal_id: md5}}, "
              f"got {type(data).__name__}", file=sys.stderr)
        return EXIT_USAGE
    ledger.ensure_schema()
    report = ledger.import_hashes(data)
    print(f"imported from {path}: {report.inserted} new, {report.updated} updated, "
          f"{report.kept} kept (newer rows written by the sync), {len(report.bad)} rejected")
    for key, why in sorted(report.bad.items()):
        print(f"  rejected {key!r}: {why}", file=sys.stderr)
    return EXIT_BAD_ENTRIES if report.bad else 0


def _cmd_reset(ledger: CommentLedger, all_: bool, deal: int | None, force: bool) -> int:
    if deal is not None and deal <= 0:
        print("error: --deal must be a positive integer", file=sys.stderr)
        return EXIT_USAGE
    ledger.ensure_schema()
    n = ledger.reset(None if all_ else deal, force=force)
    what = "all deals" if all_ else f"deal {deal}"
    print(f"reset {what}: {n} row(s) deleted; their comments will be posted again")
    return 0


def _cmd_show(ledger: CommentLedger, deal: int) -> int:
    if deal <= 0:
        print("error: --deal must be a positive integer", file=sys.stderr)
        return EXIT_USAGE
    ledger.ensure_schema()
    row = ledger.rows([deal]).get(deal)
    if row is None:
        print(f"deal {deal}: no ledger row (next comment will be posted)")
        return 0
    print(f"deal {deal}")
    print(f"  posted_hash        {_fmt(row.posted_hash)}")
    print(f"  posted_comment_id  {_fmt(row.posted_comment_id)}")
    print(f"  posted_at          {_fmt(row.posted_at)}")
    print(f"  source             {_fmt(row.source)}")
    print(f"  pending_hash       {_fmt(row.pending_hash)}")
    print(f"  pending_since      {_fmt(row.pending_since)}")
    print(f"  pending_after_id   {_fmt(row.pending_after_comment_id)}")
    print(f"  updated_at         {_fmt(row.updated_at)}")
    return 0


def _cmd_stats(ledger: CommentLedger) -> int:
    ledger.ensure_schema()
    s = ledger.stats()
    by = s["by_source"]
    print(f"rows {s['rows']}  pending {s['pending']}  claimed now {s['claimed_now']}")
    print(f"  posted {by['posted']}  imported {by['imported']}  reconciled {by['reconciled']}")
    if s["oldest_pending_since"] is not None:
        print(f"  oldest pending since {s['oldest_pending_since']}")
    return 0


def main(argv: list[str] | None = None, prog: str = "python -m tools.comment_hashes") -> int:
    return run(_parser(prog).parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run a parsed command (``identsync`` builds the same namespace with its own parser)."""
    if not args.dsn:
        print("error: no database: pass --dsn or set IDENTSYNC_PG_URL", file=sys.stderr)
        return EXIT_USAGE
    try:
        ledger = CommentLedger(args.dsn, table=args.table)
        if args.command == "import":
            return _cmd_import(ledger, args.file)
        if args.command == "reset":
            return _cmd_reset(ledger, args.all, args.deal, args.force)
        if args.command == "show":
            return _cmd_show(ledger, args.deal)
        return _cmd_stats(ledger)
    except LedgerBusy as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_DB
    except (LedgerError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except psycopg2.Error as exc:
        # psycopg2 messages name host/port/user, never the password.
        print(f"database error: {str(exc).strip()}", file=sys.stderr)
        return EXIT_DB

