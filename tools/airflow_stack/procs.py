"""The stack's processes: one process group each, a log file each, killed as a machine dies."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def airflow_version() -> str:
    from importlib.metadata import version

    return version("apache-airflow-core")


class StackError(RuntimeError):
    """The stack failed to start, or a wait timed out; the message says where to look."""


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, n: int = 30) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])


@dataclass
class KillRecord:
    worker: str
    at: datetime
    pids: list[int] = field(default_factory=list)


# -- signals ---------------------------------------------------------------------------

def signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def kill_tree(leader: int, pids: Sequence[int]) -> None:
    """SIGKILL the group of ``leader`` and every pid in ``pids`` with its own group (task
    runners): gathered beforehand, so nothing is reparented out of reach in between."""
    signal_group(leader, signal.SIGKILL)
    for pid in pids:
        try:
            pgid = os.getpgid(pid)
        except ProcessLookupError:
            continue
        if pgid == pid:
            signal_group(pid, signal.SIGKILL)
        else:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass




def process_tree(pid: int) -> list[int]:
    import psutil

    try:
        root = psutil.Process(pid)
        return [pid, *(c.pid for c in root.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []

