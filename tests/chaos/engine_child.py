"""The in-process engine as a child process, so a test can SIGKILL it mid-sync.

    python -m tests.chaos.engine_child '{"ident": ..., "webhook": ..., "dsn": ...,
        "config": ..., "start": ..., "end": ..., "branch": 1, "plan": ..., "timeout": 3}'

Prints ``RESULT {json}`` last: the summary, or ``{"error": ..., "type": ...}`` (exit 3).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    import sqlalchemy as sa

    from identsync.bitrix24.client import Bitrix24Client
    from identsync.config import SyncConfig
    from identsync.state import SyncState
    from identsync.sync.engine import sync_window

    a = json.loads(sys.argv[1])
    cfg = SyncConfig.from_file(a["config"])
    timeout = a.get("timeout") or 3.0
    client = Bitrix24Client(a["webhook"], plan=a.get("plan", "unlimited"),
                            timeout=tuple(timeout) if isinstance(timeout, list) else timeout)
    state = SyncState(a["dsn"])
    state.ensure_schema()
    try:
        summary = sync_window(sa.create_engine(a["ident"]), client, state, cfg,
                              datetime.fromisoformat(a["start"]), datetime.fromisoformat(a["end"]),
                              branch_id=a.get("branch"))
    except Exception as exc:  # reported to the parent, which decides what a failure means
        print("RESULT " + json.dumps({"error": str(exc)[:500], "type": type(exc).__name__,
                                      "http": client.stats.as_dict()}), flush=True)
        return 3
    print("RESULT " + json.dumps(summary.to_dict(), default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
