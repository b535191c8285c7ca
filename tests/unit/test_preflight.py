"""Preflight (configuration vs the portal's stages and fields) and where the configuration
is looked for: pure functions, no portal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from identsync import settings
from identsync.config import SyncConfig
from identsync.errors import ConfigError, Retry, retry_class
from identsync.sync.preflight import PortalFacts, compare, verify_cached

ROOT = Path(__file__).resolve().parents[2]
BASE = json.loads((ROOT / "dags" / "identsync.json").read_text(encoding="utf-8"))
STAGES = ("NEW", "PREPARATION", "PREPAYMENT_INVOICE", "EXECUTING", "FINAL_INVOICE", "WON",
          "LOSE", "APOLOGY")


def cfg(**over) -> SyncConfig:
    return SyncConfig.from_dict({**BASE, **over})


CONTACT = (*BASE["contact_fields"].values(), SyncConfig.from_dict(BASE).patient_id_field)


def facts(category: int = 0, deal=None, contact=None) -> PortalFacts:
    prefix = f"C{category}:" if category else ""
    return PortalFacts(category, tuple(prefix + s for s in STAGES),
                       frozenset(BASE["deal_fields"].values() if deal is None else deal),
                       frozenset(CONTACT if contact is None else contact))


def test_matching_configuration_has_no_mismatch():
    assert compare(cfg(), facts()) == []
    # Outside the default pipeline the configuration may spell stages bare.
    assert compare(cfg(category_id=3), facts(3)) == []


def test_every_wrong_stage_key_named_with_the_valid_ones():
    c = cfg(stage_map={**BASE["stage_map"], "planned": "NEWW"}, final_stages=["WON", "LOST"],
            protected_stages=["NOPE"], deleted_stage="GONE")
    found = {m.key: m for m in compare(c, facts())}
    assert set(found) == {"stage_map.planned", "final_stages[1]", "protected_stages[0]",
                          "deleted_stage"}
    m = found["stage_map.planned"]
    assert m.value == "NEWW" and m.valid == STAGES
    assert "stage_map.planned = 'NEWW'" in str(m) and "PREPARATION" in str(m)


def test_stage_of_another_pipeline_is_wrong():
    found = compare(cfg(category_id=2), facts(3))
    assert {m.key for m in found} >= {"stage_map.planned", "final_stages[0]"}
    assert found[0].valid == STAGES  # shown as the configuration spells them


def test_field_code_typos_and_missing_contact_fields():
    c = cfg(deal_fields={**BASE["deal_fields"], "doctor": "UF_CRM_IDENT_DOCTR"})
    found = {m.key: m for m in compare(c, facts(contact=()))}
    assert {"deal_fields.doctor", "contact_fields.card_number",
            "contact_fields.guardian"} <= set(found)
    assert "UF_CRM_IDENT_DOCTOR" in found["deal_fields.doctor"].valid


class _Store:
    def __init__(self):
        self.rows = {}

    def get_chunk(self, key, no):
        return self.rows[key]

    def put_chunks(self, key, chunks):
        self.rows[key] = chunks[0]


class _Portal:
    """Answers the preflight batch like a portal (the batch shape the client returns)."""

    def __init__(self, stages=STAGES):
        self.calls = 0
        self.stages = stages

    def batch(self, commands, halt=False):
        from identsync.bitrix24.batch import BatchResult

        self.calls += 1
        return BatchResult(results={
            "stages": [{"STATUS_ID": s} for s in self.stages],
            "deal_uf": [{"FIELD_NAME": f} for f in BASE["deal_fields"].values()],
            "contact_uf": [{"FIELD_NAME": f} for f in CONTACT]})


def test_verify_cached_reads_once_per_configuration_and_hour():
    store, portal = _Store(), _Portal()
    assert verify_cached(lambda: portal, cfg(), store, "p", now=1000.0)
    assert not verify_cached(lambda: portal, cfg(), store, "p", now=1000.0 + 3599)
    assert portal.calls == 1
    assert verify_cached(lambda: portal, cfg(), store, "p", now=1000.0 + 3601)
    # A changed configuration is checked at once, and a wrong stage fails, not retried.
    bad = cfg(stage_map={**BASE["stage_map"], "planned": "NEWW"})
    with pytest.raises(ConfigError) as err:
        verify_cached(lambda: portal, bad, store, "p", now=1000.0 + 3602)
    assert "stage_map.planned = 'NEWW'" in str(err.value) and "valid: NEW, " in str(err.value)
    assert retry_class(err.value) is Retry.NEVER


def test_dry_run_checks_but_leaves_no_row():
    store, portal = _Store(), _Portal()
    assert verify_cached(lambda: portal, cfg(), store, "p", now=1.0, remember=False)
    assert store.rows == {} and portal.calls == 1


def test_installed_package_looks_only_in_the_dags_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("IDENTSYNC_CONFIG", raising=False)
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(tmp_path / "dags"))
    # As installed from the wheel: site-packages has no pyproject.toml/src beside it.
    monkeypatch.setattr(settings, "_is_checkout", lambda root=None: False)
    with pytest.raises(ConfigError) as err:
        settings.config_path()
    text = str(err.value)
    assert str(tmp_path / "dags" / "identsync.json") in text and "IDENTSYNC_CONFIG" in text
    assert "lib/python" not in text
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "identsync.json").write_text("{}")
    assert settings.config_path() == tmp_path / "dags" / "identsync.json"


def test_site_packages_is_not_a_checkout(tmp_path):
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    (site / "identsync").mkdir(parents=True)
    assert not settings._is_checkout(site.parent)
    assert settings._is_checkout(ROOT)
