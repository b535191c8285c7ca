import json

import pytest

from identsync.config import ConfigError, SyncConfig

BASE = {"branches": [{"id": 1, "name": "Main"}]}


def test_defaults_are_valid():
    cfg = SyncConfig.from_dict(BASE)
    assert cfg.chunk_size == 50
    assert cfg.ident_id_field == "UF_CRM_IDENT_ID"
    assert cfg.stage_code("WON") == "WON"


def test_category_prefixes_stage():
    cfg = SyncConfig.from_dict({**BASE, "category_id": 3})
    assert cfg.stage_code("NEW") == "C3:NEW"
    assert cfg.stage_code("C3:NEW") == "C3:NEW"


@pytest.mark.parametrize(
    "patch, key",
    [
        ({"branches": []}, "branches"),
        ({"branches": [{"id": 0, "name": "x"}]}, "branches[0].id"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"default_region": "XX"}, "default_region"),
        ({"chunk_size": 51}, "chunk_size"),
        ({"deal_fields": {"ident_id": "UF_CRM_X", "colour": "UF_CRM_Y"}}, "deal_fields.colour"),
        ({"deal_fields": {"ident_id": "uf_crm_x"}}, "deal_fields.ident_id"),
        ({"deal_fields": {"start": "UF_CRM_S"}}, "deal_fields.ident_id"),
        ({"stage_map": {"planned": "NEW"}}, "stage_map.arrived"),
        ({"portal_plan": "free"}, "portal_plan"),
        ({"chunk_sise": 20}, "chunk_sise"),
    ],
)
def test_errors_name_the_bad_key(patch, key):
    with pytest.raises(ConfigError) as err:
        SyncConfig.from_dict({**BASE, **patch})
    assert str(err.value).startswith(key + ":"), str(err.value)


def test_from_json_rejects_garbage():
    with pytest.raises(ConfigError, match="not valid JSON"):
        SyncConfig.from_json("{nope")
    assert SyncConfig.from_json(json.dumps(BASE)).branches[0].name == "Main"


@pytest.mark.parametrize("patch, key", [
    ({"schedule": "every half hour"}, "schedule"),
    ({"reconcile_schedule": "0 25 * * *"}, "reconcile_schedule"),
    ({"start_date": "2026-13-01"}, "start_date"),
    ({"chunk_size": 19}, "chunk_size"),
    ({"alerts": {"notifier": "smtp"}}, "alerts.to"),
])
def test_cron_dates_bounds_and_alerts_are_validated(patch, key):
    with pytest.raises(ConfigError) as err:
        SyncConfig.from_dict({**BASE, **patch})
    assert str(err.value).startswith(key + ":"), str(err.value)


def test_a_branch_setting_error_names_the_key_and_the_branch():
    raw = {"branches": [{"id": 1, "name": "Main"},
                        {"id": 2, "name": "North", "category_id": -1}]}
    with pytest.raises(ConfigError) as err:
        SyncConfig.from_dict(raw)
    assert str(err.value).startswith("branches[1].category_id:")
    assert "(branch 2 North)" in str(err.value)


def test_a_branch_may_have_its_own_pipeline_and_schedule():
    cfg = SyncConfig.from_dict({"branches": [
        {"id": 1, "name": "Main"},
        {"id": 2, "name": "North", "category_id": 3, "schedule": "0 * * * *"}]})
    north = cfg.for_branch(2)
    assert (north.category_id, north.schedule, north.stage_code("NEW")) == \
        (3, "0 * * * *", "C3:NEW")
    assert cfg.for_branch(1).category_id == 0
    assert cfg.branch_of_pipeline("ident_to_bitrix24_branch_2_deleted") == 2
