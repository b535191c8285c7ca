"""`make test` sets up what it needs by itself; `.ci/run` adds nothing to it (issue 21, 1).

The ensure scripts run for real: a Redis that is down gets started, a missing program is named
with the command that installs it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"


def make_test_commands() -> list[str]:
    """The recipe `make test` runs (dry run: nothing is executed)."""
    out = subprocess.run(["make", "-n", "-W", "requirements.txt", "test"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def test_make_test_sets_up_services_and_browser_before_pytest() -> None:
    lines = make_test_commands()
    pytest_at = next(i for i, line in enumerate(lines) if "-m pytest" in line)
    for script in ("ensure_postgres.sh", "ensure_redis.sh", "ensure_chromium.sh"):
        at = [i for i, line in enumerate(lines) if line == f"./tools/{script}"]
        assert at and at[0] < pytest_at, f"make test does not run tools/{script} before pytest"


def test_ci_run_is_make_test_in_a_clean_clone_and_installs_nothing() -> None:
    text = (ROOT / ".ci" / "run").read_text()
    code = [line for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    for forbidden in ("apt-get", "apt ", "pip install", "playwright install", "dnf ", "yum "):
        assert not any(forbidden in line for line in code), f".ci/run installs: {forbidden!r}"
    assert code[-1].strip() == "make test"
    assert any("git clone" in line for line in code)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis(port: int, command: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(command + b"\r\n")
        try:
            return s.recv(64)
        except ConnectionResetError:  # SHUTDOWN closes without answering
            return b""


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_ensure_redis_starts_a_redis_that_is_down() -> None:
    port = _free_port()
    env = {**os.environ, "IDENTSYNC_REDIS": f"redis://127.0.0.1:{port}/3"}
    with pytest.raises(OSError):
        _redis(port, b"PING")
    proc = subprocess.run([str(TOOLS / "ensure_redis.sh")], env=env, capture_output=True,
                          text=True, timeout=60)
    try:
        assert proc.returncode == 0, proc.stderr
        assert f"127.0.0.1:{port} is down; starting redis-server" in proc.stderr
        assert _redis(port, b"PING").startswith(b"+PONG")
        # Up now: a second call is quiet and starts nothing.
        again = subprocess.run([str(TOOLS / "ensure_redis.sh")], env=env, capture_output=True,
                               text=True, timeout=60)
        assert again.returncode == 0 and again.stderr == ""
    finally:
        try:
            _redis(port, b"SHUTDOWN NOSAVE")
        except OSError:
            pass


def test_ensure_redis_names_an_unreachable_remote_server() -> None:
    env = {**os.environ, "IDENTSYNC_REDIS": "redis://redis.invalid:6379"}
    proc = subprocess.run([str(TOOLS / "ensure_redis.sh")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1
    assert "No Redis at redis.invalid:6379" in proc.stderr and "IDENTSYNC_REDIS" in proc.stderr


def test_ensure_apt_says_what_is_missing_and_how_to_get_it_when_not_root() -> None:
    """Not root: nothing can be installed, so the message names the program and the command."""
    script = TOOLS / "ensure_apt.sh"
    with tempfile.TemporaryDirectory() as tmp:
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                pytest.skip("root without setpriv: cannot drop to a plain user")
            # The clone may sit in a folder only root can enter (CI's mktemp -d is 0700):
            # the plain user runs a copy from a folder it can read.
            os.chmod(tmp, 0o755)
            script = Path(shutil.copy(script, Path(tmp) / "ensure_apt.sh"))
            os.chmod(script, 0o755)
        cmd = [str(script), "chromium", "/nonexistent/chromium", "the UI tests"]
        if os.geteuid() == 0:
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "MISSING: /nonexistent/chromium (the UI tests)" in proc.stderr
    assert "apt-get install -y chromium" in proc.stderr


def test_ensure_apt_is_quiet_when_the_program_is_there() -> None:
    proc = subprocess.run([str(TOOLS / "ensure_apt.sh"), "bash", "bash", "a shell"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == proc.stderr == ""


def test_ensure_chromium_uses_debians_browser_path_of_the_ui_tests() -> None:
    from tests.fixtures.ui import CHROMIUM

    text = (TOOLS / "ensure_chromium.sh").read_text()
    assert f"chromium {CHROMIUM} " in text
