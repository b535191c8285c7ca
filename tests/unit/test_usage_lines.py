"""Usage lines work as written (issue 21, 3): `python tools/demo.py run` failed with
``ModuleNotFoundError: b24emu``; every command the docs show is `python -m <module>`, run from
the clone, and each of them answers --help."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "Makefile", *sorted((ROOT / "docs").rglob("*.md")),
        *sorted((ROOT / "tests").rglob("README.md")),
        *(p for d in ("tools", "bench", "b24emu") for ext in ("*.py", "*.md")
          for p in sorted((ROOT / d).rglob(ext)))]
SCRIPT = re.compile(r"python[0-9.]*\s+(?:\./)?(?:tools|bench|b24emu)/[\w/]+\.py")
MODULE = re.compile(r"python[0-9.]* -m ((?:tools|bench|b24emu)(?:\.\w+)*)")


def _texts() -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in DOCS if p.is_file()}


def test_no_usage_line_runs_a_file_by_path() -> None:
    found = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p, text in _texts().items()
             for m in SCRIPT.finditer(text)]
    assert not found, "run these as python -m <module>: " + "; ".join(found)


MODULES = sorted({m.group(1) for text in _texts().values() for m in MODULE.finditer(text)})


def test_the_docs_show_the_demo_as_a_module() -> None:
    assert "tools.demo" in MODULES


#: Steps other commands run, reading a JSON spec on stdin: they have no --help.
STDIN_ONLY = {"bench.cell"}


@pytest.mark.parametrize("module", MODULES)
def test_each_usage_module_runs_from_the_clone(module: str) -> None:
    if module in STDIN_ONLY:
        args = ["-c", f"import runpy; runpy.run_module({module!r}, run_name='x')"]
        proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return
    proc = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage:" in proc.stdout.lower()
