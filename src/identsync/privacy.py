"""Keyed hashes of personal data.

Whatever leaves the state database (XCom lookup maps, phone locks, log correlation ids) names a
phone or a name only by a keyed hash. A plain hash would not do: Russian mobile numbers are
about 10^10 values, which anyone who can read XCom enumerates in minutes; without the key the
hash tells them nothing.
"""

from __future__ import annotations

import hashlib
import hmac

KEY_ENV = "IDENTSYNC_HASH_KEY"  # hex; overrides the key kept in the state database


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 of ``value`` under ``key``, 128 bits in hex (collisions are out of reach
    for a clinic's few hundred thousand values)."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
