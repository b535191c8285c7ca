"""The DAG file's import error lists every configuration problem, with the file's path and a
"did you mean" for typos, as `identsync.config` reports them (issue 21, 8)."""

from __future__ import annotations

import json

from tests.dags.test_dag_integrity import DAGS, _load


def test_import_error_lists_every_problem_with_the_files_path(tmp_path):
    cfg = json.loads((DAGS / "identsync.json").read_text(encoding="utf-8"))
    cfg["$schema"] = "../docs/identsync.schema.json"  # for editors: no problem
    cfg["chunk_size"] = 500
    cfg["chunk_sise"] = 20
    cfg["timezone"] = "Mars/Olympus"
    bad = tmp_path / "identsync.json"
    bad.write_text(json.dumps(cfg), encoding="utf-8")
    out = _load(tmp_path, bad)
    assert out["dags"] == {}
    (err,) = out["errors"].values()
    assert f"{bad}: 3 problems:" in err
    assert "chunk_size: Input should be less than or equal to 50" in err
    assert "chunk_sise: unknown key; did you mean 'chunk_size'?" in err
    assert "timezone: unknown time zone 'Mars/Olympus'" in err
    assert "$schema" not in err
