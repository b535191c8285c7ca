"""The JSON schema and the README's table come from the configuration model, and stay so."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tools import config_schema

ROOT = Path(__file__).resolve().parents[2]


def test_schema_and_readme_table_are_generated_from_the_model():
    assert config_schema.main(["--check"]) == 0


def test_the_shipped_configuration_follows_the_schema():
    schema = json.loads(config_schema.SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(json.loads((ROOT / "dags" / "identsync.json").read_text()), schema)


@pytest.mark.parametrize("bad", [{"chunk_size": 10}, {"branches": []},
                                 {"retries": "three"}, {"alerts": {"notifier": "pager"}}])
def test_the_schema_refuses_what_the_model_refuses(bad):
    schema = json.loads(config_schema.SCHEMA.read_text(encoding="utf-8"))
    doc = {**json.loads((ROOT / "dags" / "identsync.json").read_text()), **bad}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)
