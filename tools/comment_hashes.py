#!/usr/bin/env python3
"""Operator commands for the comment ledger (replaces editing/removing comment_hashes.json).

    python -m tools.comment_hashes [--dsn DSN] import comment_hashes.json
    python -m tools.comment_hashes [--dsn DSN] reset --all | --deal 123 [--force]
    python -m tools.comment_hashes [--dsn DSN] show --deal 123
    python -m tools.comment_hashes [--dsn DSN] stats

A wrapper for a checkout: the commands live in the package (identsync.cli.comment_hashes;
an installed wheel has them as `identsync import-comment-hashes` / `reset-comment-hashes`).
DSN defaults to $IDENTSYNC_PG_URL. Exit codes: 0 done, 1 done but some input was bad,
2 usage or input error (nothing done), 3 database error or ledger busy.
"""

from __future__ import annotations

import sys

from identsync.cli.comment_hashes import EXIT_BAD_ENTRIES, EXIT_DB, EXIT_USAGE, main

__all__ = ["EXIT_BAD_ENTRIES", "EXIT_DB", "EXIT_USAGE", "main"]

if __name__ == "__main__":
    sys.exit(main())
