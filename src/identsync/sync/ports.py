"""The contracts between the per-chunk protocol and what it talks to.

The protocol (``sync/protocol.py``) needs a Bitrix24 portal and a state store; it never
imports either implementation. ``identsync.bitrix24.Bitrix24Client`` is the portal and
``identsync.state.SyncState`` the store, whether the caller is an Airflow task or the
in-process engine. Tests may pass anything that keeps these contracts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from identsync.bitrix24.batch import BatchResult, Command
from identsync.records import Failure


class ClientStats(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


class Portal(Protocol):
    """What the protocol asks of a Bitrix24 client. Reads are retried by the client; a write
    that may have been applied raises with ``maybe_applied=True`` and is never resent."""

    stats: ClientStats

    def batch(self, commands: Mapping[str, Command], halt: bool = False) -> BatchResult: ...

    def list_all(self, method: str, filter: Mapping[str, Any] | None = None,  # noqa: A002
                 select: list[str] | None = None) -> Iterator[dict[str, Any]]: ...


class HeldPhones(Protocol):
    """Advisory locks on a chunk's phones, held while its contacts and deals are written."""

    def stale_since(self, seq: int) -> bool: ...

    def unfinished_write_age(self) -> float | None: ...

    def writing(self) -> AbstractContextManager[None]: ...


class PhoneLocks(Protocol):
    def current_seq(self) -> int: ...

    def hold(self, phones: Iterable[str]) -> AbstractContextManager[HeldPhones]: ...


class LedgerRowLike(Protocol):
    posted_hash: str | None
    posted_comment_id: int | None
    pending_hash: str | None
    pending_since: datetime | None
    pending_after_comment_id: int | None


class LedgerClaim(Protocol):
    """Deals of the comment ledger this run holds; every write goes through the claim."""

    locked: frozenset[int]
    busy: frozenset[int]

    def rows(self) -> dict[int, Any]: ...

    def record_intent(self, intents: Mapping[int, tuple[str, int | None]]) -> None: ...

    def record_posted(self, posted: Mapping[int, tuple[str, int | None]],
                      source: str = "posted") -> None: ...

    def clear_intent(self, deal_ids: Iterable[int]) -> int: ...


class Ledger(Protocol):
    def claim(self, deal_ids: Iterable[int]) -> AbstractContextManager[LedgerClaim]: ...


class Queue(Protocol):
    """Records the portal refused, retried by later runs."""

    def fail(self, pipeline: str, run_id: str, failures: Sequence[Failure], *,
             base_minutes: int, max_attempts: int, task_id: str | None = None,
             map_index: int | None = None) -> dict[str, int]: ...

    def recovered(self, pipeline: str, ident_ids: Iterable[str]) -> int: ...


class FingerprintStore(Protocol):
    def record(self, pipeline: str, fingerprints: Mapping[str, str]) -> int: ...


class ChunkState(Protocol):
    """The parts of the state store one chunk touches."""

    hash_key: bytes  # of the keyed hashes in lookup maps (identsync.privacy)
    guard: PhoneLocks
    ledger: Ledger
    queue: Queue
    fingerprints: FingerprintStore
