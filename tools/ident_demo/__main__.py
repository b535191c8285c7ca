"""Create or advance a demo IDENT clinic from the command line.

    python -m tools.ident_demo create --url sqlite:///var/ident_demo.sqlite3 \\
        --receptions 1000 --days 3 --start 2026-11-20 --seed 1
    python -m tools.ident_demo advance --url ... --now 2026-11-23T18:00
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import create_engine

from tools.ident_demo.clinic import drop_schema, generate_clinic
from tools.ident_demo.days import advance_day


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.ident_demo",
                                description="Synthetic IDENT clinic database")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create", help="create tables and generate a clinic")
    c.add_argument("--url", required=True, help="SQLAlchemy URL (sqlite:///..., postgresql://)")
    c.add_argument("--receptions", type=int, default=1000)
    c.add_argument("--patients", type=int, default=None, help="default: receptions / 5")
    c.add_argument("--days", type=int, default=3)
    c.add_argument("--start", type=date.fromisoformat, default=date(2026, 11, 20))
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--now", type=datetime.fromisoformat, default=None,
                   help="clinic-local time the data reflects (default: midday, middle day)")
    c.add_argument("--replace", action="store_true", help="drop the IDENT tables first")
    a = sub.add_parser("advance", help="move the clinic forward to --now")
    a.add_argument("--url", required=True)
    a.add_argument("--now", type=datetime.fromisoformat, required=True)
    a.add_argument("--since", type=datetime.fromisoformat, default=None)
    a.add_argument("--seed", type=int, default=1)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    engine = create_engine(args.url)
    try:
        if args.cmd == "create":
            if args.replace:
                drop_schema(engine)
            counts = generate_clinic(
                engine, seed=args.seed, receptions=args.receptions,
                patients=args.patients or max(20, args.receptions // 5),
                start=args.start, days=args.days, now=args.now,
            )
        else:
            counts = advance_day(engine, seed=args.seed, now=args.now, since=args.since)
    finally:
        engine.dispose()
    print(json.dumps(counts, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
