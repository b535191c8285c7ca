"""Timeline comments, each distinct text posted exactly once per deal.

The seed kept ``{deal_id: md5}`` in a JSON file and posted before saving the hash, so a crash
in between posted the comment twice, and two processes raced. Here the ledger lives in
PostgreSQL and every post follows the same steps:

1. claim the deals (advisory locks: a second task waits; a crashed task's locks vanish);
2. skip deals whose last posted hash equals the text's hash;
3. an intent left by an attempt that died is reconciled against crm.timeline.comment.list
   (was the comment posted after all?) before anything is posted again;
4. record the intent (committed), post, then record the comment id.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from identsync.errors import Bitrix24Error, CommentsBusy
from identsync.mask import mask
from identsync.state.ledger_claim import comment_hash, decide
from identsync.sync.ports import Ledger

log = logging.getLogger(__name__)

BATCH = 50


@dataclass(frozen=True)
class CommentItem:
    deal_id: int
    ident_id: str
    text: str
    # The deal already shows this record (the upsert changed nothing): when the ledger only
    # knows the old script's comment (an imported hash), that comment said it already.
    quiet_if_imported: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"deal_id": self.deal_id, "ident_id": self.ident_id, "text": self.text,
                "quiet_if_imported": self.quiet_if_imported}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CommentItem:
        return cls(deal_id=int(d["deal_id"]), ident_id=str(d["ident_id"]), text=str(d["text"]),
                   quiet_if_imported=bool(d.get("quiet_if_imported")))


def _adopts_old_comment(item: CommentItem, row: Any) -> bool:
    """Migration from the old script: its md5 hashes are of its own comment texts, which never
    equal ours. A deal it commented that has not changed since gets no new comment: the hash
    of our text takes the old one's place, so only the next change is posted."""
    return (item.quiet_if_imported and row is not None and row.source == "imported"
            and row.pending_hash is None)



def _as_rows(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        value = list(value.values())
    return [v for v in (value or []) if isinstance(v, dict)]


def _find_posted(client: Any, pending: dict[int, Any]) -> dict[int, int]:
    """For deals with a leftover intent: the comment id, where it was posted after all.

    Read-only: lists each deal's timeline for a comment newer than the intent's marker
    whose text has the intent's hash.
    """
    found: dict[int, int] = {}
    ids = sorted(pending)
    for i in range(0, len(ids), BATCH):
        group = ids[i:i + BATCH]
        br = client.batch({
            f"r{d}": ("crm.timeline.comment.list",
                      {"filter": {"ENTITY_ID": d, "ENTITY_TYPE": "deal"},
                       "order": {"ID": "DESC"}})
            for d in group
        })
        for d in group:
            if f"r{d}" in br.errors:
                raise RuntimeError(f"deal {d}: cannot list timeline comments to reconcile: "
                                   f"{br.errors[f'r{d}'].description}")
            row = pending[d]
            after = row.pending_after_comment_id or 0
            for c in _as_rows(br.results.get(f"r{d}")):
                if int(c.get("ID", 0)) > after and comment_hash(str(c.get("COMMENT", ""))) \
                        == row.pending_hash:
                    found[d] = int(c["ID"])
                    break
    return found


def _settle_pending(pending: dict[int, Any], settle_s: float,
                    sleep: Callable[[float], None]) -> None:
    """Give a lost comment post time to land before looking for it (see execute.settle)."""
    if not pending or settle_s <= 0:
        return
    now = datetime.now(timezone.utc)
    ages = [(now - row.pending_since).total_seconds() for row in pending.values()
            if row.pending_since is not None]
    wait = settle_s - min(ages) if ages else 0.0
    if wait > 0:
        log.warning("%d comments were being posted by an attempt that died; waiting %.0fs for "
                    "them to land before reconciling", len(pending), wait)
        sleep(wait)


def _post_locked(client: Any, claim: Any, items: dict[int, CommentItem], counts: Counter,
                 dry_run: bool, settle_s: float = 0.0,
                 sleep: Callable[[float], None] = time.sleep,
                 refused: dict[int, tuple[str, str]] | None = None) -> None:
    rows = claim.rows()
    hashes = {d: comment_hash(it.text) for d, it in items.items()}
    pending = {}
    adopted: dict[int, tuple[str, int | None]] = {}
    to_post: list[int] = []
    for d in sorted(items):
        verdict = decide(hashes[d], rows.get(d))
        if verdict == "skip":
            counts["comments_skipped"] += 1
        elif verdict == "post" and _adopts_old_comment(items[d], rows.get(d)):
            adopted[d] = (hashes[d], None)
        elif verdict == "reconcile":
            pending[d] = rows[d]
        else:
            to_post.append(d)
    if pending:
        _settle_pending(pending, settle_s, sleep)
        found = _find_posted(client, pending)
        counts["comments_reconciled"] += len(found)
        never_posted = [d for d in pending if d not in found]
        if found and not dry_run:
            claim.record_posted({d: (pending[d].pending_hash, cid) for d, cid in found.items()},
                                source="reconciled")
        if never_posted and not dry_run:
            # The crashed attempt's comment is not on the portal: drop its intent so a fresh
            # one (with the current highest comment id) can be recorded below.
            claim.clear_intent(never_posted)
        for d in pending:
            if d in found and pending[d].pending_hash == hashes[d]:
                counts["comments_skipped"] += 1
            else:
                to_post.append(d)
    counts["comments_adopted_from_old_script"] += len(adopted)
    if adopted and not dry_run:
        # "reconciled": matched with what the portal shows, no comment id of ours. Not
        # "imported", so the next change of the record is posted, never adopted again.
        claim.record_posted(adopted, source="reconciled")
    if dry_run:
        counts["comments_would_post"] += len(to_post)
        return
    for i in range(0, len(to_post), BATCH):
        group = to_post[i:i + BATCH]
        after = {d: (rows[d].posted_comment_id if rows.get(d) else None) for d in group}
        claim.record_intent({d: (hashes[d], after[d]) for d in group})
        try:
            br = client.batch({
                f"m{d}": ("crm.timeline.comment.add",
                          {"fields": {"ENTITY_ID": d, "ENTITY_TYPE": "deal",
                                      "COMMENT": items[d].text}})
                for d in group
            })
        except Bitrix24Error as exc:
            if not exc.maybe_applied:
                claim.clear_intent(group)
            # else: the intents stay; the retry reconciles them before posting again.
            raise
        posted = {d: (hashes[d], int(br.results[f"m{d}"])) for d in group
                  if f"m{d}" not in br.errors and f"m{d}" in br.results}
        failed = [d for d in group if d not in posted]
        if posted:
            claim.record_posted(posted, source="posted")
        if failed:
            claim.clear_intent(failed)
            for d in failed:
                err = br.errors.get(f"m{d}")
                # The portal may quote the comment (the patient's name, IDENT's note).
                said = mask(err.description, free=[items[d].text]) if err else "no result"
                log.warning("comment for deal %s (%s) was refused: %s", d, items[d].ident_id,
                            said)
                if refused is not None:
                    refused[d] = (err.code if err else "NO_RESULT", said)
        counts["comments_posted"] += len(posted)
        counts["comments_failed"] += len(failed)


def post_comments(client: Any, ledger: Ledger, items: list[CommentItem], *,
                  dry_run: bool = False, busy_wait_s: float = 60.0, settle_s: float = 0.0,
                  sleep: Callable[[float], None] = time.sleep,
                  refused: dict[int, tuple[str, str]] | None = None) -> Counter:
    """Post each item's text unless the ledger shows it is already on that deal.

    ``refused`` (optional) receives deal id -> (code, description) of comments the portal
    refused, so the caller can queue their records.
    """
    counts: Counter = Counter()
    remaining = {it.deal_id: it for it in items if it.text}
    counts["comments_empty"] += len(items) - len(remaining)
    waited = 0.0
    while remaining:
        with ledger.claim(sorted(remaining)) as claim:
            mine = {d: remaining[d] for d in claim.locked}
            if mine:
                _post_locked(client, claim, mine, counts, dry_run, settle_s, sleep, refused)
            busy = set(claim.busy)
        remaining = {d: remaining[d] for d in busy}
        if remaining:
            if waited >= busy_wait_s:
                raise CommentsBusy(f"{len(remaining)} deals are held by another run "
                                   f"(e.g. deal {min(remaining)}); retry later")
            counts["comments_waited_busy"] += 1
            sleep(1.0)
            waited += 1.0
    return counts
