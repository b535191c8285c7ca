"""MODELS of the two strategies this project replaces, written by us for the benchmark.

Neither is the original code (we do not have it): both are written from the seed's own
description (../shared/seed/batch-api-and-comment-dedup.md) so their HTTP traffic can be
counted on the same emulator with the same ``Bitrix24Client`` as the engine. They take the
same ``SyncRecord`` list the engine syncs (this project's extract + transform), so only the
Bitrix24 side differs.

(a) ``PerRecordModel`` - before the seed: for every record, one ``crm.contact.list`` by PHONE
    and one ``crm.deal.list`` by the IDENT id field, then ``crm.contact.add`` when no contact
    was found, ``crm.deal.add`` or ``crm.deal.update`` (always: no field comparison), and
    ``crm.timeline.comment.add`` (always: no dedup) - each its own HTTP request.
(b) ``SeedBatchModel`` - the seed: per 20 records one batch of ``crm.contact.list`` commands
    (PHONE filter, one per distinct phone) and one batch of ``crm.deal.list`` commands (one
    per record), then every write and every comment one request each; a comment is skipped
    when the md5 of its text equals the hash kept for that deal (a JSON file, rewritten after
    each comment like the seed's ``comment_hashes.json``). Contacts created earlier in the
    same group of 20 are remembered, which is kinder to (b) than the seed's text implies.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from identsync.config import SyncConfig
from identsync.records import SyncRecord

SEED_BATCH_SIZE = 20  # the seed's API_BATCH_SIZE
CONTACT_SELECT = ["ID", "NAME", "LAST_NAME", "SECOND_NAME", "PHONE"]


def groups(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()  # noqa: S324 - the seed's choice


def contact_fields(r: SyncRecord, cfg: SyncConfig) -> dict[str, Any]:
    fields = dict(r.contact_fields)
    fields["PHONE"] = [{"VALUE": r.phone, "VALUE_TYPE": cfg.phone_value_type}]
    return fields


def deal_fields(r: SyncRecord, contact_id: int | None) -> dict[str, Any]:
    fields = dict(r.deal_fields)
    fields["STAGE_ID"] = r.stage_id
    if contact_id:
        fields["CONTACT_ID"] = contact_id
    return fields


def _first_id(rows: Any) -> int | None:
    if isinstance(rows, dict):  # a PHP map keyed "0".."n"
        rows = list(rows.values())
    for row in rows or []:
        if isinstance(row, dict) and row.get("ID"):
            return int(row["ID"])
    return None


class PerRecordModel:
    """(a) Every lookup, write and comment is its own HTTP request."""

    name = "a"

    def __init__(self, client: Any, cfg: SyncConfig) -> None:
        self.client = client
        self.cfg = cfg

    def find_contact(self, phone: str) -> int | None:
        return _first_id(self.client.call("crm.contact.list", {
            "filter": {"PHONE": phone}, "select": CONTACT_SELECT}))

    def find_deal(self, ident_id: str) -> int | None:
        return _first_id(self.client.call("crm.deal.list", {
            "filter": {self.cfg.ident_id_field: ident_id}, "select": ["ID", "STAGE_ID"]}))

    def sync(self, records: list[SyncRecord]) -> Counter:
        counts: Counter = Counter()
        for r in records:
            contact_id = self.find_contact(r.phone)
            deal_id = self.find_deal(r.ident_id)
            if contact_id is None:
                contact_id = int(self.client.call("crm.contact.add", {
                    "fields": contact_fields(r, self.cfg)}))
                counts["contacts_created"] += 1
            if deal_id is None:
                deal_id = int(self.client.call("crm.deal.add", {
                    "fields": deal_fields(r, contact_id)}))
                counts["deals_created"] += 1
            else:
                self.client.call("crm.deal.update", {"id": deal_id,
                                                     "fields": deal_fields(r, contact_id)})
                counts["deals_updated"] += 1
            if r.comment:
                self.client.call("crm.timeline.comment.add", {"fields": {
                    "ENTITY_ID": deal_id, "ENTITY_TYPE": "deal", "COMMENT": r.comment}})
                counts["comments_posted"] += 1
        return counts


class SeedBatchModel:
    """(b) Batched lookups per 20 records; writes one by one; md5 comment hashes."""

    name = "b"

    def __init__(self, client: Any, cfg: SyncConfig, hashes_file: Path) -> None:
        self.client = client
        self.cfg = cfg
        self.hashes_file = hashes_file
        self.hashes: dict[str, str] = (json.loads(hashes_file.read_text())
                                       if hashes_file.exists() else {})

    def _save_hashes(self) -> None:
        tmp = self.hashes_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.hashes))
        tmp.replace(self.hashes_file)

    def lookup(self, batch: list[SyncRecord]) -> tuple[dict[str, int | None],
                                                       dict[str, int | None]]:
        phones = sorted({r.phone for r in batch})
        contacts = self.client.batch({
            f"p{i}": ("crm.contact.list", {"filter": {"PHONE": p}, "select": CONTACT_SELECT})
            for i, p in enumerate(phones)})
        deals = self.client.batch({
            f"d{i}": ("crm.deal.list", {"filter": {self.cfg.ident_id_field: r.ident_id},
                                        "select": ["ID", "STAGE_ID"]})
            for i, r in enumerate(batch)})
        by_phone = {p: _first_id(contacts.results.get(f"p{i}")) for i, p in enumerate(phones)}
        by_ident = {r.ident_id: _first_id(deals.results.get(f"d{i}"))
                    for i, r in enumerate(batch)}
        return by_phone, by_ident

    def sync(self, records: list[SyncRecord]) -> Counter:
        counts: Counter = Counter()
        for batch in groups(records, SEED_BATCH_SIZE):
            by_phone, by_ident = self.lookup(batch)
            for r in batch:
                contact_id = by_phone.get(r.phone)
                if contact_id is None:
                    contact_id = int(self.client.call("crm.contact.add", {
                        "fields": contact_fields(r, self.cfg)}))
                    by_phone[r.phone] = contact_id
                    counts["contacts_created"] += 1
                deal_id = by_ident.get(r.ident_id)
                if deal_id is None:
                    deal_id = int(self.client.call("crm.deal.add", {
                        "fields": deal_fields(r, contact_id)}))
                    counts["deals_created"] += 1
                else:
                    self.client.call("crm.deal.update", {"id": deal_id,
                                                         "fields": deal_fields(r, contact_id)})
                    counts["deals_updated"] += 1
                if not r.comment:
                    continue
                digest = md5(r.comment)
                if self.hashes.get(str(deal_id)) == digest:
                    counts["comments_skipped"] += 1
                    continue
                self.client.call("crm.timeline.comment.add", {"fields": {
                    "ENTITY_ID": deal_id, "ENTITY_TYPE": "deal", "COMMENT": r.comment}})
                self.hashes[str(deal_id)] = digest
                self._save_hashes()
                counts["comments_posted"] += 1
        return counts
