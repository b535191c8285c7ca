"""Fixtures of the chaos tests: a clinic file, a chaos emulator, a state DSN, a client."""

from __future__ import annotations

import pytest

from identsync.config import SyncConfig
from tests.chaos import harness as h

START = h.START


@pytest.fixture
def cfg() -> SyncConfig:
    # Slow faults here take at most 3 s: a lost write has surely landed 4 s later.
    import json

    raw = json.loads(open(h.DEFAULT_CONFIG, encoding="utf-8").read())
    return SyncConfig.from_dict({**raw, "write_settle_seconds": 4})


@pytest.fixture
def small_clinic(tmp_path):
    """60 receptions, 1 day, as the clinic is at 07:00 (nothing happened yet)."""
    path = tmp_path / "ident.sqlite3"
    engine = h.make_clinic(path, seed=5, receptions=60, days=1, start=START,
                           now=h.generation_now(START))
    return path, engine


@pytest.fixture
def chaos_emulator(make_emulator):
    """A private emulator (the chaos webhook token), unlimited plan, no faults yet."""
    return make_emulator(token=h.EMU_TOKEN, plan="unlimited")

