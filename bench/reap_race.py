"""How often a forked child is not reapable yet when its last socket reaches EOF: the race that
makes Airflow 3.3.2's task supervisor sleep ``[workers] min_heartbeat_interval`` after a task
process ends (its loop waits for the sockets, then polls the exit once, then sleeps the
interval with nothing left to wait on). The shipped settings lower that interval to 1 s
(tools/airflow_stack/settings.py).

    .venv/bin/python -m bench.reap_race [-n 200] [--touch-mb 50]

Each child touches some memory (as a task process does), closes one socket itself and exits
with ``os._exit`` (as the task runner does); the parent waits for EOF on both sockets, then
asks once without waiting whether the child can be reaped.
"""

from __future__ import annotations

import argparse
import os
import selectors
import socket

import psutil


def one(touch_mb: int) -> bool:
    """True when the child could not be reaped at the moment its sockets were closed."""
    ours_a, theirs_a = socket.socketpair()
    ours_b, theirs_b = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        ours_a.close()
        ours_b.close()
        memory = bytearray(touch_mb * 1024 * 1024)
        for i in range(0, len(memory), 4096):
            memory[i] = 1
        os.close(theirs_a.fileno())
        os._exit(0)  # theirs_b closes with the process
    theirs_a.close()
    theirs_b.close()
    child = psutil.Process(pid)
    sel = selectors.DefaultSelector()
    for s in (ours_a, ours_b):
        sel.register(s, selectors.EVENT_READ)
    while sel.get_map():
        for key, _ in sel.select(timeout=5):
            if not key.fileobj.recv(64):
                sel.unregister(key.fileobj)
                key.fileobj.close()
    sel.close()
    try:
        child.wait(timeout=0)
        return False
    except psutil.TimeoutExpired:
        child.wait()
        return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--touch-mb", type=int, default=50)
    args = ap.parse_args(argv)
    late = sum(one(args.touch_mb) for _ in range(args.n))
    print(f"{late}/{args.n} children were not reapable yet when their last socket closed "
          f"({late / args.n:.0%}); each would have cost a task's slot the supervisor's "
          f"min_heartbeat_interval")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
