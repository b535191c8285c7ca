"""The key of :func:`identsync.privacy.keyed_hash`, made once per state database.

The key sits beside the personal data it protects (the state database), never in XCom, logs
or the DAG's configuration: a reader of XCom sees only hashes. ``IDENTSYNC_HASH_KEY`` (hex)
overrides it, for deployments that keep every secret in their secrets backend.
"""

from __future__ import annotations

import os
import secrets

from identsync.privacy import KEY_ENV
from identsync.state.db import schema_lock, transaction

TABLE = "identsync_secret"


class HashKey:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._key: bytes | None = None

    def ensure_schema(self) -> None:
        with transaction(self.dsn, "identsync-secret") as cur:
            schema_lock(cur)
            cur.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ("
                        "name text PRIMARY KEY, value text NOT NULL, "
                        "created_at timestamptz NOT NULL DEFAULT now())")

    def get(self) -> bytes:
        if self._key is None:
            override = os.environ.get(KEY_ENV, "").strip()
            self._key = bytes.fromhex(override) if override else self._stored()
        return self._key

    def _stored(self) -> bytes:
        with transaction(self.dsn, "identsync-secret") as cur:
            # Two first runs at once: ON CONFLICT keeps the first key, both read it back.
            cur.execute(f"INSERT INTO {TABLE} (name, value) VALUES ('hash_key', %s) "
                        "ON CONFLICT (name) DO NOTHING", (secrets.token_hex(32),))
            cur.execute(f"SELECT value FROM {TABLE} WHERE name = 'hash_key'")
            return bytes.fromhex(cur.fetchone()[0])
