"""The engine against the real emulator (HTTP) and real PostgreSQL, on a generated clinic."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from identsync.bitrix24.client import Bitrix24Client
from identsync.config import SyncConfig
from identsync.errors import Bitrix24Error
from identsync.ident.extract import extract_receptions
from identsync.sync.comments import CommentItem, post_comments
from identsync.sync.engine import sync_window
from identsync.sync.phones import normalize_phone
from identsync.sync.plan import name_key
from identsync.sync.prepare import prepare
from tools.ident_demo.clinic import create_schema, generate_clinic
from tools.ident_demo.days import advance_day

# The emulator commits before it drops a connection: nothing stays in flight, no settling.
CFG = SyncConfig.from_dict({"branches": [{"id": 1, "name": "A"}, {"id": 2, "name": "B"}],
                            "write_settle_seconds": 0})
WIDE = (datetime(2026, 11, 1), datetime(2027, 1, 1))
START = date(2026, 11, 20)


@pytest.fixture
def clinic():
    engine = sa.create_engine("sqlite://")
    create_schema(engine)
    generate_clinic(engine, seed=7, receptions=160, patients=70, start=START, days=3,
                    now=datetime(2026, 11, 21, 12, 0))
    return engine


@pytest.fixture
def client(emulator):
    return Bitrix24Client(emulator.webhook_url, plan="unlimited")


def writes(stats_before: dict, stats_after: dict) -> dict[str, int]:
    out = {}
    for method, n in stats_after["by_method"].items():
        if method.rsplit(".", 1)[-1] in ("add", "update"):
            d = n - stats_before["by_method"].get(method, 0)
            if d:
                out[method] = d
    return out


def sync(clinic, client, state, branch=1):
    return sync_window(clinic, client, state, CFG, *WIDE, branch_id=branch)


def expected(clinic, branch=1):
    """Receptions changed in the window, and those (planned from patient_receptions_days
    before it) of patients whose card changed in it."""
    since = WIDE[0] - timedelta(days=CFG.patient_receptions_days)
    rows = list(extract_receptions(clinic, *WIDE, branch_id=branch, patient_since=since))
    chunks, rejections, _ = prepare(rows, CFG, branch_id=branch)
    return [r for c in chunks for r in c], rejections


def test_first_sync_creates_exactly_the_expected_entities(clinic, client, state, emulator):
    records, _ = expected(clinic)
    summary = sync(clinic, client, state)
    c = summary.counts
    deals = emulator.control.dump("deal")
    contacts = emulator.control.dump("contact")
    comments = emulator.control.dump("comment")

    idf = CFG.ident_id_field
    assert sorted(d[idf] for d in deals) == sorted(r.ident_id for r in records)
    persons = {(r.phone, name_key(r.last_name, r.name, r.second_name)) for r in records}
    assert len(contacts) == len(persons) == c["contacts_created"]
    portal_persons = {
        (normalize_phone(p["VALUE"], "RU"), name_key(k["LAST_NAME"], k["NAME"], k["SECOND_NAME"]))
        for k in contacts for p in k["PHONE"]}
    assert portal_persons == persons
    # Families: at least one phone shared by two different people, as separate contacts.
    by_phone = Counter(phone for phone, _ in persons)
    assert max(by_phone.values()) >= 2
    # Every deal links to the contact of its patient.
    contact_of = {k["ID"]: k for k in contacts}
    rec = {r.ident_id: r for r in records}
    for d in deals:
        k = contact_of[str(d["CONTACT_ID"])]
        r = rec[d[idf]]
        assert name_key(k["LAST_NAME"], k["NAME"], k["SECOND_NAME"]) == \
            name_key(r.last_name, r.name, r.second_name)
        assert d["STAGE_ID"] == r.stage_id
    assert Counter(int(x["ENTITY_ID"]) for x in comments) == Counter(int(d["ID"]) for d in deals)
    assert c["comments_posted"] == len(records)
    # A chunk costs: 1 lookup + its write batches + 1 comment batch.
    assert summary.http["http_requests"] <= c["chunks"] * 4


def test_second_sync_writes_and_posts_nothing(clinic, client, state, emulator):
    first = sync(clinic, client, state)
    before = emulator.stats_snapshot()
    again = sync(clinic, client, state)
    after = emulator.stats_snapshot()
    assert writes(before, after) == {}
    # Nothing changed since it was written: every record is skipped before the lookup.
    assert again.counts["unchanged_skipped"] == first.counts["records"] > 0
    assert again.counts["records"] == 0
    assert after["http_requests"] == before["http_requests"]


def test_full_check_looks_everything_up_and_still_writes_nothing(clinic, client, state,
                                                                 emulator):
    sync(clinic, client, state)
    before = emulator.stats_snapshot()
    again = sync_window(clinic, client, state, CFG, *WIDE, branch_id=1, full_check=True)
    after = emulator.stats_snapshot()
    assert writes(before, after) == {}
    assert again.counts["unchanged_skipped"] == 0
    assert again.counts["deals_unchanged"] == again.counts["records"] > 0
    assert again.counts["comments_skipped"] == again.counts["records"]
    assert again.http["http_requests"] == again.counts["chunks"]  # one lookup per chunk


def test_next_day_updates_only_what_changed(clinic, client, state, emulator):
    first, _ = expected(clinic)
    sync(clinic, client, state)
    changed = advance_day(clinic, seed=8, now=datetime(2026, 11, 22, 18, 0))
    assert sum(v for v in changed.values() if isinstance(v, int)) > 0
    second, _ = expected(clinic)
    before_recs = {r.ident_id: r for r in first}
    new_comment = [r for r in second if r.ident_id not in before_recs
                   or before_recs[r.ident_id].comment != r.comment]
    deals_before = {d[CFG.ident_id_field]: d for d in
                    emulator.control.dump("deal")}
    before = emulator.stats_snapshot()
    summary = sync(clinic, client, state)
    after = emulator.stats_snapshot()
    # Records equal to what was written are skipped before the lookup; the others are
    # looked up, and only those whose text changed get a comment.
    unchanged = [r for r in second if before_recs.get(r.ident_id) == r]
    assert summary.counts["unchanged_skipped"] == len(unchanged)
    assert summary.counts["records"] == len(second) - len(unchanged)
    assert summary.counts["comments_posted"] == len(new_comment) > 0
    assert summary.counts["comments_skipped"] == summary.counts["records"] - len(new_comment)
    # Deals are written only when their mapped fields or stage differ.
    changed_deals = [r for r in second if r.ident_id in deals_before and (
        before_recs[r.ident_id].deal_fields != r.deal_fields
        or before_recs[r.ident_id].stage_id != r.stage_id)]
    w = writes(before, after)
    assert w.get("crm.deal.update", 0) == summary.counts["deals_updated"] == len(changed_deals)
    new_ids = [r for r in second if r.ident_id not in deals_before]
    assert w.get("crm.deal.add", 0) == len(new_ids)
    # Per deal: one comment per distinct text, in order, none twice.
    comments = emulator.control.dump("comment")
    per_deal = Counter((int(x["ENTITY_ID"]), x["COMMENT"]) for x in comments)
    assert max(per_deal.values()) == 1


def test_closed_deal_stays_closed(clinic, client, state, emulator):
    sync(clinic, client, state)
    deals = emulator.control.dump("deal")
    target = deals[0]
    client.call("crm.deal.update", {"id": target["ID"], "fields": {"STAGE_ID": "LOSE"}})
    with clinic.begin() as conn:  # the patient shows up after all: source says arrived
        conn.execute(sa.text('UPDATE "Receptions" SET "PatientAppeared" = :t, '
                             '"DateTimeChanged" = :t, "ReceptionCanceled" = NULL '
                             'WHERE "ID" = :id'),
                     {"t": datetime(2026, 11, 22, 9, 0),
                      "id": int(target[CFG.ident_id_field].split("_")[1])})
    summary = sync(clinic, client, state)
    again = client.call("crm.deal.get", {"id": target["ID"]})
    assert again["STAGE_ID"] == "LOSE"
    assert summary.counts["deals_kept_closed"] >= 1


def test_deal_write_applied_then_dropped_is_not_duplicated(clinic, client, state, emulator):
    emulator.control.faults(
        {"script": [{"method": "crm.deal.add", "fault": "applied_then_drop", "times": 1}]})
    summary = sync(clinic, client, state)
    records, _ = expected(clinic)
    deals = emulator.control.dump("deal")
    idents = Counter(d[CFG.ident_id_field] for d in deals)
    assert max(idents.values()) == 1 and len(idents) == len(records)
    assert summary.counts["write_rounds_replanned"] == 1
    contacts = emulator.control.dump("contact")
    keys = Counter((p["VALUE"], name_key(k["LAST_NAME"], k["NAME"], k["SECOND_NAME"]))
                   for k in contacts for p in k["PHONE"])
    assert max(keys.values()) == 1


def test_comment_posted_but_not_recorded_is_not_posted_again(clinic, client, state, emulator):
    # Deals exist first; then every comment batch "applies then drops": the comments are on the
    # portal, the client sees a dropped connection, the ledger holds only intents.
    emulator.control.faults({"script": [
        {"method": "crm.timeline.comment.add", "fault": "applied_then_drop", "times": 1}]})
    with pytest.raises(Bitrix24Error) as err:
        sync(clinic, client, state)
    assert err.value.maybe_applied
    posted_once = emulator.control.dump("comment")
    assert posted_once, "the fault must have applied the first comment batch"
    summary = sync(clinic, client, state)  # the retry
    comments = emulator.control.dump("comment")
    per_deal = Counter(int(x["ENTITY_ID"]) for x in comments)
    deals = emulator.control.dump("deal")
    assert per_deal == Counter(int(d["ID"]) for d in deals)  # exactly one each
    assert summary.counts["comments_reconciled"] == len(posted_once)


def test_two_claims_on_one_deal_post_once(client, state, emulator):
    deal = client.call("crm.deal.add", {"fields": {"TITLE": "x"}})
    item = CommentItem(deal_id=int(deal), ident_id="F1_1", text="Визит завершён")
    with state.ledger.claim([int(deal)]):  # another run holds the deal...
        with pytest.raises(Exception, match="held by another run"):
            post_comments(client, state.ledger, [item], busy_wait_s=2, sleep=lambda s: None)
    assert post_comments(client, state.ledger, [item])["comments_posted"] == 1
    assert post_comments(client, state.ledger, [item])["comments_skipped"] == 1
    comments = emulator.control.dump("comment")
    assert len(comments) == 1
