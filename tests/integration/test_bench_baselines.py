"""The seed's strategies as modelled for the benchmark, counted on the real emulator."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from bench.baselines import PerRecordModel, SeedBatchModel
from identsync.bitrix24.client import Bitrix24Client
from identsync.config import SyncConfig
from identsync.ident.extract import extract_receptions
from identsync.sync.prepare import prepare
from tools.ident_demo.clinic import create_schema, generate_clinic

CFG = SyncConfig.from_dict({"branches": [{"id": 1, "name": "A"}]})


@pytest.fixture(scope="module")
def records():
    engine = sa.create_engine("sqlite://")
    create_schema(engine)
    generate_clinic(engine, seed=5, receptions=30, patients=12, start=date(2026, 11, 20),
                    branches=((1, "A"),))
    rows = list(extract_receptions(engine, datetime(2026, 10, 1), datetime(2027, 1, 1),
                                   branch_id=1))
    chunks, rejected, _ = prepare(rows, CFG)
    assert not rejected
    return [r for c in chunks for r in c]


def test_per_record_model_makes_one_request_per_call(emulator, records):
    client = Bitrix24Client(emulator.webhook_url, plan="unlimited")
    counts = PerRecordModel(client, CFG).sync(records)
    phones = {r.phone for r in records}
    assert counts["contacts_created"] == len(phones)  # matched by phone alone
    assert counts["deals_created"] == counts["comments_posted"] == len(records)
    assert client.stats.http_requests == 2 * len(records) + len(phones) + 2 * len(records)
    again = PerRecordModel(client, CFG).sync(records)  # re-sync: update + comment again
    assert again["deals_updated"] == again["comments_posted"] == len(records)
    assert len(emulator.dump("comment")) == 2 * len(records)


def test_seed_model_batches_lookups_and_skips_repeated_comments(emulator, records, tmp_path):
    client = Bitrix24Client(emulator.webhook_url, plan="unlimited")
    hashes = tmp_path / "comment_hashes.json"
    first = SeedBatchModel(client, CFG, hashes).sync(records)
    groups = -(-len(records) // 20)
    writes = first["contacts_created"] + first["deals_created"] + first["comments_posted"]
    assert client.stats.http_requests == 2 * groups + writes
    before = client.stats.http_requests
    again = SeedBatchModel(client, CFG, hashes).sync(records)  # hashes read back from file
    assert again["comments_skipped"] == len(records) and again["comments_posted"] == 0
    assert again["deals_updated"] == len(records)  # the seed updates without comparing
    assert client.stats.http_requests - before == 2 * groups + len(records)
    assert len(emulator.dump("comment")) == len(records)
