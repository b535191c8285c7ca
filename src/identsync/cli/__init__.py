"""The `identsync` command (console script of the wheel): what an operator does by hand.

    identsync check [--skip ident|state|portal]
    identsync setup-portal [--dry-run]
    identsync import-comment-hashes comment_hashes.json
    identsync reset-comment-hashes --all | --deal 123 [--force]
    identsync requeue --all | --branch 1 [--record F1_123 ...]
    identsync migrate [--dsn DSN]

The configuration is found as the DAG finds it ($IDENTSYNC_CONFIG, else identsync.json in
Airflow's DAGs folder); connections are Airflow's (run it where `airflow connections get`
works). ``--dsn`` / $IDENTSYNC_PG_URL and ``--webhook`` / $BITRIX24_WEBHOOK override the
state database and portal connections. Exit codes: 0 fine, 1 a check failed or some input was
bad, 2 usage or configuration error, 3 database error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_FAIL, EXIT_USAGE, EXIT_DB = 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="identsync", description="IDENT -> Bitrix24 sync: "
                                "readiness check and operator commands.")
    p.add_argument("-v", "--verbose", action="store_true", help="log every portal request")
    p.add_argument("--config", type=Path, help="the configuration file (default: "
                   "$IDENTSYNC_CONFIG, else identsync.json in Airflow's DAGs folder)")
    sub = p.add_subparsers(dest="command", required=True)

    def with_dsn(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--dsn", default=os.environ.get("IDENTSYNC_PG_URL"),
                        help="state database DSN (default: $IDENTSYNC_PG_URL, else the "
                             "configuration's state_conn_id Airflow connection)")

    def with_webhook(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--webhook", default=os.environ.get("BITRIX24_WEBHOOK"),
                        help="webhook URL (default: $BITRIX24_WEBHOOK, else the "
                             "configuration's bitrix24_conn_id Airflow connection)")

    c = sub.add_parser("check", help="validate the configuration, every connection and the "
                                     "portal's stages and fields; print what to fix")
    with_dsn(c)
    with_webhook(c)
    c.add_argument("--skip", action="append", choices=("ident", "state", "portal"),
                   default=[], help="leave a check out (repeatable)")

    s = sub.add_parser("setup-portal", help="create the missing deal and contact fields")
    with_webhook(s)
    s.add_argument("--dry-run", action="store_true", help="only list what is missing")

    i = sub.add_parser("import-comment-hashes",
                       help="import the old script's comment_hashes.json {deal_id: md5}")
    with_dsn(i)
    i.add_argument("file", type=Path)

    r = sub.add_parser("reset-comment-hashes",
                       help="forget posted comments so they are posted again")
    with_dsn(r)
    which = r.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every deal")
    which.add_argument("--deal", type=int, help="one deal id")
    r.add_argument("--force", action="store_true",
                   help="reset even while a sync holds claims (may duplicate comments)")

    q = sub.add_parser("requeue", help="give dead records of the retry queue new tries")
    with_dsn(q)
    scope = q.add_mutually_exclusive_group(required=True)
    scope.add_argument("--all", action="store_true", help="every branch")
    scope.add_argument("--branch", type=int, action="append", help="a branch id (repeatable)")
    q.add_argument("--record", action="append",
                   help="only this record's ident id, e.g. F1_123 (repeatable)")
    m = sub.add_parser("migrate", help="bring the state database to this version's schema "
                                       "(each run does it too; back the database up first)")
    with_dsn(m)
    return p


def _config():
    from identsync.settings import load_config

    return load_config()


def _state_dsn(args: argparse.Namespace) -> str:
    if args.dsn:
        return args.dsn
    from identsync.dag.connections import state_dsn

    return state_dsn(_config().state_conn_id)


def _client(args: argparse.Namespace, cfg):
    if args.webhook:
        from identsync.bitrix24.client import Bitrix24Client

        return Bitrix24Client(args.webhook, plan=cfg.portal_plan)
    from identsync.hooks.bitrix24 import Bitrix24Hook

    return Bitrix24Hook(bitrix24_conn_id=cfg.bitrix24_conn_id,
                        default_plan=cfg.portal_plan).get_conn()


def _run(args: argparse.Namespace) -> int:
    if args.command == "check":
        from identsync.cli.check import render, run_checks

        items = run_checks(state_dsn=args.dsn, webhook=args.webhook, skip=args.skip)
        print(render(items))
        return 0 if all(i.ok for i in items) else EXIT_FAIL
    if args.command == "setup-portal":
        from identsync.cli.portal_setup import setup_portal

        cfg = _config()
        setup_portal(_client(args, cfg), cfg, dry_run=args.dry_run)
        return 0
    if args.command in ("import-comment-hashes", "reset-comment-hashes"):
        from identsync.cli import comment_hashes

        ns = argparse.Namespace(
            dsn=_state_dsn(args), table="identsync_comment_ledger",
            command="import" if args.command.startswith("import") else "reset",
            file=getattr(args, "file", None), all=getattr(args, "all", False),
            deal=getattr(args, "deal", None), force=getattr(args, "force", False))
        return comment_hashes.run(ns)
    if args.command == "requeue":
        from identsync.cli.requeue import requeue
        from identsync.state.queue import RetryQueue

        cfg = _config()
        queue = RetryQueue(_state_dsn(args))
        queue.ensure_schema()
        requeue(queue, cfg, branches=None if args.all else args.branch, records=args.record)
        return 0
    if args.command == "migrate":
        from identsync.errors import StateSchemaTooNew
        from identsync.state.migrations import LATEST, migrate

        try:
            applied = migrate(_state_dsn(args))
        except StateSchemaTooNew as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAIL
        print(f"state database schema at version {LATEST}: " + (
            "applied " + ", ".join(map(str, applied)) if applied else "nothing to do"))
        return 0
    raise AssertionError(args.command)


def _quiet() -> None:
    """The table is the output: per-request log lines only with --verbose. Airflow sets its
    logging up when first imported, so that happens first, then our loggers are lowered."""
    import logging

    try:
        import airflow.sdk  # noqa: F401
    except ImportError:
        pass
    for name in ("identsync", "airflow.task.hooks"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.config is not None:
        os.environ["IDENTSYNC_CONFIG"] = str(args.config)
    if not args.verbose:
        _quiet()
    import psycopg2

    from identsync.bitrix24.redact import scrub
    from identsync.errors import Bitrix24Error, ConfigError, ConnectionConfigError

    try:
        return _run(args)
    except (ConfigError, ConnectionConfigError, ValueError) as exc:
        print(f"error: {scrub(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except psycopg2.Error as exc:
        print(f"database error: {str(exc).strip()}", file=sys.stderr)
        return EXIT_DB
    except Bitrix24Error as exc:
        print(f"portal error: {scrub(str(exc))}", file=sys.stderr)
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
