"""CLI: python -m b24emu --port 8024 --token T ..."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from b24emu.config import PLANS
from b24emu.server import EmulatorServer


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="b24emu", description="Local Bitrix24 portal emulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8024)
    p.add_argument("--token", default="T", help="webhook token (the secret in the URL path)")
    p.add_argument("--user-id", type=int, default=1)
    p.add_argument("--plan", choices=sorted(PLANS), default="standard")
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--jitter-ms", type=float, default=0.0)
    p.add_argument("--state", default=None, help="SQLite file for write-through persistence")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--faults", default=None, help='JSON, e.g. {"http_500": 0.05}')
    p.add_argument("--operating-limit-s", type=float, default=0.0)
    p.add_argument("--keep-undeclared-fields", action="store_true",
                   help="store UF_CRM_* fields never declared (a real portal drops them)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    faults = json.loads(args.faults) if args.faults else None
    server = EmulatorServer(
        token=args.token, user_id=args.user_id, plan=args.plan, port=args.port, host=args.host,
        state_path=args.state, latency_ms=args.latency_ms, jitter_ms=args.jitter_ms,
        seed=args.seed, faults=faults, operating_limit_s=args.operating_limit_s,
        keep_undeclared_fields=args.keep_undeclared_fields,
    ).start()
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    # The token is the secret: print the path shape, not the token itself.
    print(f"b24emu listening on {server.base_url} (webhook /rest/{args.user_id}/<token>/, "
          f"plan {args.plan})", flush=True)
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
