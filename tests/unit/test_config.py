import json

import pytest

from identsync.config import ConfigError, ConfigProblems, SyncConfig

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
    assert any(p.startswith(key + ":") for p in err.value.problems), str(err.value)


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


# -- every problem at once, the file named, "did you mean", $schema (issue 21, 8) --------------

def _problems(raw, source=None):
    with pytest.raises(ConfigProblems) as err:
        SyncConfig.from_dict(raw, source=source)
    return err.value


def test_every_problem_is_reported_at_once_not_only_the_first():
    err = _problems({**BASE, "chunk_size": 5, "timezone": "Mars/Olympus", "retries": -1,
                     "stage_map": {"planned": "NEW"}})
    keys = [p.split(":", 1)[0] for p in err.problems]
    assert {"chunk_size", "timezone", "retries", "stage_map.arrived",
            "stage_map.cancelled"} <= set(keys)
    assert str(err).startswith(f"configuration: {len(err.problems)} problems:\n")
    assert all(f"  - {p}" in str(err) for p in err.problems)


def test_a_file_error_names_the_file_path(tmp_path):
    path = tmp_path / "dags" / "identsync.json"
    path.parent.mkdir()
    path.write_text(json.dumps({**BASE, "chunk_size": 5, "chunk_sise": 20}))
    with pytest.raises(ConfigProblems) as err:
        SyncConfig.from_file(path)
    assert str(err.value).startswith(f"{path}: 2 problems:")
    assert err.value.source == str(path)
    single = tmp_path / "one.json"
    single.write_text(json.dumps({**BASE, "chunk_size": 5}))
    with pytest.raises(ConfigError, match=rf"^{single}: chunk_size: "):
        SyncConfig.from_file(single)


@pytest.mark.parametrize("raw, line", [
    ({**BASE, "chunk_sise": 20}, "chunk_sise: unknown key; did you mean 'chunk_size'?"),
    ({"branches": [{"id": 1, "name": "Main", "categroy_id": 2}]},
     "branches[0].categroy_id: unknown key; did you mean 'category_id'? (branch 1 Main)"),
    ({**BASE, "alerts": {"notifer": "smtp", "to": ["a@b.c"]}},
     "alerts.notifer: unknown key; did you mean 'notifier'?"),
    ({**BASE, "deal_fields": {"ident_id": "UF_CRM_X", "doctr": "UF_CRM_D"}},
     "deal_fields.doctr: unknown logical field; did you mean 'doctor'?"),
    ({**BASE, "stage_map": {**SyncConfig.from_dict(BASE).stage_map, "canceled": "LOSE"}},
     "stage_map.canceled: unknown status; did you mean 'cancelled'?"),
])
def test_unknown_keys_get_a_did_you_mean(raw, line):
    assert line in _problems(raw).problems


def test_an_unknown_key_like_no_other_lists_what_is_allowed():
    (line,) = _problems({"branches": [{"id": 1, "name": "Main", "zzz": 1}]}).problems
    assert "allowed: id, name, category_id" in line


def test_schema_key_for_editors_is_accepted_and_ignored():
    cfg = SyncConfig.from_dict({"$schema": "../docs/identsync.schema.json",
                                "$comment": "a note", **BASE})
    assert cfg == SyncConfig.from_dict(BASE)


def test_the_json_schema_accepts_the_schema_key():
    import jsonschema

    from tools import config_schema

    schema = json.loads(config_schema.SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate({"$schema": "../docs/identsync.schema.json", **BASE}, schema)


def test_load_config_names_the_file_it_read(tmp_path, monkeypatch):
    from identsync import settings

    path = tmp_path / "identsync.json"
    path.write_text(json.dumps({**BASE, "retries": -1, "chunk_sise": 20}))
    monkeypatch.setenv("IDENTSYNC_CONFIG", str(path))
    with pytest.raises(ConfigError) as err:
        settings.load_config()
    assert str(err.value).startswith(f"{path}: 2 problems:")
